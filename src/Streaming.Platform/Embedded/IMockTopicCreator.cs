namespace Streaming.Platform.Embedded;

/// <summary>Creates topics on the in-process librdkafka mock cluster, which has no CreateTopics admin API.</summary>
public interface IMockTopicCreator
{
    string BootstrapServers { get; }

    void CreateTopic(string topic, int partitions, int replicationFactor);
}
