using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;
using FinanceLineKind = Streaming.Contracts.Finance.FinanceLineKind;

namespace Streaming.Sinks.Tests;

/// <summary>Embedded broker + registry with the sink's topics, a batching producer, and a way to read committed offsets.</summary>
internal sealed class SinkTestStack : IAsyncDisposable
{
    private SinkTestStack(EmbeddedKafkaCluster cluster, EmbeddedSchemaRegistry registry, CachedSchemaRegistryClient client, IProducer<string, byte[]> producer, int partitions)
    {
        Cluster = cluster;
        Registry = registry;
        Client = client;
        Producer = producer;
        Partitions = partitions;
        Events = new AvroSerdes<FinanceEvent>(client);
    }

    public EmbeddedKafkaCluster Cluster { get; }

    public EmbeddedSchemaRegistry Registry { get; }

    public CachedSchemaRegistryClient Client { get; }

    public IProducer<string, byte[]> Producer { get; }

    public int Partitions { get; }

    public AvroSerdes<FinanceEvent> Events { get; }

    public static async Task<SinkTestStack> StartAsync(int partitions, CancellationToken ct)
    {
        var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 1, WatermarkCheckInterval = TimeSpan.Zero });
        var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        foreach (var (topic, schema) in new (string, Avro.Schema)[]
                 {
                     (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.ErpPostings, Contracts.Erp.ErpPostingResult._SCHEMA),
                     (Topics.Quarantine, QuarantineRecord._SCHEMA), (Topics.DeadLetters, DeadLetterRecord._SCHEMA),
                 })
        {
            cluster.CreateTopic(topic, topic == Topics.Quarantine || topic == Topics.DeadLetters ? 1 : partitions, 1);
            await client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }

        var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true, LingerMs = 5, BatchSize = 1_000_000, CompressionType = CompressionType.Lz4,
        }).Build();
        return new SinkTestStack(cluster, registry, client, producer, partitions);
    }

    public static FinanceEvent Payment(string id, string entity, string currency, decimal amount, decimal fee = 0m) => new()
    {
        eventId = $"fe_{id}", eventType = FinanceEventType.PAYMENT_APPLIED, postingKey = $"payment:{id}:applied", correlationId = $"corr-{id}",
        legalEntityId = entity, customerId = $"C-{id}", currency = currency, totalAmount = Money.ToAvro(amount), taxAmount = Money.ToAvro(0m),
        effectiveDate = new DateTime(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc), documentNumber = $"INV-{id}",
        lines = new List<FinanceEventLine> { new() { lineId = $"{id}:cash", kind = FinanceLineKind.CASH, amount = Money.ToAvro(amount) } }
            .Concat(fee > 0m ? [new FinanceEventLine { lineId = $"{id}:fee", kind = FinanceLineKind.FEE, amount = Money.ToAvro(fee) }] : []).ToList(),
        source = new SourceRef { system = "stripe", objectType = "payment", objectId = id, eventId = $"evt_{id}" },
        createdAt = new DateTime(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc),
    };

    public static FinanceEvent Invoice(string id, string entity, string currency, decimal services, decimal subscription, decimal tax, string jurisdiction) => new()
    {
        eventId = $"fe_{id}", eventType = FinanceEventType.INVOICE_ISSUED, postingKey = $"invoice:{id}:issued", correlationId = $"corr-{id}",
        legalEntityId = entity, customerId = $"C-{id}", currency = currency, totalAmount = Money.ToAvro(services + subscription + tax), taxAmount = Money.ToAvro(tax),
        effectiveDate = new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc), documentNumber = $"INV-{id}",
        lines =
        [
            new FinanceEventLine { lineId = $"{id}:svc", kind = FinanceLineKind.SERVICES, amount = Money.ToAvro(services) },
            new FinanceEventLine
            {
                lineId = $"{id}:sub", kind = FinanceLineKind.SUBSCRIPTION, amount = Money.ToAvro(subscription),
                servicePeriodStart = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc), servicePeriodEnd = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc),
            },
            new FinanceEventLine { lineId = $"{id}:tax", kind = FinanceLineKind.TAX, amount = Money.ToAvro(tax), taxJurisdiction = jurisdiction },
        ],
        source = new SourceRef { system = "stripe", objectType = "invoice", objectId = id, eventId = $"evt_{id}" },
        createdAt = new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc),
    };

    public void Produce(int partition, FinanceEvent e)
        => Producer.Produce(new TopicPartition(Topics.FinanceEvents, partition),
            new Message<string, byte[]> { Key = e.customerId, Value = Events.SerializeValue(e, Topics.FinanceEvents), Headers = TracingHeaders.Create(e.correlationId, null) });

    public async Task<Dictionary<int, long>> EndOffsetsAsync()
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(Topics.FinanceEvents, p));
        return (await admin.ListOffsetsAsync(partitions.Select(tp => new TopicPartitionOffsetSpec { TopicPartition = tp, OffsetSpec = OffsetSpec.Latest() })))
            .ResultInfos.ToDictionary(r => r.TopicPartitionOffsetError.Partition.Value, r => r.TopicPartitionOffsetError.Offset.Value);
    }

    public async Task<Dictionary<int, long>> CommittedAsync(string group)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();
        var partitions = Enumerable.Range(0, Partitions).Select(p => new TopicPartition(Topics.FinanceEvents, p)).ToList();
        return (await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, partitions)])).Single()
            .Partitions.ToDictionary(p => p.Partition.Value, p => p.Offset.IsSpecial ? 0 : p.Offset.Value);
    }

    /// <summary>Polls until <paramref name="done"/> holds for the committed offsets, or the timeout; returns the last offsets read.</summary>
    public async Task<Dictionary<int, long>> WaitCommittedAsync(string group, Func<Dictionary<int, long>, bool> done, TimeSpan timeout, Task? run, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        Dictionary<int, long> committed = [];
        while (DateTime.UtcNow < deadline && run?.IsCompleted != true)
        {
            committed = await CommittedAsync(group);
            if (done(committed))
            {
                break;
            }

            await Task.Delay(100, ct);
        }

        return committed;
    }

    public List<byte[]> ReadAll(string topic)
    {
        using var consumer = new ConsumerBuilder<Ignore, byte[]>(new ConsumerConfig
        {
            BootstrapServers = Cluster.BootstrapServers, GroupId = $"read-{Guid.NewGuid():N}", EnableAutoCommit = false, EnablePartitionEof = true,
        }).Build();
        var count = Cluster.Topics.TryGetValue(topic, out var n) ? n : 1;
        consumer.Assign(Enumerable.Range(0, count).Select(p => new TopicPartitionOffset(topic, p, Offset.Beginning)));
        var values = new List<byte[]>();
        var eof = new HashSet<int>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && eof.Count < count)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null)
            {
                continue;
            }

            if (r.IsPartitionEOF)
            {
                eof.Add(r.Partition.Value);
                continue;
            }

            values.Add(r.Message.Value);
        }

        return values;
    }

    /// <summary>Every record of <paramref name="topic"/>, deserialized as <typeparamref name="T"/>.</summary>
    public List<T> Read<T>(string topic)
        where T : class, Avro.Specific.ISpecificRecord
    {
        var serdes = new AvroSerdes<T>(Client);
        return ReadAll(topic).Select(v => serdes.DeserializeValue(v, topic)).ToList();
    }

    public async ValueTask DisposeAsync()
    {
        Producer.Dispose();
        Client.Dispose();
        await Registry.DisposeAsync();
        Cluster.Dispose();
    }
}
