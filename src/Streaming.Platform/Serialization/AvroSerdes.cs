using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry.Serdes;

namespace Streaming.Platform.Serialization;

/// <summary>
/// Confluent wire-format Avro (magic byte + schema id + Avro binary) for generated contract classes, through the
/// real Confluent serializers and a schema registry. Auto-registration is off by default: schemas are registered
/// from <c>schemas/</c> by the deployment step, so a producer can never push an unreviewed schema. The writer's id is
/// looked up for the class's own schema (not the subject's latest version), so an old binary keeps framing its records
/// with the id of the schema it really writes, and an unregistered schema fails loudly at the first record.
/// </summary>
public sealed class AvroSerdes<T> : ISerializer<T>, IDeserializer<T>
    where T : class, ISpecificRecord
{
    private readonly ISerializer<T> _serializer;
    private readonly IDeserializer<T> _deserializer;

    /// <summary>Creates serdes over a registry client.</summary>
    public AvroSerdes(ISchemaRegistryClient registry, bool autoRegisterSchemas = false)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _serializer = new AvroSerializer<T>(registry, new AvroSerializerConfig
        {
            AutoRegisterSchemas = autoRegisterSchemas,
            UseLatestVersion = false,
        }).AsSyncOverAsync();
        _deserializer = new AvroDeserializer<T>(registry).AsSyncOverAsync();
    }

    /// <inheritdoc />
    public byte[] Serialize(T data, SerializationContext context) => _serializer.Serialize(data, context);

    /// <inheritdoc />
    public T Deserialize(ReadOnlySpan<byte> data, bool isNull, SerializationContext context) => _deserializer.Deserialize(data, isNull, context);

    /// <summary>Serializes a value for a topic (value subject).</summary>
    public byte[] SerializeValue(T data, string topic) => Serialize(data, new SerializationContext(MessageComponentType.Value, topic));

    /// <summary>Deserializes a value read from a topic.</summary>
    public T DeserializeValue(byte[] data, string topic) => Deserialize(data, data is null, new SerializationContext(MessageComponentType.Value, topic));
}
