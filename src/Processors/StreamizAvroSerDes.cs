using System.Buffers.Binary;
using System.Collections.Concurrent;
using Avro.IO;
using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net.SerDes;

namespace Streaming.Processors;

/// <summary>
/// Streamiz serdes for generated Avro contracts, in the Confluent wire format (magic byte 0, big-endian schema id, Avro
/// binary) through the schema registry. Byte for byte what Confluent's <c>AvroSerializer</c> (auto-registration off,
/// the class's own schema looked up under the subject) writes and what its <c>AvroDeserializer</c> reads, without its
/// per-record async plumbing: the schema id is looked up in the registry once per subject (an unregistered schema fails
/// at the first record, naming the subject), and one Avro reader is kept per writer schema id.
/// </summary>
/// <param name="registry">Registry client.</param>
/// <param name="subjectTopic">
/// When set, records are framed under this topic's value subject whatever topic they are written to: used for internal
/// topics (repartition) that carry a source topic's records and have no subject of their own.
/// </param>
public sealed class StreamizAvroSerDes<T>(ISchemaRegistryClient registry, string? subjectTopic = null) : AbstractSerDes<T>
    where T : class, ISpecificRecord
{
    private const byte MagicByte = 0;
    private static readonly Avro.Schema ReaderSchema = Activator.CreateInstance<T>().Schema;
    private static readonly string ReaderSchemaJson = ReaderSchema.ToString();
    private readonly ISchemaRegistryClient _registry = registry ?? throw new ArgumentNullException(nameof(registry));
    private readonly SpecificDefaultWriter _writer = new(ReaderSchema);
    private readonly ConcurrentDictionary<string, byte[]> _prefixBySubject = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<int, SpecificDefaultReader> _readerById = new();
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

        var prefix = _prefixBySubject.GetOrAdd(Subject(context), LookUpPrefix);
        using var stream = new MemoryStream(256);
        stream.Write(prefix);
        _writer.Write(data, new BinaryEncoder(stream));
        return stream.ToArray();
    }

    /// <inheritdoc />
    public override T Deserialize(byte[] data, SerializationContext context)
    {
        if (data is null)
        {
            return null!;
        }

        if (data.Length < 5 || data[0] != MagicByte)
        {
            throw new InvalidDataException(
                $"{typeof(T).Name} from {context.Topic}: not Confluent-framed Avro ({(data.Length < 5 ? $"{data.Length} bytes" : $"magic byte {data[0]}")}; expected magic byte 0 and a 4-byte schema id)");
        }

        if (DecodeOncePerRecord && Volatile.Read(ref _last) is { } last && ReferenceEquals(last.Bytes, data))
        {
            return last.Value;
        }

        var id = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(1, 4));
        var reader = _readerById.GetOrAdd(id, ReaderFor);
        using var stream = new MemoryStream(data, 5, data.Length - 5, writable: false);
        var value = (T)reader.Read<object>(null!, new BinaryDecoder(stream));
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
            id = _registry.GetSchemaIdAsync(subject, new Schema(ReaderSchemaJson, SchemaType.Avro), false).GetAwaiter().GetResult();
        }
        catch (Exception ex) when (ex is SchemaRegistryException or HttpRequestException)
        {
            throw new AvroFramingException($"{typeof(T).Name}: its schema is not registered under subject '{subject}' ({ex.Message})", ex);
        }

        var prefix = new byte[5];
        prefix[0] = MagicByte;
        BinaryPrimitives.WriteInt32BigEndian(prefix.AsSpan(1), id);
        return prefix;
    }

    private SpecificDefaultReader ReaderFor(int id)
    {
        var writer = _registry.GetSchemaAsync(id).GetAwaiter().GetResult();
        if (writer.SchemaType != SchemaType.Avro)
        {
            throw new InvalidDataException($"{typeof(T).Name}: schema id {id} is {writer.SchemaType}, not Avro");
        }

        return new CachingSpecificReader(Avro.Schema.Parse(writer.SchemaString), ReaderSchema);
    }
}

/// <summary>
/// Avro's <see cref="SpecificDefaultReader"/> with the type of every record, array, map and fixed it creates resolved
/// once per schema node. The base class resolves it again for every object it reads: a type-name lookup for each
/// record and, for each array or map, a type name built from the schema and a generic type constructed by reflection
/// (<c>MakeGenericType</c>). The objects created are the same types Avro would create; only the lookup is cached.
/// </summary>
internal sealed class CachingSpecificReader(Avro.Schema writerSchema, Avro.Schema readerSchema) : SpecificDefaultReader(writerSchema, readerSchema)
{
    private readonly ConcurrentDictionary<Avro.Schema, Type> _types = new(ReferenceEqualityComparer.Instance);

    protected override object ReadRecord(object reuse, Avro.RecordSchema writerSchema, Avro.Schema readerSchema, Decoder dec)
        => base.ReadRecord(reuse ?? (readerSchema is Avro.RecordSchema { Name: not null } named ? New(named, s => ObjectCreator.Instance.GetType(((Avro.RecordSchema)s).Fullname, Avro.Schema.Type.Record)) : null!),
            writerSchema, readerSchema, dec);

    protected override object ReadArray(object reuse, Avro.ArraySchema writerSchema, Avro.Schema readerSchema, Decoder dec)
        => base.ReadArray(reuse ?? New(readerSchema, s => ObjectCreator.Instance.GetType(getTargetType(s), Avro.Schema.Type.Array)), writerSchema, readerSchema, dec);

    protected override object ReadMap(object reuse, Avro.MapSchema writerSchema, Avro.Schema readerSchema, Decoder d)
        => base.ReadMap(reuse ?? New(readerSchema, s => ObjectCreator.Instance.GetType(getTargetType(s), Avro.Schema.Type.Map)), writerSchema, readerSchema, d);

    protected override object ReadFixed(object reuse, Avro.FixedSchema writerSchema, Avro.Schema readerSchema, Decoder d)
        => base.ReadFixed(reuse ?? New(readerSchema, s => ObjectCreator.Instance.GetType(((Avro.FixedSchema)s).Fullname, Avro.Schema.Type.Fixed)), writerSchema, readerSchema, d);

    private object New(Avro.Schema schema, Func<Avro.Schema, Type> resolve) => Activator.CreateInstance(_types.GetOrAdd(schema, resolve))!;
}

/// <summary>A value could not be framed for the registry (its schema is not registered under the subject).</summary>
public sealed class AvroFramingException(string message, Exception inner) : Exception(message, inner);
