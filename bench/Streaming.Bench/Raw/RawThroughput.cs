using System.Diagnostics;
using Confluent.Kafka;

namespace Streaming.Bench.Raw;

/// <summary>Producer settings of a raw produce measurement; printed with every result so figures are never quoted without them.</summary>
public sealed record RawProducerSettings
{
    /// <summary>librdkafka <c>linger.ms</c>.</summary>
    public double LingerMs { get; init; } = 5;

    /// <summary>librdkafka <c>batch.size</c> in bytes (per partition batch).</summary>
    public int BatchSizeBytes { get; init; } = 1_000_000;

    /// <summary>librdkafka <c>compression.type</c>.</summary>
    public CompressionType Compression { get; init; } = CompressionType.None;

    /// <summary>
    /// True: the harness assigns partitions in round-robin blocks (records [kB, (k+1)B) go to partition k mod P), a deterministic
    /// form of sticky partitioning: batches stay large and no partition gets more than one block above the average.
    /// False: librdkafka's default partitioner (sticky for null keys), which spreads unevenly over a short run.
    /// </summary>
    public bool RoundRobin { get; init; } = true;

    /// <summary>Records per round-robin block (B); 1 means plain per-record round-robin.</summary>
    public int BlockRecords { get; init; } = 10_000;

    /// <summary>One line describing the settings, for output and docs.</summary>
    public string Describe() =>
        $"acks=all, enable.idempotence=true, linger.ms={LingerMs}, batch.size={BatchSizeBytes}, compression={Compression.ToString().ToLowerInvariant()}, " +
        "max.in.flight=5, " +
        (RoundRobin ? $"round-robin partition blocks of {BlockRecords} records" : "librdkafka default partitioner (sticky for null keys)") +
        ", Produce()+delivery handler (no per-message await), then Flush()";
}

/// <summary>Outcome of one timed phase (produce or consume) of a raw throughput run.</summary>
public sealed record PhaseResult(string Phase, long Records, long PayloadBytes, TimeSpan Elapsed, long Failures)
{
    /// <summary>Records per second over the timed interval.</summary>
    public double RecordsPerSecond => Records / Elapsed.TotalSeconds;

    /// <summary>Value payload megabytes (10^6 bytes) per second; keys, headers and protocol overhead are not counted.</summary>
    public double MegabytesPerSecond => PayloadBytes / 1e6 / Elapsed.TotalSeconds;
}

/// <summary>
/// Raw Kafka client throughput with no pipeline code in the way: the baseline every pipeline scenario is divided by.
/// Reusable by later scenarios (pipeline throughput ÷ raw throughput, measured in the same process and run).
/// </summary>
public static class RawThroughput
{
    /// <summary>Consumer <c>fetch.queue.backoff.ms</c> used unless told otherwise (librdkafka's default is 1000).</summary>
    public const int DefaultFetchQueueBackoffMs = 100;

    private static readonly TimeSpan StallTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// Produces <paramref name="records"/> records of <paramref name="recordSize"/> bytes (null key, one shared payload buffer)
    /// with an idempotent producer. Timed from the first Produce call to the end of Flush, i.e. until every delivery report
    /// arrived. Throws if any delivery failed.
    /// </summary>
    public static Task<PhaseResult> MeasureProduceAsync(
        string bootstrapServers, string topic, int partitions, long records, int recordSize, RawProducerSettings settings,
        Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(records, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(recordSize, 0);
        ArgumentOutOfRangeException.ThrowIfLessThan(partitions, 1);
        // The produce loop is synchronous by design (Produce never blocks except on a full local queue), so it gets its own thread.
        return Task.Factory.StartNew(
            () => Produce(bootstrapServers, topic, partitions, records, recordSize, settings, progress, cancellationToken),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static PhaseResult Produce(
        string bootstrapServers, string topic, int partitions, long records, int recordSize, RawProducerSettings settings,
        Action<long>? progress, CancellationToken cancellationToken)
    {
        var config = new ProducerConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = "streaming-bench-raw-producer",
            Acks = Acks.All,
            EnableIdempotence = true,
            MaxInFlight = 5,
            LingerMs = settings.LingerMs,
            BatchSize = settings.BatchSizeBytes,
            CompressionType = settings.Compression,
            QueueBufferingMaxMessages = 1_000_000,
            // Delivery reports carry only status and error: copying key/value/headers back would measure the report, not Kafka.
            DeliveryReportFields = "status",
        };

        long delivered = 0;
        long failed = 0;
        Error? firstError = null;
        var payload = new byte[recordSize];
        Random.Shared.NextBytes(payload);
        var message = new Message<Null, byte[]> { Value = payload };
        var targets = Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, new Partition(p))).ToArray();
        var anyPartition = new TopicPartition(topic, Partition.Any);

        using var producer = new ProducerBuilder<Null, byte[]>(config)
            .SetLogHandler((_, m) => { if (m.Level <= SyslogLevel.Warning) { Console.Error.WriteLine($"  [producer {m.Level}] {m.Message}"); } })
            .SetErrorHandler((_, e) => { if (e.IsFatal) { Console.Error.WriteLine($"  [producer FATAL] {e.Reason}"); } })
            .Build();

        void OnDelivery(DeliveryReport<Null, byte[]> report)
        {
            if (report.Error.IsError)
            {
                Interlocked.CompareExchange(ref firstError, report.Error, null);
                Interlocked.Increment(ref failed);
            }
            else
            {
                Interlocked.Increment(ref delivered);
            }
        }

        using var ticker = progress is null ? null : new Timer(_ => progress(Interlocked.Read(ref delivered)), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var stopwatch = Stopwatch.StartNew();
        for (long i = 0; i < records; i++)
        {
            while (true)
            {
                try
                {
                    producer.Produce(settings.RoundRobin ? targets[i / settings.BlockRecords % partitions] : anyPartition, message, OnDelivery);
                    break;
                }
                catch (ProduceException<Null, byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    // Back-pressure from librdkafka's local queue: serve delivery reports, then retry the same record.
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                    cancellationToken.ThrowIfCancellationRequested();
                }
            }
        }

        var deadline = Stopwatch.StartNew();
        while (producer.Flush(TimeSpan.FromSeconds(1)) > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (deadline.Elapsed > StallTimeout)
            {
                throw new TimeoutException($"Flush did not complete within {StallTimeout.TotalSeconds:0}s; delivered {delivered:N0}, failed {failed:N0} of {records:N0}.");
            }
        }

        stopwatch.Stop();
        if (failed > 0 || delivered != records)
        {
            throw new InvalidOperationException(
                $"Produce to '{topic}': {delivered:N0} delivered, {failed:N0} failed of {records:N0} sent. First error: {firstError?.Code} {firstError?.Reason}");
        }

        return new PhaseResult("produce", delivered, delivered * (long)recordSize, stopwatch.Elapsed, failed);
    }

    /// <summary>
    /// Consumes <paramref name="expectedRecords"/> records from <paramref name="topic"/> with a fresh consumer group from the
    /// earliest offset. Timed from the first record received (group join and first fetch excluded) to the last expected one.
    /// Throws if the topic does not hold exactly the expected number of records, or if consumption stalls.
    /// </summary>
    public static Task<PhaseResult> MeasureConsumeAsync(
        string bootstrapServers, string topic, long expectedRecords, int fetchQueueBackoffMs = DefaultFetchQueueBackoffMs,
        Action<long>? progress = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(expectedRecords, 1);
        return Task.Factory.StartNew(
            () => Consume(bootstrapServers, topic, expectedRecords, fetchQueueBackoffMs, progress, cancellationToken),
            cancellationToken, TaskCreationOptions.LongRunning, TaskScheduler.Default);
    }

    private static PhaseResult Consume(
        string bootstrapServers, string topic, long expectedRecords, int fetchQueueBackoffMs, Action<long>? progress, CancellationToken cancellationToken)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = bootstrapServers,
            ClientId = "streaming-bench-raw-consumer",
            GroupId = $"streaming-bench-raw-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
            EnablePartitionEof = false,
            // librdkafka's default (1000 ms) idles a partition's fetcher for a second whenever its local queue is over threshold;
            // on this workload that cut consume throughput to ~150k records/s. 100 ms measured ~6x faster.
            FetchQueueBackoffMs = fetchQueueBackoffMs,
        };

