using System.Buffers.Binary;
using System.Collections.Concurrent;
using Avro.IO;
using Avro.Specific;
using Confluent.SchemaRegistry;

namespace Streaming.Platform.Serialization;

/// <summary>
/// Fast Confluent wire-format Avro for a generated contract class: magic byte 0, the big-endian 4-byte schema id, then the
/// Avro binary body. It writes byte for byte what Confluent's <c>AvroSerializer</c> writes (auto-registration off, the class's
/// own schema looked up under the topic's value subject) and reads what its <c>AvroDeserializer</c> reads, without that
/// serializer's per-record async and cache plumbing, and with Avro's pre-resolving <see cref="SpecificDatumReader{T}"/> /
/// <see cref="SpecificDatumWriter{T}"/> (the writer/reader schema resolution is planned once per schema pair, not per record). The registry is asked once per subject (writing) and once per writer
/// schema id (reading); the lookups are cached for the codec's lifetime. Thread-safe.
/// </summary>
public sealed class AvroWireCodec<T>
    where T : class, ISpecificRecord
{
    private const byte MagicByte = 0;
    private const int HeaderLength = 5;
    private static readonly Avro.Schema ReaderSchema = Activator.CreateInstance<T>().Schema;
    private static readonly string ReaderSchemaJson = ReaderSchema.ToString();

    private readonly ISchemaRegistryClient _registry;
    private readonly SpecificDatumWriter<T> _writer = new(ReaderSchema);
    private readonly ConcurrentDictionary<string, int> _idByTopic = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, SpecificDatumReader<T>> _readerById = new();

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
        var id = _idByTopic.GetOrAdd(topic, LookUpId);
        using var stream = new MemoryStream(256);
        Span<byte> header = stackalloc byte[HeaderLength];
        header[0] = MagicByte;
        BinaryPrimitives.WriteInt32BigEndian(header[1..], id);
        stream.Write(header);
        _writer.Write(data, new BinaryEncoder(stream));
        return stream.ToArray();
    }

    /// <summary>
    /// Reads one framed value. The writer schema comes from the registry by the id in the frame (once per id) and is resolved
    /// against <typeparamref name="T"/>'s schema, so values written with an older compatible schema read as today's class.
    /// Throws <see cref="InvalidDataException"/> naming the topic for bytes that are not Confluent-framed Avro.
    /// </summary>
    public T DeserializeValue(byte[] data, string topic)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (data.Length < HeaderLength || data[0] != MagicByte)
        {
            throw new InvalidDataException(
                $"{typeof(T).Name} from {topic}: not Confluent-framed Avro ({(data.Length < HeaderLength ? $"{data.Length} bytes" : $"magic byte {data[0]}")}; expected magic byte 0 and a 4-byte schema id)");
        }

        var reader = _readerById.GetOrAdd(BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(1, 4)), ReaderFor);
        using var stream = new MemoryStream(data, HeaderLength, data.Length - HeaderLength, writable: false);
        return reader.Read(null!, new BinaryDecoder(stream));
    }

    private int LookUpId(string topic)
    {
        var subject = topic + "-value"; // Confluent's default TopicNameStrategy, as AvroSerializer uses
        try
        {
            return _registry.LookupSchemaAsync(subject, new Schema(ReaderSchemaJson, SchemaType.Avro), ignoreDeletedSchemas: true, normalize: false)
                .GetAwaiter().GetResult().Id;
        }
        catch (Exception ex) when (ex is SchemaRegistryException or HttpRequestException)
        {
            throw new InvalidOperationException($"{typeof(T).Name}: its schema is not registered under subject '{subject}' ({ex.Message})", ex);
        }
    }

    private SpecificDatumReader<T> ReaderFor(int id)
    {
        var writer = _registry.GetSchemaAsync(id).GetAwaiter().GetResult();
        return writer.SchemaType == SchemaType.Avro
            ? new SpecificDatumReader<T>(Avro.Schema.Parse(writer.SchemaString), ReaderSchema)
            : throw new InvalidDataException($"{typeof(T).Name}: schema id {id} is {writer.SchemaType}, not Avro");
    }
}
