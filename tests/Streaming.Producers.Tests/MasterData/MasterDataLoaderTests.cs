using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.Producers.MasterData;
using Streaming.SchemaRegistry;

namespace Streaming.Producers.Tests.MasterData;

/// <summary>The sample dataset loaded into the embedded broker: every record on its md.* topic under its key, registry-framed, once.</summary>
public sealed class MasterDataLoaderTests
{
    [Fact]
    public async Task The_sample_dataset_lands_on_the_md_topics_keyed_for_the_joins()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { WatermarkCheckInterval = TimeSpan.Zero });
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        foreach (var (topic, schema) in new (string, Avro.Schema)[]
        {
            (Topics.LegalEntities, LegalEntity._SCHEMA), (Topics.Products, Product._SCHEMA), (Topics.TaxRules, TaxRule._SCHEMA),
            (Topics.GlMappings, GlMapping._SCHEMA), (Topics.AccountLinks, AccountLink._SCHEMA),
        })
        {
            cluster.CreateTopic(topic, 1, 3);
            await client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }

        var set = MasterDataReader.Load(MasterDataSamples.Directory());
        IReadOnlyDictionary<string, int> counts;
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build())
        {
            var records = new AvroRecordProducer(producer, client);
            counts = MasterDataLoader.Produce(set, records);
            await records.FlushAsync(TimeSpan.FromSeconds(30), ct);
            Assert.Equal(36, records.Delivered);
        }

        Assert.Equal(new Dictionary<string, int>
        {
            [Topics.LegalEntities] = 2, [Topics.Products] = 4, [Topics.TaxRules] = 3, [Topics.GlMappings] = 19, [Topics.AccountLinks] = 8,
        }, counts);
        Assert.Equal(["US01", "DE01"], Read<LegalEntity>(cluster, client, Topics.LegalEntities, 2).Select(r => r.Key));
        Assert.Equal(["prod_platform", "prod_onboarding", "prod_api", "prod_storage"], Read<Product>(cluster, client, Topics.Products, 4).Select(r => r.Key));
        var links = Read<AccountLink>(cluster, client, Topics.AccountLinks, 8);
        Assert.Equal(["billing:cus_acme", "crm:001A000001", "billing:cus_globex", "crm:001A000002", "billing:cus_initech", "crm:001A000003", "billing:cus_umbrella", "crm:001A000004"],
            links.Select(r => r.Key));
        Assert.All(links, l => Assert.Equal($"md:{l.Value.canonicalCustomerId}", l.Correlation));
        var rule = Read<TaxRule>(cluster, client, Topics.TaxRules, 3)[0];
        Assert.Equal(("tax_us_ca", 0.0725m, "2300-US-CA"), (rule.Key, Money.ToDecimal(rule.Value.rate), rule.Value.taxPayableGlAccount));
    }

    private static List<(string Key, T Value, string? Correlation)> Read<T>(EmbeddedKafkaCluster cluster, ISchemaRegistryClient client, string topic, int count)
        where T : class, Avro.Specific.ISpecificRecord
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = "r" }).Build();
        consumer.Assign(new TopicPartitionOffset(topic, 0, Offset.Beginning));
        var serdes = new AvroSerdes<T>(client);
        var read = new List<(string, T, string?)>();
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (read.Count < count && DateTime.UtcNow < deadline)
        {
            if (consumer.Consume(TimeSpan.FromMilliseconds(100))?.Message is { } m)
            {
                read.Add((m.Key, serdes.DeserializeValue(m.Value, topic), TracingHeaders.Get(m.Headers, TracingHeaders.CorrelationId)));
            }
        }

        Assert.Null(consumer.Consume(TimeSpan.FromMilliseconds(300))); // nothing beyond what was loaded
        return read;
    }
}
