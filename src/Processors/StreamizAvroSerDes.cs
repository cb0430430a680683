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

        var id = BinaryPrimitives.ReadInt32BigEndian(data.AsSpan(1, 4));
        var reader = _readerById.GetOrAdd(id, ReaderFor);
        using var stream = new MemoryStream(data, 5, data.Length - 5, writable: false);
        return (T)reader.Read<object>(null!, new BinaryDecoder(stream));
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

        return new SpecificDefaultReader(Avro.Schema.Parse(writer.SchemaString), ReaderSchema);
    }
}

/// <summary>A value could not be framed for the registry (its schema is not registered under the subject).</summary>
public sealed class AvroFramingException(string message, Exception inner) : Exception(message, inner);
