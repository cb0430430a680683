using Confluent.Kafka;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Stream;
using Streamiz.Kafka.Net.Table;
using Streaming.Platform.Topics;
using Streaming.Processors.Hosting;

namespace Streaming.IntegrationTests;

/// <summary>
/// A stateful Streamiz topology (repartition + counting store) on the shared stack: its internal topics are derived
/// from the topology and created up front, and the application then runs and counts. On the embedded broker this is
/// the difference between working and hanging in REBALANCING (the mock has no CreateTopics).
/// </summary>
public sealed class StreamizInternalTopicsTests(KafkaStackFixture stack)
{
    private static TopicDefinition Topic(string name, int partitions) => new()
    {
        Name = name, Partitions = partitions, ReplicationFactor = 1, CleanupPolicy = CleanupPolicy.Delete, RetentionMs = -1, MinInsyncReplicas = 1,
    };

    [Fact]
    public async Task Stateful_topology_runs_once_its_derived_internal_topics_exist()
    {
        var ct = TestContext.Current.CancellationToken;
        var input = KafkaStackFixture.UniqueName("it.words");
        var output = KafkaStackFixture.UniqueName("it.counts");
        var appId = KafkaStackFixture.UniqueName("it-app");
        var manifest = TopicManifest.Create([Topic(input, 3), Topic(output, 2)]);

        var builder = new StreamBuilder();
        builder.Stream<string, string, StringSerDes, StringSerDes>(input)
            .SelectKey((_, v, _) => v)
            .GroupByKey()
            .Count(InMemory.As<string, long>("word-counts"))
            .ToStream()
            .MapValues((v, _) => v.ToString(System.Globalization.CultureInfo.InvariantCulture))
            .To<StringSerDes, StringSerDes>(output);
        var topology = builder.Build();

        var internals = StreamizInternalTopics.For(topology, appId, manifest, replicationFactor: 1, minInsyncReplicas: 1);

        Assert.Contains(internals, t => t.Name == $"{appId}-word-counts-changelog" && t.CleanupPolicy == CleanupPolicy.Compact && t.Partitions == 3);
        var repartition = Assert.Single(internals, t => t.Name.EndsWith("-repartition", StringComparison.Ordinal));
        Assert.StartsWith(appId + "-", repartition.Name, StringComparison.Ordinal);
        Assert.Equal(3, repartition.Partitions);

        foreach (var t in manifest.With(internals).Topics)
        {
            await stack.CreateTopicAsync(t.Name, t.Partitions, ct);
        }

        var config = new StreamConfig<StringSerDes, StringSerDes>
        {
            ApplicationId = appId,
            BootstrapServers = stack.BootstrapServers,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            CommitIntervalMs = 100,
            StateDir = Directory.CreateTempSubdirectory("streamiz-it-").FullName,
        };
        using var stream = new KafkaStream(topology, config);
        await stream.StartAsync(ct);

        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = stack.BootstrapServers }).Build())
        {
            foreach (var word in new[] { "invoice", "payment", "invoice", "refund", "invoice", "payment" })
            {
                producer.Produce(input, new Message<string, string> { Key = Guid.NewGuid().ToString(), Value = word });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
        }

        var latest = new Dictionary<string, string>();
        using var consumer = new ConsumerBuilder<string, string>(new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers, GroupId = appId + "-reader", AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe(output);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && !(latest.GetValueOrDefault("invoice") == "3" && latest.GetValueOrDefault("payment") == "2" && latest.GetValueOrDefault("refund") == "1"))
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m })
            {
                latest[m.Key] = m.Value;
            }
        }

        consumer.Close();
        Assert.Equal(new Dictionary<string, string> { ["invoice"] = "3", ["payment"] = "2", ["refund"] = "1" }, latest);
    }
}
