using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.Stream;
using Streaming.Contracts;
using Streaming.Platform.Topics;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Hosting;

namespace Streaming.Processors.Tests;

/// <summary>Internal-topic derivation from a topology description; the running case is in the integration tests.</summary>
public sealed class StreamizInternalTopicsTests
{
    [Fact]
    public void Finance_topology_needs_changelogs_for_its_stores_and_one_repartition_topic_for_credit_notes()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = "http://127.0.0.1:9" });
        var builder = new StreamBuilder();
        FinanceMappingTopology.ConfigureTopology(builder, new FinanceSerdes(registry));

        var internals = StreamizInternalTopics.For(builder.Build(), FinanceMappingTopology.ApplicationId, TopicManifest.LoadEmbedded());

        // Master data is global (no internal topics); the four processor stores need changelogs, credit notes a repartition topic.
        Assert.Equal(
            [
                ($"{FinanceMappingTopology.ApplicationId}-credit-notes-by-invoice-repartition", 6),
                ($"{FinanceMappingTopology.ApplicationId}-finance-invoices-changelog", 6),
                ($"{FinanceMappingTopology.ApplicationId}-finance-orders-changelog", 6),
                ($"{FinanceMappingTopology.ApplicationId}-finance-payments-changelog", 6),
                ($"{FinanceMappingTopology.ApplicationId}-usage-windows-changelog", 12),
            ],
            internals.Select(t => (t.Name, t.Partitions)));
    }

    [Fact]
    public void Finance_topology_reads_master_data_only_through_GlobalKTables()
    {
        // A KStream–KTable join drops a record that arrives before its table partition is read (the exactly-once
        // "stall" of docs/processors.md); GlobalKTables are read to their end before any record is processed.
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = "http://127.0.0.1:9" });
        var builder = new StreamBuilder();
        FinanceMappingTopology.ConfigureTopology(builder, new FinanceSerdes(registry));
        var description = builder.Build().Describe();
        string[] masterData = [Topics.AccountLinks, Topics.LegalEntities, Topics.Products, Topics.TaxRules, Topics.GlMappings, Topics.CrmAccounts];

        var streamSources = description.SubTopologies.SelectMany(st => st.Nodes.OfType<ISourceNodeDescription>()).SelectMany(n => n.Topics).ToHashSet();
        var globalSources = description.GlobalStores.SelectMany(g => g.Source.Topics).ToHashSet();

        Assert.All(masterData, t => Assert.DoesNotContain(t, streamSources));
        Assert.All(masterData, t => Assert.Contains(t, globalSources));
    }

    [Fact]
    public void A_topology_reading_an_undeclared_topic_is_refused_naming_it()
    {
        var builder = new StreamBuilder();
        builder.Stream<string, string, StringSerDes, StringSerDes>("not.in.manifest").To<StringSerDes, StringSerDes>("finance.events.v1");

        var ex = Assert.Throws<InvalidOperationException>(() => StreamizInternalTopics.For(builder.Build(), "app", TopicManifest.LoadEmbedded()));

        Assert.Contains("'not.in.manifest'", ex.Message, StringComparison.Ordinal);
    }
}
