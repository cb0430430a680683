using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streaming.Platform.Topics;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Hosting;

namespace Streaming.Processors.Tests;

/// <summary>Internal-topic derivation from a topology description; the running case is in the integration tests.</summary>
public sealed class StreamizInternalTopicsTests
{
    [Fact]
    public void Finance_topology_needs_no_internal_topics_because_master_data_is_global()
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = "http://127.0.0.1:9" });
        var builder = new StreamBuilder();
        FinanceMappingTopology.ConfigureTopology(builder, new FinanceSerdes(registry));

        var internals = StreamizInternalTopics.For(builder.Build(), FinanceMappingTopology.ApplicationId, TopicManifest.LoadEmbedded());

        Assert.Empty(internals);
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
