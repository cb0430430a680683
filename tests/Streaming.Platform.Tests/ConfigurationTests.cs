using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Streaming.Platform.Configuration;

namespace Streaming.Platform.Tests;

/// <summary>Typed options: librdkafka pass-through validated by librdkafka itself, env mapping, and errors that name the key.</summary>
public sealed class ConfigurationTests
{
    private static IConfiguration Config(Dictionary<string, string?> values, Func<string, string?>? env = null)
        => new ConfigurationBuilder().AddInMemoryCollection(values).AddStreamingEnvironment(env ?? (_ => null)).Build();

    [Fact]
    public void No_bootstrap_servers_means_the_embedded_stack()
    {
        var kafka = Config([]).BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
        Assert.True(kafka.UseEmbedded);
    }

    [Fact]
    public void Environment_variables_set_the_cluster_and_registry()
    {
        var config = Config([], name => name switch { "KAFKA_BOOTSTRAP_SERVERS" => "k1:9092,k2:9092", "SCHEMA_REGISTRY_URL" => "http://sr:8081", _ => null });
        Assert.Equal("k1:9092,k2:9092", config.BindValidated(KafkaOptions.Section, new KafkaOptionsValidator()).BootstrapServers);
        Assert.Equal("http://sr:8081", config.BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator()).Url);
    }

    [Fact]
    public void Any_librdkafka_key_passes_through_and_a_bad_one_is_named()
    {
        var ok = Config(new() { ["Kafka:Producer:linger.ms"] = "20", ["Kafka:Common:client.rack"] = "eu-1a" })
            .BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
        Assert.Equal("20", ok.Producer["linger.ms"]);

        var ex = Assert.Throws<OptionsValidationException>(() => Config(new() { ["Kafka:Producer:linger.mss"] = "20", ["Kafka:Consumer:fetch.wait.max.ms"] = "soon" })
            .BindValidated(KafkaOptions.Section, new KafkaOptionsValidator()));
        Assert.Contains(ex.Failures, f => f.Contains("Kafka:Producer:linger.mss", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("Kafka:Consumer:fetch.wait.max.ms", StringComparison.Ordinal));
    }

    [Fact]
    public void Malformed_bootstrap_address_and_registry_url_are_named()
    {
        var kafka = Assert.Throws<OptionsValidationException>(() => Config(new() { ["Kafka:BootstrapServers"] = "broker-without-port" })
            .BindValidated(KafkaOptions.Section, new KafkaOptionsValidator()));
        Assert.Contains("broker-without-port", Assert.Single(kafka.Failures), StringComparison.Ordinal);

        var registry = Assert.Throws<OptionsValidationException>(() => Config(new() { ["SchemaRegistry:Url"] = "sr:8081" })
            .BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator()));
        Assert.Contains("SchemaRegistry:Url 'sr:8081'", Assert.Single(registry.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void Out_of_range_and_unknown_settings_stop_binding_with_the_key()
    {
        var range = Assert.Throws<OptionsValidationException>(() => Config(new() { ["Embedded:Brokers"] = "0" }).BindValidated<EmbeddedStackOptions>(EmbeddedStackOptions.Section));
        Assert.Contains("Embedded:Brokers", Assert.Single(range.Failures), StringComparison.Ordinal);

        var unknown = Assert.Throws<OptionsValidationException>(() => Config(new() { ["Ledger:SqlitePth"] = "x.db" }).BindValidated<LedgerOptions>(LedgerOptions.Section));
        Assert.Contains("SqlitePth", Assert.Single(unknown.Failures), StringComparison.Ordinal);
    }

    [Fact]
    public void Producers_cannot_be_configured_out_of_idempotence_or_acks_all()
    {
        var ex = Assert.Throws<OptionsValidationException>(() => Config(new() { ["Kafka:Producer:enable.idempotence"] = "false", ["Kafka:Common:acks"] = "1" })
            .BindValidated(KafkaOptions.Section, new KafkaOptionsValidator()));
        Assert.Contains(ex.Failures, f => f.StartsWith("Kafka:Producer:enable.idempotence = 'false'", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.StartsWith("Kafka:Common:acks = '1'", StringComparison.Ordinal));
    }
}
