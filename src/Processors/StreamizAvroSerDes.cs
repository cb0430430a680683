using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net.SerDes;
using Streaming.Platform.Serialization;

namespace Streaming.Processors;

/// <summary>Streamiz serdes for generated Avro contracts, in the Confluent wire format through the schema registry.</summary>
public sealed class StreamizAvroSerDes<T>(ISchemaRegistryClient registry) : AbstractSerDes<T>
    where T : class, ISpecificRecord
{
    private readonly AvroSerdes<T> _inner = new(registry);

    /// <inheritdoc />
    public override byte[] Serialize(T data, SerializationContext context) => data is null ? null! : _inner.Serialize(data, context);

    /// <inheritdoc />
    public override T Deserialize(byte[] data, SerializationContext context) => data is null ? null! : _inner.Deserialize(data, false, context);
}
