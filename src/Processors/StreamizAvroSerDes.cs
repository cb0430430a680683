using System.Collections.Concurrent;
using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net.SerDes;
using Streaming.Platform.Serialization;

namespace Streaming.Processors;

/// <summary>
/// Streamiz serdes for generated Avro contracts, in the Confluent wire format (magic byte 0, big-endian schema id, Avro
/// binary) through the schema registry. Byte for byte what Confluent's <c>AvroSerializer</c> (auto-registration off,
/// the class's own schema looked up under the subject) writes and what its <c>AvroDeserializer</c> reads, without its
/// per-record async plumbing: the schema id is looked up in the registry once per subject (an unregistered schema fails
/// at the first record, naming the subject), and one reader is kept per writer schema id. The Avro body is encoded and
/// decoded by <see cref="ContractAvro{T}"/>, as in <see cref="AvroWireCodec{T}"/>: compiled codecs for the contract's own
/// schema, Avro's pre-resolving reader for any other writer schema.
/// </summary>
/// <param name="registry">Registry client.</param>
/// <param name="subjectTopic">
/// When set, records are framed under this topic's value subject whatever topic they are written to: used for internal
/// topics (repartition) that carry a source topic's records and have no subject of their own.
/// </param>
public sealed class StreamizAvroSerDes<T>(ISchemaRegistryClient registry, string? subjectTopic = null) : AbstractSerDes<T>
    where T : class, ISpecificRecord
{
    private readonly ISchemaRegistryClient _registry = registry ?? throw new ArgumentNullException(nameof(registry));
    private readonly ConcurrentDictionary<string, byte[]> _prefixBySubject = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, Func<byte[], T>> _readerById = new();
    private Decoded? _last;

    /// <summary>
    /// For the serdes of a topology's source topic: a record's value bytes decoded twice in a row give the same object
    /// without decoding again. Streamiz 1.8.2 decodes every consumed record twice — once at the head of the partition
    /// queue, only to hand it to the timestamp extractor, and again in the source processor — always with the same
    /// byte array; the first result is discarded. Each consumed message has its own array, so records are never mixed
    /// up, and a failed decode is not remembered (the second attempt fails the same way).
    /// </summary>
    public bool DecodeOncePerRecord { get; init; }

    private sealed record Decoded(byte[] Bytes, T Value);

    /// <inheritdoc />
    public override byte[] Serialize(T data, SerializationContext context)
    {
        if (data is null)
        {
            return null!;
        }

        return ContractAvro<T>.Write(data, _prefixBySubject.GetOrAdd(Subject(context), LookUpPrefix));
    }

    /// <inheritdoc />
    public override T Deserialize(byte[] data, SerializationContext context)
    {
        if (data is null)
        {
            return null!;
        }

        var id = ContractAvro<T>.SchemaId(data, context.Topic);
        if (DecodeOncePerRecord && Volatile.Read(ref _last) is { } last && ReferenceEquals(last.Bytes, data))
        {
            return last.Value;
        }

        var value = _readerById.GetOrAdd(id, ReaderFor)(data);
        if (DecodeOncePerRecord)
        {
            Volatile.Write(ref _last, new Decoded(data, value));
        }

        return value;
    }

    private string Subject(SerializationContext context)
    {
        var topic = subjectTopic ?? context.Topic;
        return context.Component == MessageComponentType.Key ? $"{topic}-key" : $"{topic}-value";
    }

    private byte[] LookUpPrefix(string subject)
    {
        int id;
        try
        {
            id = _registry.GetSchemaIdAsync(subject, new Schema(ContractAvro<T>.SchemaJson, SchemaType.Avro), false).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is SchemaRegistryException or HttpRequestException)
        {
            throw new AvroFramingException($"{typeof(T).Name}: its schema is not registered under subject '{subject}' ({ex.Message})", ex);
        }

        return ContractAvro<T>.Header(id);
    }

    private Func<byte[], T> ReaderFor(int id)
    {
        var writer = _registry.GetSchemaAsync(id).GetAwaiter().GetResult();
        return writer.SchemaType == SchemaType.Avro
            ? ContractAvro<T>.ReaderFor(Avro.Schema.Parse(writer.SchemaString))
            : throw new InvalidDataException($"{typeof(T).Name}: schema id {id} is {writer.SchemaType}, not Avro");
    }

    /// <summary>True when values are encoded by a compiled writer (<see cref="ContractAvro{T}.HasCompiledWriter"/>).</summary>
    public static bool HasCompiledWriter => ContractAvro<T>.HasCompiledWriter;

    /// <summary>True when records written with the contract's own schema are decoded by a compiled reader (<see cref="ContractAvro{T}.HasCompiledReader"/>).</summary>
    public static bool HasCompiledReader => ContractAvro<T>.HasCompiledReader;
}
