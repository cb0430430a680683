using System.Collections.Concurrent;
using System.Text;
using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Platform.Serialization;

namespace Streaming.Producers.Edge;

/// <summary>What one write did: records acknowledged by Kafka, and records dropped as duplicates of ones already stored.</summary>
public sealed record EdgeWriteResult(int Produced, int Duplicates);

/// <summary>Kafka did not acknowledge every record of a request (broker down, timeout): the caller must answer 503 so the sender retries.</summary>
public sealed class EdgeUnavailableException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// Writes connector records to Kafka and returns only once the brokers acknowledged each one (delivery report), dropping
/// records whose (event id, topic, key) it has already stored.
/// <para>
/// The duplicate guarantee, honestly: within one process, a redelivery of an event whose records were acknowledged, or that
/// arrives while the first delivery is still in flight, produces nothing. Across restarts, the filter is seeded from the
/// <c>event-id</c> header of the newest <see cref="Connectors.ConnectorOptions.DedupeSeedPerPartition"/> records of each
/// connector topic, so redeliveries of recent events are still dropped; older ones (beyond the window or the
/// <see cref="Connectors.ConnectorOptions.DedupeCapacity"/> entries kept) would be produced again, and the downstream
/// stages are idempotent by posting key for exactly that case. A record acknowledged by Kafka whose HTTP answer was lost is
/// the same case: the redelivery finds it in the filter.
/// </para>
/// </summary>
public sealed class ConnectorRecordWriter
{
    /// <summary>Header carrying the vendor event id (the dedupe key's first part, read back when seeding).</summary>
    public const string EventIdHeader = "event-id";

    private readonly IProducer<string, byte[]> _producer;
    private readonly ISchemaRegistryClient _registry;
    private readonly SeenSet _seen;
    private readonly ConcurrentDictionary<string, TaskCompletionSource<bool>> _inFlight = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<Type, Func<ISpecificRecord, string, Task<byte[]>>> _serializers = new();
    private readonly ILogger _log;
    private long _lastFailureTicks;
    private long _lastSuccessTicks;

    /// <summary>Creates a writer over a producer configured idempotent with <c>acks=all</c>.</summary>
    public ConnectorRecordWriter(IProducer<string, byte[]> producer, ISchemaRegistryClient registry, int dedupeCapacity, ILogger? log = null)
    {
        _producer = producer;
        _registry = registry;
        _seen = new SeenSet(dedupeCapacity);
        _log = log ?? NullLogger.Instance;
    }

    /// <summary>Entries in the duplicate filter.</summary>
    public int Remembered => _seen.Count;

    /// <summary>
    /// True when a delivery failed in the last <see cref="FailingWindow"/> and none has succeeded since (readiness). Bounded in
    /// time so an instance taken out of rotation after an outage comes back without needing traffic to prove itself.
    /// </summary>
    public bool Failing
    {
        get
        {
            var failure = Interlocked.Read(ref _lastFailureTicks);
            return failure > Interlocked.Read(ref _lastSuccessTicks) && DateTime.UtcNow.Ticks - failure < FailingWindow.Ticks;
        }
    }

    /// <summary>How long a failed delivery keeps <see cref="Failing"/> true.</summary>
    public static TimeSpan FailingWindow { get; } = TimeSpan.FromSeconds(30);

