using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Platform.Serialization;

namespace Streaming.Producers;

/// <summary>
/// Produces contract records (Avro, Confluent wire format) with the tracing headers, without awaiting each message:
/// deliveries are counted and the first failure is surfaced by <see cref="FlushAsync"/>, never swallowed.
/// </summary>
public sealed class AvroRecordProducer(IProducer<string, byte[]> producer, ISchemaRegistryClient registry)
{
    private readonly Dictionary<Type, object> _serdes = new();
    private readonly List<Error> _failures = new();
    private long _delivered;

    /// <summary>Records acknowledged by the brokers.</summary>
    public long Delivered => Interlocked.Read(ref _delivered);

    /// <summary>Queues one record; <paramref name="correlationId"/> goes into the <c>correlation-id</c> header.</summary>
    public void Produce<T>(string topic, string key, T value, string correlationId) where T : class, ISpecificRecord
    {
        if (!_serdes.TryGetValue(typeof(T), out var s))
        {
            s = new AvroSerdes<T>(registry);
            _serdes[typeof(T)] = s;
        }

        var bytes = ((AvroSerdes<T>)s).SerializeValue(value, topic);
        producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = bytes, Headers = TracingHeaders.Create(correlationId) }, report =>
        {
            if (report.Error.IsError)
            {
                lock (_failures)
                {
                    _failures.Add(report.Error);
                }
            }
            else
            {
                Interlocked.Increment(ref _delivered);
            }
        });
    }

    /// <summary>Waits for every queued record; throws when any delivery failed or the timeout passed.</summary>
    public Task FlushAsync(TimeSpan timeout, CancellationToken cancellationToken) => Task.Run(() =>
    {
        var left = producer.Flush(timeout);
        lock (_failures)
        {
            if (_failures.Count > 0)
            {
                throw new KafkaException(_failures[0]);
            }
        }

        if (left > 0)
        {
            throw new TimeoutException($"{left} record(s) were still undelivered after {timeout.TotalSeconds:0} s.");
        }
    }, cancellationToken);
}
