using System.Buffers.Binary;
using Avro.IO;
using Avro.Specific;

namespace Streaming.Platform.Serialization;

/// <summary>
/// The Avro body of one generated contract in Confluent's wire format (magic byte 0, big-endian 4-byte schema id, Avro
/// binary), shared by <see cref="AvroWireCodec{T}"/> and the processors' Streamiz serdes, which differ only in how they
/// find the schema id and name their errors. Values are written by a <see cref="CompiledAvroWriter{T}"/> when the schema
/// allows one, else by Avro's writer (same bytes). Records written with the contract's own schema are decoded by a
/// <see cref="CompiledAvroReader{T}"/>; any other writer schema (an older or newer version) is resolved against the
/// contract's schema by Avro's pre-resolving reader. Thread-safe.
/// </summary>
public static class ContractAvro<T>
    where T : class, ISpecificRecord
{
    /// <summary>Bytes before the Avro body: the magic byte and the schema id.</summary>
    public const int HeaderLength = 5;

    private const byte MagicByte = 0;

    // Static initializers run in textual order: the schema first.
    /// <summary>The contract's own schema (the reader schema).</summary>
    public static Avro.Schema Schema { get; } = Activator.CreateInstance<T>().Schema;

    /// <summary>The contract's own schema as JSON, as registered.</summary>
    public static string SchemaJson { get; } = Schema.ToString();

    // The writer is only used for schemas the compiled writer does not support (maps, fixed, other unions).
    private static readonly SpecificDatumWriter<T> AvroWriter = new(Schema);
    private static readonly CompiledAvroReader<T>? CompiledReader = CompiledAvroReader<T>.TryCreate(Schema);
    private static readonly CompiledAvroWriter<T>? CompiledWriter = CompiledAvroWriter<T>.TryCreate(Schema);

    /// <summary>True when values are encoded by a <see cref="CompiledAvroWriter{T}"/> (else by Avro's writer).</summary>
    public static bool HasCompiledWriter => CompiledWriter is not null;

    /// <summary>True when records written with <typeparamref name="T"/>'s own schema are decoded by a <see cref="CompiledAvroReader{T}"/> (else by Avro's reader).</summary>
    public static bool HasCompiledReader => CompiledReader is not null;

    /// <summary>The 5-byte frame header for <paramref name="schemaId"/>.</summary>
    public static byte[] Header(int schemaId)
    {
        var header = new byte[HeaderLength];
        header[0] = MagicByte;
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(1), schemaId);
        return header;
    }

    /// <summary><paramref name="header"/> (see <see cref="Header"/>) followed by <paramref name="value"/> in Avro binary.</summary>
    public static byte[] Write(T value, byte[] header)
    {
        if (CompiledWriter is { } compiled)
        {
            return compiled.Write(value, header);
        }

        using var stream = new MemoryStream(256);
        stream.Write(header);
        AvroWriter.Write(value, new BinaryEncoder(stream));
        return stream.ToArray();
    }

    /// <summary>
    /// The schema id of a framed value; throws <see cref="InvalidDataException"/> naming <paramref name="topic"/> for bytes that are
    /// not Confluent-framed Avro.
    /// </summary>
    public static int SchemaId(byte[] data, string topic)
    {
        ArgumentNullException.ThrowIfNull(data);
        return data.Length < HeaderLength || data[0] != MagicByte
            ? throw new InvalidDataException(
                $"{typeof(T).Name} from {topic}: not Confluent-framed Avro ({(data.Length < HeaderLength ? $"{data.Length} bytes" : $"magic byte {data[0]}")}; expected magic byte 0 and a 4-byte schema id)")
            : BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(1, 4));
    }

    /// <summary>A decoder of framed values written with <paramref name="writerSchema"/> (built once per writer schema id).</summary>
    public static Func<byte[], T> ReaderFor(Avro.Schema writerSchema)
    {
        ArgumentNullException.ThrowIfNull(writerSchema);
        if (CompiledReader is { } compiled && writerSchema.ToString() == SchemaJson)
        {
            return data => compiled.Read(data, HeaderLength);
        }

        var resolving = new PreresolvedSpecificReader<T>(writerSchema, Schema);
        return data =>
        {
            using var stream = new MemoryStream(data, HeaderLength, data.Length - HeaderLength, writable: false);
            return resolving.Read(null!, new BinaryDecoder(stream));
        };
    }
}
