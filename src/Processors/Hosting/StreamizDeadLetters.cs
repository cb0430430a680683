using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Stream;
using Streaming.Contracts;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;

namespace Streaming.Processors.Hosting;

/// <summary>
/// Poison records in a Streamiz application go to <c>ops.dlq.v1</c> with their original bytes, headers and
/// coordinates, and processing continues: a record that does not deserialize (via the deserialization handler) and a
/// tombstone on a fact topic (via <see cref="SplitTombstones{TV}"/>). Without this, one bad record stops the stream
/// thread and the whole application.
/// </summary>
public sealed class StreamizDeadLetters(IProducer<string, byte[]> producer, ISchemaRegistryClient registry, string applicationId, ILogger logger)
{
    private readonly AvroSerdes<DeadLetterRecord> _serdes = new(registry);

    // After the handler answers CONTINUE, Streamiz 1.8.2 still forwards the record, with a null value. The topology
    // must not then report it a second time as a tombstone: records already dead-lettered are remembered here until
    // the tombstone splitter has seen them.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(string Topic, int Partition, long Offset), byte> AlreadyDeadLettered = new();

    /// <summary>Installs the deserialization handler on <paramref name="config"/>.</summary>
    public void Install(StreamConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        config.DeserializationExceptionHandler = (_, record, exception) =>
        {
            var letter = Letter(record.Topic, record.Partition.Value, record.Offset.Value, record.Message.Timestamp.UtcDateTime,
                record.Message.Key, record.Message.Value, record.Message.Headers, exception);
            // Waits for the broker's acknowledgement: CONTINUE moves the committed offset past this record, so the
            // dead letter must be durable first.
            producer.ProduceAsync(Topics.DeadLetters, new Message<string, byte[]>
            {
                Key = record.Message.Key is null ? string.Empty : Encoding.UTF8.GetString(record.Message.Key),
                Value = _serdes.SerializeValue(letter, Topics.DeadLetters),
                Headers = record.Message.Headers,
            }).GetAwaiter().GetResult();
            logger.LogError(exception, "Undeserializable record at {Topic}[{Partition}]@{Offset} sent to {Dlq}",
                record.Topic, record.Partition.Value, record.Offset.Value, Topics.DeadLetters);
            AlreadyDeadLettered[(record.Topic, record.Partition.Value, record.Offset.Value)] = 0;
            return ExceptionHandlerResponse.CONTINUE;
        };
    }

    /// <summary>Builds a dead letter.</summary>
    public DeadLetterRecord Letter(string topic, int partition, long offset, DateTime timestamp, byte[]? key, byte[]? value, Headers? headers, Exception error)
        => OpsRecords.DeadLetter(new FailedRecord(topic, partition, offset, key, value, TracingHeaders.ToMap(headers)), timestamp,
            error.GetType().FullName ?? error.GetType().Name, error.Message, applicationId, DateTime.UtcNow);

    /// <summary>
    /// Sends tombstones (null values) of a fact stream to the DLQ and returns the stream without them. A fact topic
    /// has no deletes; a tombstone there is a producer bug that must be seen, not a crash and not a silent skip.
    /// </summary>
    public static IKStream<string, TV> SplitTombstones<TV>(IKStream<string, TV> stream, FinanceMapping.FinanceSerdes serdes, string applicationId, string name)
        where TV : class
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(serdes);
        stream.Filter((key, v, ctx) => v is null && !AlreadyDeadLettered.TryRemove((ctx.Topic, ctx.Partition, ctx.Offset), out var seen), $"{name}-tombstones")
            .Map((key, _, ctx) => KeyValuePair.Create(key ?? string.Empty, OpsRecords.DeadLetter(
                new FailedRecord(ctx.Topic, ctx.Partition, ctx.Offset, FailedRecord.KeyBytes(key), null, TracingHeaders.ToMap(ctx.Headers)),
                DateTimeOffset.FromUnixTimeMilliseconds(ctx.Timestamp).UtcDateTime, "Tombstone",
                $"{ctx.Topic} carries facts; a null value (tombstone) at partition {ctx.Partition}, offset {ctx.Offset} is not one.", applicationId, DateTime.UtcNow)),
                $"{name}-tombstone-letters")
            .ToTopic(Topics.DeadLetters, serdes.Key, serdes.Avro<DeadLetterRecord>(), $"{name}-dlq-sink");
        return stream.Filter((_, v, _) => v is not null, $"{name}-values");
    }
}
