using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net.SerDes;
using Streaming.Platform.Serialization;

namespace Streaming.Processors;

/// <summary>Streamiz serdes for generated Avro contracts, in the Confluent wire format through the schema registry.</summary>
/// <param name="registry">Registry client.</param>
/// <param name="subjectTopic">
/// When set, records are framed under this topic's value subject whatever topic they are written to: used for internal
/// topics (repartition) that carry a source topic's records and have no subject of their own.
/// </param>
public sealed class StreamizAvroSerDes<T>(ISchemaRegistryClient registry, string? subjectTopic = null) : AbstractSerDes<T>
    where T : class, ISpecificRecord
{
    private readonly AvroSerdes<T> _inner = new(registry);

    /// <inheritdoc />
    public override byte[] Serialize(T data, SerializationContext context) => data is null ? null! : _inner.Serialize(data, Subject(context));

    /// <inheritdoc />
    public override T Deserialize(byte[] data, SerializationContext context) => data is null ? null! : _inner.Deserialize(data, false, Subject(context));

    private SerializationContext Subject(SerializationContext context)
        => subjectTopic is null ? context : new SerializationContext(context.Component, subjectTopic, context.Headers);
}
