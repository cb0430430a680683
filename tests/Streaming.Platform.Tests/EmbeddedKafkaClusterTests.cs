using System.Net.Sockets;
using Confluent.Kafka;
using Streaming.Platform.Embedded;

namespace Streaming.Platform.Tests;

/// <summary>
/// The in-process mock cluster: start, topics, produce/consume with real clients, fault injection, the
/// dropped-data warning and clean disposal. Broker semantics themselves are librdkafka's and not retested here.
/// </summary>
public sealed class EmbeddedKafkaClusterTests
{
    private static EmbeddedKafkaCluster Start(int brokers = 3)
        => EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = brokers, WatermarkCheckInterval = TimeSpan.Zero });

    [Fact]
    public void Starts_three_brokers_by_default_and_exposes_their_bootstrap_addresses()
    {
        using var cluster = EmbeddedKafkaCluster.Start();
        Assert.Equal(3, cluster.BrokerCount);
        Assert.Equal(3, cluster.BootstrapServers.Split(',').Length);
        Assert.Contains("librdkafka", EmbeddedKafkaCluster.NativeLibraryPath, StringComparison.Ordinal);
    }

    [Fact]
    public void Created_topic_has_the_requested_partitions_in_metadata()
    {
        using var cluster = Start();
        cluster.CreateTopic("orders.test", 6, 3);
        cluster.CreateTopic("orders.test", 6, 3); // idempotent

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var metadata = admin.GetMetadata("orders.test", TimeSpan.FromSeconds(10));
        var topic = Assert.Single(metadata.Topics);
        Assert.Equal(6, topic.Partitions.Count);
        Assert.All(topic.Partitions, p => Assert.Equal(3, p.Replicas.Length));
    }

    [Fact]
    public void Replication_factor_above_the_broker_count_is_refused_naming_the_topic()
    {
        using var cluster = Start(brokers: 1);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => cluster.CreateTopic("too.many.replicas", 1, 3));
        Assert.Contains("too.many.replicas", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Producer_and_consumer_exchange_records()
    {
        using var cluster = Start();
        cluster.CreateTopic("roundtrip", 3, 3);
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build())
        {
            for (var i = 0; i < 100; i++)
            {
                producer.Produce("roundtrip", new Message<string, string> { Key = $"k{i}", Value = $"v{i}" });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        var seen = await ConsumeAllAsync(cluster, "roundtrip", 100);
        Assert.Equal(Enumerable.Range(0, 100).Select(i => $"v{i}").Order(), seen.Order());
    }

    [Fact]
    public async Task Producer_delivers_every_record_exactly_once_across_a_broker_outage()
    {
        using var cluster = Start();
        cluster.CreateTopic("outage", 1, 3);
        cluster.SetPartitionLeader("outage", 0, 1);
        var config = new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            EnableIdempotence = true,
            Acks = Acks.All,
            MessageTimeoutMs = 60_000,
            RetryBackoffMs = 50,
        };
        using (var producer = new ProducerBuilder<string, string>(config).Build())
        {
            var delivered = 0;
            for (var i = 0; i < 500; i++)
            {
                if (i == 200)
                {
                    cluster.SetBrokerDown(1);
                    cluster.SetPartitionLeader("outage", 0, 2);
                }

                if (i == 350)
                {
                    cluster.SetBrokerUp(1);
                }

                producer.Produce("outage", new Message<string, string> { Key = "k", Value = i.ToString(System.Globalization.CultureInfo.InvariantCulture) },
                    r => { if (r.Error.IsError) { throw new InvalidOperationException(r.Error.Reason); } Interlocked.Increment(ref delivered); });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
            Assert.Equal(500, delivered);
        }

        var seen = await ConsumeAllAsync(cluster, "outage", 500);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => i.ToString(System.Globalization.CultureInfo.InvariantCulture)), seen);
    }

    [Fact]
    public async Task Pushed_request_errors_are_retried_by_an_idempotent_producer()
    {
        using var cluster = Start();
        cluster.CreateTopic("flaky", 1, 3);
        cluster.PushRequestErrors(0 /* Produce */, ErrorCode.NotEnoughReplicas, ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicas);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true, RetryBackoffMs = 10 }).Build();
        var result = await producer.ProduceAsync("flaky", new Message<Null, string> { Value = "x" }, TestContext.Current.CancellationToken);
        Assert.Equal(PersistenceStatus.Persisted, result.Status);
        Assert.Equal(0, result.Offset.Value);
    }

    [Fact]
    public async Task Round_trip_delay_holds_back_every_acknowledgement()
    {
        using var cluster = Start(brokers: 1);
        cluster.CreateTopic("slow", 1, 1);
        using var producer = new ProducerBuilder<Null, string>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 0 }).Build();
        await producer.ProduceAsync("slow", new Message<Null, string> { Value = "warm" }, TestContext.Current.CancellationToken);

        cluster.SetBrokerRoundTripTime(1, TimeSpan.FromMilliseconds(600));
        var started = System.Diagnostics.Stopwatch.StartNew();
        var result = await producer.ProduceAsync("slow", new Message<Null, string> { Value = "delayed" }, TestContext.Current.CancellationToken);

        // A lower bound only: the injected delay must be visible; how fast the broker is otherwise is not asserted.
        Assert.True(started.Elapsed >= TimeSpan.FromMilliseconds(500), $"acknowledged after {started.ElapsedMilliseconds} ms despite a 600 ms RTT");
        Assert.Equal(1, result.Offset.Value);
    }

    [Fact]
    public async Task Dropped_data_is_reported_naming_topic_and_partition()
    {
        using var cluster = Start(brokers: 1);
        cluster.CreateTopic("overflow", 1, 1);
        var dropped = new List<(TopicPartition Tp, long Low)>();
        cluster.DataDropped += (tp, _, low) => { lock (dropped) { dropped.Add((tp, low)); } };
        await cluster.CheckWatermarksAsync(TestContext.Current.CancellationToken);

        // One record per batch, ~20 KB each: past the mock's 5 MB per-partition cap.
        using (var producer = new ProducerBuilder<Null, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 0, BatchNumMessages = 1 }).Build())
        {
            var payload = new byte[20_000];
            for (var i = 0; i < 400; i++)
            {
                producer.Produce("overflow", new Message<Null, byte[]> { Value = payload });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }

        await cluster.CheckWatermarksAsync(TestContext.Current.CancellationToken);
        var (tp, low) = Assert.Single(dropped);
        Assert.Equal("overflow", tp.Topic);
        Assert.Equal(0, tp.Partition.Value);
        Assert.True(low > 0);
    }

    [Fact]
    public void Dispose_closes_the_listeners_and_repeated_clusters_do_not_leak_descriptors()
    {
        string bootstrap;
        using (var first = Start())
        {
            bootstrap = first.BootstrapServers;
        }

        var (host, port) = Split(bootstrap.Split(',')[0]);
        using (var client = new TcpClient())
        {
            Assert.ThrowsAny<SocketException>(() => client.Connect(host, port));
        }

        // warm up, then measure: a leak would grow the descriptor count with every cycle
        for (var i = 0; i < 3; i++)
        {
            using var warm = Start();
        }

        var before = OpenDescriptors();
        for (var i = 0; i < 20; i++)
        {
            using var c = Start();
            c.CreateTopic("t", 2, 3);
        }

        var after = OpenDescriptors();
        Assert.True(after - before < 10, $"open file descriptors grew from {before} to {after} over 20 start/dispose cycles");
    }

    [Fact]
    public void Using_a_disposed_cluster_fails_clearly()
    {
        var cluster = Start();
        cluster.Dispose();
        cluster.Dispose();
        Assert.Throws<ObjectDisposedException>(() => cluster.CreateTopic("x", 1, 1));
    }

    private static int OpenDescriptors() => OperatingSystem.IsLinux() ? Directory.GetFiles("/proc/self/fd").Length : 0;

    private static (string Host, int Port) Split(string hostPort)
    {
        var i = hostPort.LastIndexOf(':');
        return (hostPort[..i], int.Parse(hostPort[(i + 1)..], System.Globalization.CultureInfo.InvariantCulture));
    }

    private static async Task<List<string>> ConsumeAllAsync(EmbeddedKafkaCluster cluster, string topic, int expected)
    {
        var values = new List<string>();
        using var consumer = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
        {
            BootstrapServers = cluster.BootstrapServers,
            GroupId = $"g-{Guid.NewGuid():N}",
            AutoOffsetReset = AutoOffsetReset.Earliest,
            EnableAutoCommit = false,
        }).Build();
        consumer.Subscribe(topic);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        await Task.Yield();
        while (values.Count < expected && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r?.Message is not null)
            {
                values.Add(r.Message.Value);
            }
        }

        // and nothing more arrives
        var extra = consumer.Consume(TimeSpan.FromMilliseconds(500));
        Assert.Null(extra?.Message);
        consumer.Close();
        return values;
    }
}
