using System.Diagnostics;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;

namespace Streaming.Producers.Tests.Usage;

/// <summary>An embedded cluster and registry shared by the tests of one class; each test takes its own topic.</summary>
public sealed class UsageStack : IAsyncLifetime
{
    private int _topics;

    public EmbeddedKafkaCluster Cluster { get; private set; } = null!;

    public EmbeddedSchemaRegistry Registry { get; private set; } = null!;

    public CachedSchemaRegistryClient Client { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { WatermarkCheckInterval = TimeSpan.Zero });
        Registry = await EmbeddedSchemaRegistry.StartAsync();
        Client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = Registry.Url });
    }

    /// <summary>A fresh usage topic with the UsageEvent schema registered under its value subject.</summary>
    public async Task<string> NewTopicAsync(int partitions = 3)
    {
        var topic = $"{Topics.BillingUsage}.t{Interlocked.Increment(ref _topics)}";
        Cluster.CreateTopic(topic, partitions, 3);
        await Client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(UsageEvent._SCHEMA.ToString(), SchemaType.Avro));
        return topic;
    }

    public ProducerConfig ProducerConfig() => new() { BootstrapServers = Cluster.BootstrapServers, LingerMs = 1 };

    /// <summary>Reads every partition from offset 0 until <paramref name="expected"/> records arrived, then waits briefly for any extra (a duplicate would show).</summary>
    public List<(string Key, UsageEvent Value, Headers Headers, int SchemaId)> ReadAll(string topic, int expected, CancellationToken ct)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Cluster.BootstrapServers, GroupId = "reader-" + Guid.NewGuid().ToString("N"), EnableAutoCommit = false,
        }).Build();
        consumer.Assign(Enumerable.Range(0, Cluster.Topics[topic]).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var serdes = new AvroSerdes<UsageEvent>(Client);
        var read = new List<(string, UsageEvent, Headers, int)>();
        var clock = Stopwatch.StartNew();
        var quietSince = default(Stopwatch);
        while (clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            ct.ThrowIfCancellationRequested();
            var r = consumer.Consume(TimeSpan.FromMilliseconds(100));
            if (r?.Message is { } m)
            {
                read.Add((m.Key, serdes.DeserializeValue(m.Value, topic), m.Headers, System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(m.Value.AsSpan(1, 4))));
                quietSince = null;
            }
            else if (read.Count >= expected)
            {
                quietSince ??= Stopwatch.StartNew();
                if (quietSince.Elapsed > TimeSpan.FromMilliseconds(500))
                {
                    break;
                }
            }
        }

        consumer.Close();
        return read;
    }

    /// <summary>Records the log holds (sum of high minus low watermarks): what was produced, duplicates included.</summary>
    public long CountInLog(string topic)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = Cluster.BootstrapServers, GroupId = "count" }).Build();
        return Enumerable.Range(0, Cluster.Topics[topic])
            .Select(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)))
            .Sum(w => w.High.Value - w.Low.Value);
    }

    /// <summary>Makes every broker answer after <paramref name="rtt"/> (zero restores it), so deliveries stay pending.</summary>
    public void SetRoundTripTime(TimeSpan rtt)
    {
        for (var b = 1; b <= Cluster.BrokerCount; b++)
        {
            Cluster.SetBrokerRoundTripTime(b, rtt);
        }
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await Registry.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}