    /// <summary>Produces every record of <paramref name="batch"/> not yet stored and waits for Kafka to acknowledge them.</summary>
    /// <exception cref="EdgeUnavailableException">A record was not acknowledged; those that were are remembered, so a retry adds only the rest.</exception>
    public async Task<EdgeWriteResult> WriteAsync(EdgeBatch batch, string? traceParent, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(batch);
        ct.ThrowIfCancellationRequested();
        var pending = new List<(EdgeRecord Record, TaskCompletionSource<bool> Done)>();
        var waits = new List<Task<bool>>();
        var duplicates = 0;
        foreach (var record in batch.Records)
        {
            var key = record.DedupeKey;
            if (_seen.Contains(key))
            {
                duplicates++;
                continue;
            }

            var mine = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
            var owner = _inFlight.GetOrAdd(key, mine);
            if (!ReferenceEquals(owner, mine))
            {
                // The same record is being stored by a concurrent delivery: this one succeeds only if that one does.
                duplicates++;
                waits.Add(owner.Task);
                continue;
            }

            if (_seen.Contains(key))
            {
                // Stored between the first check and the claim.
                _inFlight.TryRemove(key, out _);
                mine.TrySetResult(true);
                duplicates++;
                continue;
            }

            pending.Add((record, mine));
        }

        // Serialize everything first, then produce in order: records of one key (a Salesforce CREATE then its UPDATE) must
        // reach their partition in the order the connector made them.
        var values = new byte[pending.Count][];
        try
        {
            for (var i = 0; i < pending.Count; i++)
            {
                values[i] = await Serialize(pending[i].Record).ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is System.Net.Http.HttpRequestException or SchemaRegistryException or Avro.AvroException or InvalidOperationException or ArgumentException)
        {
            // The registry unreachable or a value not serializable: nothing of this batch was stored, the sender must retry.
            foreach (var (record, done) in pending)
            {
                _inFlight.TryRemove(record.DedupeKey, out _);
                done.TrySetResult(false);
            }

            Interlocked.Exchange(ref _lastFailureTicks, DateTime.UtcNow.Ticks);
            throw new EdgeUnavailableException($"serializing failed: {ex.GetType().Name}: {ex.Message}", ex);
        }

        var reports = new List<Task<DeliveryResult<string, byte[]>?>>(pending.Count);
        for (var i = 0; i < pending.Count; i++)
        {
            reports.Add(ProduceOne(pending[i].Record, values[i], traceParent));
        }

        Exception? failure = null;
        for (var i = 0; i < pending.Count; i++)
        {
            var (record, done) = pending[i];
            var ok = false;
            try
            {
                // Not cancelled with the request: the delivery report always comes (within message.timeout.ms), and a record
                // Kafka stored must be remembered even when the caller has gone, or its redelivery would be stored again.
                var result = await reports[i].ConfigureAwait(false);
                ok = result is not null;
            }
            catch (EdgeUnavailableException ex)
            {
                failure ??= ex;
            }

            if (ok)
            {
                _seen.Add(record.DedupeKey);
            }

            _inFlight.TryRemove(record.DedupeKey, out _);
            done.TrySetResult(ok);
        }

        foreach (var wait in waits)
        {
            if (!await wait.ConfigureAwait(false))
            {
                failure ??= new EdgeUnavailableException("A concurrent delivery of the same event was not acknowledged by Kafka.");
            }
        }

        if (failure is not null)
        {
            Interlocked.Exchange(ref _lastFailureTicks, DateTime.UtcNow.Ticks);
            throw failure as EdgeUnavailableException
                ?? new EdgeUnavailableException($"Kafka did not acknowledge the records ({Describe(failure)}).", failure);
        }

        if (pending.Count > 0)
        {
            Interlocked.Exchange(ref _lastSuccessTicks, DateTime.UtcNow.Ticks);
        }

        return new EdgeWriteResult(pending.Count, duplicates);
    }

    private Task<DeliveryResult<string, byte[]>?> ProduceOne(EdgeRecord record, byte[] value, string? traceParent)
    {
        var done = new TaskCompletionSource<DeliveryResult<string, byte[]>?>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            var headers = TracingHeaders.Create(record.CorrelationId, traceParent);
            headers.Add(EventIdHeader, Encoding.UTF8.GetBytes(record.EventId));
            var message = new Message<string, byte[]> { Key = record.Key, Value = value, Headers = headers };
            _producer.Produce(record.Topic, message, report =>
            {
                if (report.Error.IsError)
                {
                    done.TrySetException(new EdgeUnavailableException($"delivery to {record.Topic} failed: {report.Error.Code} {report.Error.Reason}"));
                }
                else
                {
                    done.TrySetResult(report);
                }
            });
        }
        catch (KafkaException ex)
        {
            done.TrySetException(new EdgeUnavailableException($"produce to {record.Topic} failed: {ex.Error.Code} {ex.Error.Reason}", ex));
        }

        return done.Task;
    }

