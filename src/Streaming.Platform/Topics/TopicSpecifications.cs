using Confluent.Kafka.Admin;

namespace Streaming.Platform.Topics;

/// <summary>Maps manifest topics to Confluent admin <see cref="TopicSpecification"/>s.</summary>
public static class TopicSpecifications
{
    /// <summary>Name, partitions, replication factor and every pinned config (as Kafka strings).</summary>
    public static TopicSpecification ToTopicSpecification(this TopicDefinition topic)
    {
        ArgumentNullException.ThrowIfNull(topic);
        return new TopicSpecification
        {
            Name = topic.Name,
            NumPartitions = topic.Partitions,
            ReplicationFactor = checked((short)topic.ReplicationFactor),
            Configs = topic.EffectiveConfigs().ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal),
        };
    }

    /// <summary>Specifications for every topic in the manifest, in manifest order.</summary>
    public static IReadOnlyList<TopicSpecification> ToTopicSpecifications(this TopicManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        return manifest.Topics.Select(ToTopicSpecification).ToList();
    }
}
