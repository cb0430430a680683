using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;

namespace Streaming.Producers.Tests;

/// <summary>The producer the connectors and the demo use: Avro through the registry, tracing headers, delivery failures surfaced.</summary>
public sealed class AvroRecordProducerTests
{
    private static LegalEntity Entity(string id) => new()
    {
        legalEntityId = id, name = id, country = "US", functionalCurrency = "USD", taxRegistrationIds = [], billingCountries = ["US"], active = true,
        updatedAt = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc),
    };

    [Fact]
    public async Task Records_arrive_as_registry_framed_avro_with_correlation_headers()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { WatermarkCheckInterval = TimeSpan.Zero });
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        cluster.CreateTopic(Topics.LegalEntities, 1, 3);
        var id = await client.RegisterSchemaAsync(Topics.ValueSubject(Topics.LegalEntities), new Schema(LegalEntity._SCHEMA.ToString(), SchemaType.Avro));

        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build())
        {
            var records = new AvroRecordProducer(producer, client);
            records.Produce(Topics.LegalEntities, "US01", Entity("US01"), "corr-1");
            records.Produce(Topics.LegalEntities, "DE01", Entity("DE01"), "corr-2");
            await records.FlushAsync(TimeSpan.FromSeconds(20), ct);
            Assert.Equal(2, records.Delivered);
        }

        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "t", AutoOffsetReset = AutoOffsetReset.Earliest }).Build();
        consumer.Assign(new TopicPartitionOffset(Topics.LegalEntities, 0, 0));
        var serdes = new AvroSerdes<LegalEntity>(client);
        var seen = new List<(string Key, string Id, string? Corr, int SchemaId)>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (seen.Count < 2 && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r?.Message is { } m)
            {
                Assert.Equal(0, m.Value[0]); // Confluent magic byte
                var schemaId = System.Buffers.Binary.BinaryPrimitives.ReadInt32BigEndian(m.Value.AsSpan(1, 4));
                seen.Add((m.Key, serdes.DeserializeValue(m.Value, r.Topic).legalEntityId, TracingHeaders.Get(m.Headers, TracingHeaders.CorrelationId), schemaId));
                Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", TracingHeaders.Get(m.Headers, TracingHeaders.TraceParent));
            }
        }

        Assert.Equal([("US01", "US01", "corr-1", id), ("DE01", "DE01", "corr-2", id)], seen);
    }

    [Fact]
    public async Task A_failed_delivery_is_surfaced_by_flush_not_swallowed()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { WatermarkCheckInterval = TimeSpan.Zero });
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        cluster.CreateTopic(Topics.LegalEntities, 1, 3);
        await client.RegisterSchemaAsync(Topics.ValueSubject(Topics.LegalEntities), new Schema(LegalEntity._SCHEMA.ToString(), SchemaType.Avro));
        cluster.SetTopicError(Topics.LegalEntities, ErrorCode.TopicAuthorizationFailed);

        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, MessageTimeoutMs = 3000 }).Build();
        var records = new AvroRecordProducer(producer, client);

        // Depending on whether the producer has seen the topic's error in metadata yet, Produce throws at once or
        // the delivery report fails and FlushAsync throws: either way the caller learns of it.
        var surfaced = await Record.ExceptionAsync(async () =>
        {
            records.Produce(Topics.LegalEntities, "US01", Entity("US01"), "corr-1");
            await records.FlushAsync(TimeSpan.FromSeconds(20), ct);
        });

        var kafkaError = Assert.IsAssignableFrom<KafkaException>(surfaced);
        Assert.Contains("authorization", kafkaError.Message, StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, records.Delivered);
    }
}