    /// <summary>
    /// Serializes with the Confluent Avro serializer (same settings as <see cref="AvroSerdes{T}"/>: no auto-registration, the
    /// class's own schema id) through its asynchronous API, so a registry lookup never blocks a request thread.
    /// </summary>
    private Task<byte[]> Serialize(EdgeRecord record)
    {
        var serialize = _serializers.GetOrAdd(record.Value.GetType(), type =>
        {
            var serializerType = typeof(AvroSerializer<>).MakeGenericType(type);
            var serializer = Activator.CreateInstance(serializerType, _registry, new AvroSerializerConfig { AutoRegisterSchemas = false, UseLatestVersion = false }, null)!;
            var method = serializerType.GetMethod(nameof(AvroSerializer<ISpecificRecord>.SerializeAsync))!;
            return (value, topic) => (Task<byte[]>)method.Invoke(serializer, [value, new SerializationContext(MessageComponentType.Value, topic)])!;
        });
        try
        {
            return serialize(record.Value, record.Topic);
        }
        catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(ex.InnerException);
            throw;
        }
    }

    /// <summary>
    /// Seeds the duplicate filter from the <c>event-id</c> header and key of the newest <paramref name="perPartition"/> records of
    /// each partition of <paramref name="topics"/> (only headers and keys are read; values are not deserialized).
    /// </summary>
    /// <returns>How many entries were added.</returns>
    public async Task<int> SeedAsync(ConsumerConfig consumerConfig, IReadOnlyCollection<string> topics, int perPartition, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(consumerConfig);
        if (perPartition <= 0 || topics.Count == 0)
        {
            return 0;
        }

        return await Task.Run(() =>
        {
            var config = new ConsumerConfig(consumerConfig.ToDictionary(k => k.Key, v => v.Value))
            {
                GroupId = "streaming-connectors-dedupe-seed",
                EnableAutoCommit = false,
                EnablePartitionEof = true,
            };
            using var consumer = new ConsumerBuilder<string, byte[]>(config).Build();
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var metadata = admin.GetMetadata(timeout);
            var assignment = new List<TopicPartitionOffset>();
            foreach (var topic in metadata.Topics.Where(t => topics.Contains(t.Topic) && !t.Error.IsError))
            {
                foreach (var partition in topic.Partitions)
                {
                    var tp = new TopicPartition(topic.Topic, partition.PartitionId);
                    var marks = consumer.QueryWatermarkOffsets(tp, timeout);
                    if (marks.High.Value > marks.Low.Value)
                    {
                        assignment.Add(new TopicPartitionOffset(tp, Math.Max(marks.Low.Value, marks.High.Value - perPartition)));
                    }
                }
            }

            if (assignment.Count == 0)
            {
                return 0;
            }

            consumer.Assign(assignment);
            var open = assignment.Select(a => a.TopicPartition).ToHashSet();
            var added = 0;
            var deadline = DateTime.UtcNow + timeout;
            while (open.Count > 0 && DateTime.UtcNow < deadline && !ct.IsCancellationRequested)
            {
                var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (result is null)
                {
                    continue;
                }

                if (result.IsPartitionEOF)
                {
                    open.Remove(result.TopicPartition);
                    continue;
                }

                if (TracingHeaders.Get(result.Message.Headers, EventIdHeader) is { } eventId && result.Message.Key is { } key
                    && _seen.Add($"{eventId}|{result.Topic}|{key}"))
                {
                    added++;
                }
            }

            if (open.Count > 0)
            {
                _log.LogWarning("Duplicate filter seeding stopped before the end of {Count} partition(s); redeliveries of their latest events may be produced again", open.Count);
            }

            consumer.Close();
            return added;
        }, ct).ConfigureAwait(false);
    }

    private static string Describe(Exception ex) => ex switch
    {
        ProduceException<string, byte[]> p => $"{p.Error.Code}: {p.Error.Reason}",
        KafkaException k => $"{k.Error.Code}: {k.Error.Reason}",
        OperationCanceledException => "cancelled",
        _ => ex.Message,
    };
}