        using var consumer = new ConsumerBuilder<Ignore, byte[]>(config)
            .SetLogHandler((_, m) => { if (m.Level <= SyslogLevel.Warning) { Console.Error.WriteLine($"  [consumer {m.Level}] {m.Message}"); } })
            .Build();

        var available = CountAvailable(consumer, bootstrapServers, topic);
        if (available != expectedRecords)
        {
            throw new InvalidOperationException(
                $"Topic '{topic}' holds {available:N0} records between its low and high watermarks, expected {expectedRecords:N0}: the broker dropped or duplicated data.");
        }

        consumer.Subscribe(topic);
        long consumed = 0;
        long bytes = 0;
        using var ticker = progress is null ? null : new Timer(_ => progress(Interlocked.Read(ref consumed)), null, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1));
        var stopwatch = new Stopwatch();
        var lastProgress = Stopwatch.StartNew();
        while (consumed < expectedRecords)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (result is null)
            {
                if (lastProgress.Elapsed > StallTimeout)
                {
                    throw new TimeoutException($"Consume from '{topic}' stalled for {StallTimeout.TotalSeconds:0}s at {consumed:N0} of {expectedRecords:N0} records.");
                }

                continue;
            }

            if (consumed == 0)
            {
                stopwatch.Start();
            }

            Interlocked.Increment(ref consumed);
            bytes += result.Message.Value?.Length ?? 0;
            lastProgress.Restart();
        }

        stopwatch.Stop();
        // Anything beyond the expected count would mean duplicates; give the fetcher a moment to show them.
        var extra = consumer.Consume(TimeSpan.FromMilliseconds(200));
        consumer.Close();
        if (extra is not null || consumed != expectedRecords)
        {
            throw new InvalidOperationException($"Consumed more than the {expectedRecords:N0} records produced to '{topic}'.");
        }

        return new PhaseResult("consume", consumed, bytes, stopwatch.Elapsed, 0);
    }

    private static long CountAvailable(IConsumer<Ignore, byte[]> consumer, string bootstrapServers, string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrapServers }).Build();
        var metadata = admin.GetMetadata(topic, TimeSpan.FromSeconds(10));
        var partitions = metadata.Topics.Single(t => t.Topic == topic).Partitions;
        var watermarks = partitions
            .OrderBy(p => p.PartitionId)
            .Select(p => (p.PartitionId, Offsets: consumer.QueryWatermarkOffsets(new TopicPartition(topic, p.PartitionId), TimeSpan.FromSeconds(10))))
            .ToList();
        var truncated = watermarks.Where(w => w.Offsets.Low.Value != 0).ToList();
        if (truncated.Count > 0)
        {
            throw new InvalidOperationException(
                $"Topic '{topic}': {truncated.Count} of {watermarks.Count} partitions no longer start at offset 0 — the broker dropped the oldest data " +
                "(retention limit). Low..high per partition: " + string.Join(", ", watermarks.Select(w => $"{w.PartitionId}:{w.Offsets.Low.Value}..{w.Offsets.High.Value}")));
        }

        return watermarks.Sum(w => w.Offsets.High.Value - w.Offsets.Low.Value);
    }
}
