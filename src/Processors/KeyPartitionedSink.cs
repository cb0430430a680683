using Streamiz.Kafka.Net.Processors;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.Stream;

namespace Streaming.Processors;

/// <summary>
/// Writes a stream to a topic with no Streamiz partitioner, so the producer partitions by record key (librdkafka's
/// partitioner). Streamiz 1.8.2's <c>To(topic, …)</c> installs its default partitioner, which for every record asks
/// the producer for the topic's partition count — and that call first rebuilds the whole admin-client configuration
/// (dictionary unions plus an assembly-version lookup by reflection) — only to answer "any partition" (the default
/// <c>DefaultPartitionerReshuffleEveryKey</c>), which leaves the choice to the producer anyway. Same placement, without
/// that per-record cost.
/// </summary>
public static class KeyPartitionedSink
{
    /// <summary>Sends every record of <paramref name="stream"/> to <paramref name="topic"/>, partitioned by its key, with the record context's timestamp.</summary>
    public static void ToTopic<TK, TV>(this IKStream<TK, TV> stream, string topic, ISerDes<TK> keySerdes, ISerDes<TV> valueSerdes, string named)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        stream.To(new FixedTopic<TK, TV>(topic), keySerdes, valueSerdes, new ContextTimestamp<TK, TV>(), partitioner: null!, named);
    }

    private sealed class FixedTopic<TK, TV>(string topic) : ITopicNameExtractor<TK, TV>
    {
        public string Extract(TK key, TV value, IRecordContext recordContext) => topic;
    }

    private sealed class ContextTimestamp<TK, TV> : IRecordTimestampExtractor<TK, TV>
    {
        public long Extract(TK key, TV value, IRecordContext recordContext) => recordContext.Timestamp;
    }
}
