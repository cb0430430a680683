namespace Streaming.Platform.Embedded;

/// <summary>Creates topics on a broker that has no CreateTopics API (the librdkafka mock cluster).</summary>
public interface IMockTopicCreator
{
    /// <summary>Comma-separated bootstrap addresses of the cluster.</summary>
    string BootstrapServers { get; }

    /// <summary>Creates the topic; creating one that already exists is not an error.</summary>
    void CreateTopic(string topic, int partitions, int replicationFactor);
}
