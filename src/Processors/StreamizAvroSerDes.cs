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
/// at the first record, naming the subject), and one reader is kept per writer schema id: the compiled reader of
/// <see cref="CompiledAvroReader{T}"/> for the contract's own schema, Avro's pre-resolving reader for any other.
/// Values are written by a <see cref="CompiledAvroWriter{T}"/> when the schema allows one, else by Avro's writer.
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
    // Pre-resolving writer for schemas the compiled writer does not support (maps, fixed, other unions); same bytes as
    // Confluent's SpecificWriter.
    private readonly SpecificDatumWriter<T> _writer = new(ReaderSchema);
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

        var prefix = _prefixBySubject.GetOrAdd(Subject(context), LookUpPrefix);
        if (CompiledWriter is { } compiled)
        {
            return compiled.Write(data, prefix);
        }

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

    // Records written with the contract's own schema (the usual case) are decoded by the compiled reader; any other
    // writer schema (an older or newer version) is resolved against the reader schema by Avro.
    private Func<byte[], T> ReaderFor(int id)
    {
        var writer = _registry.GetSchemaAsync(id).GetAwaiter().GetResult();
        if (writer.SchemaType != SchemaType.Avro)
        {
            throw new InvalidDataException($"{typeof(T).Name}: schema id {id} is {writer.SchemaType}, not Avro");
        }

        var writerSchema = Avro.Schema.Parse(writer.SchemaString);
        if (writerSchema.ToString() == ReaderSchemaJson && Compiled is { } compiled)
        {
            return data => compiled.Read(data, 5);
        }

        var resolving = new PreresolvedSpecificReader<T>(writerSchema, ReaderSchema);
        return data =>
        {
            using var stream = new MemoryStream(data, 5, data.Length - 5, writable: false);
            return resolving.Read(null!, new BinaryDecoder(stream));
        };
    }

    private static readonly CompiledAvroReader<T>? Compiled = CompiledAvroReader<T>.TryCreate(ReaderSchema);
    private static readonly CompiledAvroWriter<T>? CompiledWriter = CompiledAvroWriter<T>.TryCreate(ReaderSchema);

    /// <summary>True when values are encoded by a <see cref="CompiledAvroWriter{T}"/> (else by Avro's writer).</summary>
    public static bool HasCompiledWriter => CompiledWriter is not null;

    /// <summary>True when records written with <typeparamref name="T"/>'s own schema are decoded by a <see cref="CompiledAvroReader{T}"/> (else by Avro's reader).</summary>
    public static bool HasCompiledReader => Compiled is not null;
}

/// <summary>
/// Avro's pre-resolving <see cref="SpecificDatumReader{T}"/> (writer and reader schemas are resolved once into a tree
/// of field readers, where <see cref="SpecificDefaultReader"/>, which Confluent's deserializer uses, resolves them again
/// for every record), with the type of every record and array it creates looked up once: Avro's own accessors look
/// the record type up by name, and build the list type with <c>MakeGenericType</c>, for every object. The objects
/// created are exactly the types Avro's accessors create (each is asked once, at construction, for an instance).
/// </summary>
public sealed class PreresolvedSpecificReader<T>(Avro.Schema writerSchema, Avro.Schema readerSchema) : SpecificDatumReader<T>(writerSchema, readerSchema)
{
    /// <inheritdoc />
    // Called from the base constructor: uses nothing of this instance but the base's accessor.
    protected override RecordAccess GetRecordAccess(Avro.RecordSchema readerSchema) => new Records(base.GetRecordAccess(readerSchema));

    /// <inheritdoc />
    protected override ArrayAccess GetArrayAccess(Avro.ArraySchema readerSchema) => new Arrays(base.GetArrayAccess(readerSchema));

    private sealed class Records(RecordAccess avro) : RecordAccess
    {
        private readonly Type _type = avro.CreateRecord(null!).GetType();

        public object CreateRecord(object reuse) => reuse ?? Activator.CreateInstance(_type)!;

        public object GetField(object record, string fieldName, int fieldPos) => avro.GetField(record, fieldName, fieldPos);

        public void AddField(object record, string fieldName, int fieldPos, object fieldValue) => avro.AddField(record, fieldName, fieldPos, fieldValue);
    }

    private sealed class Arrays(ArrayAccess avro) : ArrayAccess
    {
        private readonly Type _type = avro.Create(null!).GetType();

        public object Create(object reuse) => reuse is null ? Activator.CreateInstance(_type)! : avro.Create(reuse);

        public void EnsureSize(ref object array, int targetSize) => avro.EnsureSize(ref array, targetSize);

        public void Resize(ref object array, int targetSize) => avro.Resize(ref array, targetSize);

        public void AddElements(object array, int elements, int index, ReadItem itemReader, Decoder decoder, bool reuse)
            => avro.AddElements(array, elements, index, itemReader, decoder, reuse);
    }
}

/// <summary>A value could not be framed for the registry (its schema is not registered under the subject).</summary>
public sealed class AvroFramingException(string message, Exception inner) : Exception(message, inner);
