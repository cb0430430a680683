using System.Diagnostics;
using System.Text;
using Confluent.Kafka;
using Streaming.Bench.Harness;
using Streaming.Bench.Raw;
using Streaming.Producers.Usage;

namespace Streaming.Bench.Usage;

/// <summary>
/// Where the library path's time goes, as a ladder of produce loops measured in one run on fresh topics: each step adds
/// one thing the usage path does (key, tracing headers, per-record encoding) or changes one producer setting, so the
/// step-to-step ratios show what each costs. Not a pass/fail benchmark: a profiling aid (<c>usage --breakdown</c>).
/// </summary>
public static class UsageBreakdown
{
    /// <summary>One step of the ladder.</summary>
    /// <param name="Name">What the step does.</param>
    /// <param name="Keyed">Key by subscription item (librdkafka partitioner) instead of round-robin blocks with a null key.</param>
    /// <param name="Headers">Put the correlation-id + traceparent headers on every record.</param>
    /// <param name="Encode">Build and encode each record (as <c>UsageIngestor.TryEnqueue</c> does) instead of reusing one value.</param>
    /// <param name="LingerMs">librdkafka <c>linger.ms</c>.</param>
    /// <param name="Partitioner">librdkafka <c>partitioner</c>, null for its default.</param>
    /// <param name="InlinePoll">
    /// Serve delivery reports on the producing thread (every 64 records, as <c>UsageIngestor</c> does) instead of on
    /// Confluent's background poll thread.
    /// </param>
    public sealed record Step(string Name, bool Keyed, bool Headers, bool Encode, double LingerMs, Partitioner? Partitioner = null, bool InlinePoll = false);

    /// <summary>The ladder measured by <c>usage --breakdown</c>.</summary>
    public static IReadOnlyList<Step> Ladder(RawProducerSettings raw) =>
    [
        new("null key, round-robin blocks", false, false, false, raw.LingerMs),
        new("+ key (default partitioner)", true, false, false, raw.LingerMs),
        new("+ key, murmur2_random", true, false, false, raw.LingerMs, Confluent.Kafka.Partitioner.Murmur2Random),
        new("+ key + 2 headers", true, true, false, raw.LingerMs),
        new("+ key + 2 headers + encode", true, true, true, raw.LingerMs),
        new("+ key + 2 headers + encode, inline reports", true, true, true, raw.LingerMs, InlinePoll: true),
        new("+ key + 2 headers + encode, linger 25", true, true, true, 25),
    ];

    /// <summary>Runs the ladder, printing records/s and the ratio to the first step.</summary>
    public static async Task RunAsync(BenchBroker broker, RawProducerSettings raw, long records, int partitions, string runId, CancellationToken ct)
    {
        var encoder = new UsageAvroEncoder(1);
        var items = UsageThroughput.Items(1000);
        var keys = items.Select(Encoding.UTF8.GetBytes).ToArray();
        var attributes = new Dictionary<string, string> { ["region"] = "eu-west-1", ["plan"] = "pro" };
        var value = encoder.Encode(UsageThroughput.Record(0, items, attributes));
        var headers = Streaming.Platform.Serialization.TracingHeaders.Create("bench-breakdown", Streaming.Platform.Serialization.TracingHeaders.NewTraceParent());
        double? first = null;
        double? firstCpu = null;
        var n = 0;
        foreach (var step in Ladder(raw))
        {
            var topic = $"bench.usage-breakdown.{runId}.{n++}";
            await broker.CreateTopicAsync(topic, partitions).ConfigureAwait(false);
            var cpu = Process.GetCurrentProcess().TotalProcessorTime;
            var elapsed = await Task.Factory.StartNew(() => Produce(broker.BootstrapServers, topic, partitions, records, raw, step, encoder, items, keys, attributes, value, headers, ct),
                ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
            // CPU per record (every thread of the process, the in-process broker's included) is far less sensitive to other
            // load on the machine than records/s, which only shows the share of the cores this process was given.
            var cpuPerRecord = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds / records;
            var rate = records / elapsed.TotalSeconds;
            first ??= rate;
            firstCpu ??= cpuPerRecord;
            Console.WriteLine($"  {step.Name,-44} {rate,11:N0} rec/s ({rate / first.Value,5:P0})   CPU {cpuPerRecord,5:N2} µs/record ({cpuPerRecord / firstCpu.Value,4:N2}x)");
        }
    }

    private static TimeSpan Produce(string bootstrap, string topic, int partitions, long records, RawProducerSettings raw, Step step, UsageAvroEncoder encoder,
        string[] items, byte[][] keys, IReadOnlyDictionary<string, string> attributes, byte[] value, Headers headers, CancellationToken ct)
    {
        var config = UsageThroughput.ProducerConfig(bootstrap, raw with { LingerMs = step.LingerMs }, "streaming-bench-usage-breakdown");
        config.DeliveryReportFields = "status";
        config.Partitioner = step.Partitioner;
        config.Set("dotnet.producer.enable.background.poll", step.InlinePoll ? "false" : "true");
        long failed = 0;
        using var producer = new ProducerBuilder<byte[], byte[]>(config).Build();
        void OnDelivery(DeliveryReport<byte[], byte[]> r)
        {
            if (r.Error.IsError)
            {
                Interlocked.Increment(ref failed);
            }
        }

        var targets = Enumerable.Range(0, partitions).Select(p => new TopicPartition(topic, new Partition(p))).ToArray();
        var any = new TopicPartition(topic, Partition.Any);
        var clock = Stopwatch.StartNew();
        for (long i = 0; i < records; i++)
        {
            var message = new Message<byte[], byte[]> { Key = step.Keyed ? keys[i % keys.Length] : null!, Value = value, Headers = step.Headers ? headers : null };
            if (step.Encode)
            {
                var record = UsageThroughput.Record(i, items, attributes);
                UsageIngestor.Validate(record);
                message.Value = encoder.Encode(record);
                message.Key = Encoding.UTF8.GetBytes(record.SubscriptionItemId);
            }

            while (true)
            {
                try
                {
                    producer.Produce(step.Keyed ? any : targets[i / raw.BlockRecords % partitions], message, OnDelivery);
                    if (step.InlinePoll && (i & 63) == 0)
                    {
                        producer.Poll(TimeSpan.Zero);
                    }

                    break;
                }
                catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
                {
                    producer.Poll(TimeSpan.FromMilliseconds(10));
                    ct.ThrowIfCancellationRequested();
                }
            }
        }

        while (producer.Flush(TimeSpan.FromSeconds(1)) > 0)
        {
            ct.ThrowIfCancellationRequested();
        }

        clock.Stop();
        if (failed > 0)
        {
            throw new InvalidOperationException($"Breakdown step '{step.Name}': {failed:N0} deliveries failed.");
        }

        return clock.Elapsed;
    }
}
