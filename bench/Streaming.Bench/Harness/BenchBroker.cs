using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using Streaming.Platform.Embedded;

namespace Streaming.Bench.Harness;

/// <summary>The broker a benchmark runs against: a configured cluster, or the embedded librdkafka mock cluster started for the run.</summary>
public sealed class BenchBroker : IAsyncDisposable
{
    /// <summary>Retention of the librdkafka mock cluster per partition; older data is silently dropped beyond it.</summary>
    public const long EmbeddedPartitionMaxBytes = 5L * 1024 * 1024;

    /// <summary>Batch-count retention of the librdkafka mock cluster per partition.</summary>
    public const long EmbeddedPartitionMaxBatches = 100_000;

    private readonly EmbeddedKafkaCluster? _embedded;
    private readonly List<string> _dropped = [];

    private BenchBroker(string bootstrapServers, EmbeddedKafkaCluster? embedded)
    {
        BootstrapServers = bootstrapServers;
        _embedded = embedded;
        if (embedded is not null)
        {
            embedded.DataDropped += (tp, from, to) => { lock (_dropped) { _dropped.Add($"{tp.Topic}[{tp.Partition.Value}] low watermark {from}->{to}"); } };
        }
    }

    /// <summary>Bootstrap servers of the broker in use.</summary>
    public string BootstrapServers { get; }

    /// <summary>True when the embedded mock cluster is in use.</summary>
    public bool IsEmbedded => _embedded is not null;

    /// <summary>Human-readable description for output and JSON.</summary>
    public string Description => IsEmbedded
        ? $"embedded librdkafka mock cluster, {_embedded!.BrokerCount} brokers, in-process ({BootstrapServers})"
        : $"external cluster {BootstrapServers}";

    /// <summary>Uses <paramref name="bootstrapServers"/>, else <c>KAFKA_BOOTSTRAP_SERVERS</c>, else starts the embedded cluster (3 brokers).</summary>
    public static BenchBroker Resolve(string? bootstrapServers, ILoggerFactory loggerFactory)
    {
        var configured = !string.IsNullOrWhiteSpace(bootstrapServers)
            ? bootstrapServers
            : Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        if (!string.IsNullOrWhiteSpace(configured))
        {
            return new BenchBroker(configured, null);
        }

        // The watermark monitor is polled explicitly after each run (CheckForDroppedDataAsync) instead of on a timer,
        // so its admin requests do not land inside a timed phase.
        var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 3, WatermarkCheckInterval = TimeSpan.Zero }, loggerFactory);
        return new BenchBroker(cluster.BootstrapServers, cluster);
    }

    /// <summary>Creates a topic with replication factor min(3, brokers).</summary>
    public async Task CreateTopicAsync(string topic, int partitions)
    {
        if (_embedded is not null)
        {
            _embedded.CreateTopic(topic, partitions, Math.Min(3, _embedded.BrokerCount));
            return;
        }

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        var brokers = admin.GetMetadata(TimeSpan.FromSeconds(10)).Brokers.Count;
        await admin.CreateTopicsAsync([new TopicSpecification { Name = topic, NumPartitions = partitions, ReplicationFactor = (short)Math.Min(3, brokers) }])
            .ConfigureAwait(false);
    }

    /// <summary>Fails if the embedded cluster reports that it dropped data of any benchmark topic.</summary>
    public async Task CheckForDroppedDataAsync()
    {
        if (_embedded is null)
        {
            return;
        }

        await _embedded.CheckWatermarksAsync().ConfigureAwait(false);
        lock (_dropped)
        {
            if (_dropped.Count > 0)
            {
                throw new InvalidOperationException("The embedded broker dropped data (retention limit): " + string.Join("; ", _dropped));
            }
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (_embedded is not null)
        {
            await _embedded.DisposeAsync().ConfigureAwait(false);
        }
    }
}
