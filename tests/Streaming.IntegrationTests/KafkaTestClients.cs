using System.Diagnostics;
using Confluent.Kafka;

namespace Streaming.IntegrationTests;

/// <summary>Producer/consumer plumbing shared by the integration tests: read a topic back from the start, count what the log holds.</summary>
internal static class KafkaTestClients
{
    /// <summary>
    /// Reads every partition of <paramref name="topic"/> from offset 0 (assigned, no group join) until
    /// <paramref name="count"/> records arrived or <paramref name="timeout"/> passed; returns what was read, in partition order.
    /// </summary>
    public static List<ConsumeResult<TKey, TValue>> ReadFromStart<TKey, TValue>(
        KafkaStackFixture stack, string topic, int count, TimeSpan timeout, CancellationToken cancellationToken,
        IDeserializer<TValue>? valueDeserializer = null)
    {
        var config = new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers,
            GroupId = KafkaStackFixture.UniqueName("it.reader"),
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
        };
        var builder = new ConsumerBuilder<TKey, TValue>(config);
        if (valueDeserializer is not null)
        {
            builder.SetValueDeserializer(valueDeserializer);
        }

        using var consumer = builder.Build();
        consumer.Assign(Partitions(stack, topic).Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var results = new List<ConsumeResult<TKey, TValue>>(count);
        var clock = Stopwatch.StartNew();
        while (results.Count < count && clock.Elapsed < timeout)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is { IsPartitionEOF: false })
            {
                results.Add(result);
            }
        }

        consumer.Close();
        return results;
    }

    /// <summary>How many records the log holds (sum of high minus low watermarks) — duplicates written by a retry would show here.</summary>
    public static long RecordsInLog(KafkaStackFixture stack, string topic)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers,
            GroupId = KafkaStackFixture.UniqueName("it.watermarks"),
        }).Build();
        return Partitions(stack, topic)
            .Select(tp => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)))
            .Sum(w => w.High.Value - w.Low.Value);
    }

    public static IReadOnlyList<TopicPartition> Partitions(KafkaStackFixture stack, string topic)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = stack.BootstrapServers }).Build();
        var metadata = Assert.Single(admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics);
        return metadata.Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).OrderBy(tp => tp.Partition.Value).ToList();
    }
}
