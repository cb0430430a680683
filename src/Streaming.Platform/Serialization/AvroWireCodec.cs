using System.Collections.Concurrent;
using Avro.Specific;
using Confluent.SchemaRegistry;

namespace Streaming.Platform.Serialization;

/// <summary>
/// Fast Confluent wire-format Avro for a generated contract class: magic byte 0, the big-endian 4-byte schema id, then the
/// Avro binary body. It writes byte for byte what Confluent's <c>AvroSerializer</c> writes (auto-registration off, the class's
/// own schema looked up under the topic's value subject) and reads what its <c>AvroDeserializer</c> reads, without that
/// serializer's per-record async and cache plumbing; the body is encoded and decoded by <see cref="ContractAvro{T}"/>
/// (compiled codecs for the contract's own schema, Avro's pre-resolving reader for any other writer schema). The registry is
/// asked once per subject (writing) and once per writer schema id (reading); the lookups are cached for the codec's
/// lifetime. Thread-safe.
/// </summary>
public sealed class AvroWireCodec<T>
    where T : class, ISpecificRecord
{
    private readonly ISchemaRegistryClient _registry;
    private readonly ConcurrentDictionary<string, byte[]> _headerByTopic = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, Func<byte[], T>> _readerById = new();

    /// <summary>Creates a codec over a registry client (not disposed here).</summary>
    public AvroWireCodec(ISchemaRegistryClient registry) => _registry = registry ?? throw new ArgumentNullException(nameof(registry));

    /// <summary>
    /// Serializes <paramref name="data"/> framed with the id under which <typeparamref name="T"/>'s schema is registered in
    /// <paramref name="topic"/>'s value subject. Throws <see cref="InvalidOperationException"/> naming the subject when it is not registered there.
    /// </summary>
    public byte[] SerializeValue(T data, string topic)
    {
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(topic);
        return ContractAvro<T>.Write(data, _headerByTopic.GetOrAdd(topic, LookUpHeader));
    }

    /// <summary>
    /// Reads one framed value. The writer schema comes from the registry by the id in the frame (once per id) and is resolved
    /// against <typeparamref name="T"/>'s schema, so values written with an older compatible schema read as today's class.
    /// Throws <see cref="InvalidDataException"/> naming the topic for bytes that are not Confluent-framed Avro.
    /// </summary>
    public T DeserializeValue(byte[] data, string topic)
        => _readerById.GetOrAdd(ContractAvro<T>.SchemaId(data, topic), ReaderFor)(data);

    private byte[] LookUpHeader(string topic)
    {
        var subject = topic + "-value"; // Confluent's default TopicNameStrategy, as AvroSerializer uses
        try
        {
            return ContractAvro<T>.Header(_registry.LookupSchemaAsync(subject, new Schema(ContractAvro<T>.SchemaJson, SchemaType.Avro), ignoreDeletedSchemas: true, normalize: false)
                .GetAwaiter().GetResult().Id);
        }
        catch (Exception ex) when (ex is SchemaRegistryException or HttpRequestException)
        {
            throw new InvalidOperationException($"{typeof(T).Name}: its schema is not registered under subject '{subject}' ({ex.Message})", ex);
        }
    }

    private Func<byte[], T> ReaderFor(int id)
    {
        var writer = _registry.GetSchemaAsync(id).GetAwaiter().GetResult();
        return writer.SchemaType == SchemaType.Avro
            ? ContractAvro<T>.ReaderFor(Avro.Schema.Parse(writer.SchemaString))
            : throw new InvalidDataException($"{typeof(T).Name}: schema id {id} is {writer.SchemaType}, not Avro");
    }
}
