using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;

namespace Streaming.Cli.Tests;

/// <summary><c>up</c> refuses bad settings before starting anything, naming each bad key; it never half-starts.</summary>
public sealed class UpCommandConfigurationTests
{
    private static IConfiguration Config(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public async Task Bad_settings_stop_start_up_with_exit_2_and_name_every_key()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await UpCommand.RunAsync(demo: true, ledgerPath: null, timeoutSeconds: 30, output, error, TestContext.Current.CancellationToken,
            Config(new() { ["Kafka:Producer:linger.mss"] = "5", ["SchemaRegistry:Url"] = "registry:8081" }));

        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("Kafka:Producer:linger.mss", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("SchemaRegistry:Url 'registry:8081'", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString()); // nothing was started
    }

    [Fact]
    public async Task Out_of_range_embedded_broker_count_is_named()
    {
        var error = new StringWriter();
        var exit = await UpCommand.RunAsync(demo: true, ledgerPath: null, timeoutSeconds: 30, new StringWriter(), error, TestContext.Current.CancellationToken,
            Config(new() { ["Embedded:Brokers"] = "64" }));

        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("Embedded:Brokers", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_processing_guarantee_is_named_with_its_key()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await UpCommand.RunAsync(demo: true, ledgerPath: null, timeoutSeconds: 30, output, error, TestContext.Current.CancellationToken,
            Config(new() { ["Processors:ProcessingGuarantee"] = "exactly_once_v2" }));

        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("Processors:ProcessingGuarantee must be 'AtLeastOnce' or 'ExactlyOnce'", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString()); // nothing was started
    }

    [Fact]
    public async Task Out_of_range_stream_thread_settings_are_named_with_their_keys()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await UpCommand.RunAsync(demo: true, ledgerPath: null, timeoutSeconds: 30, output, error, TestContext.Current.CancellationToken,
            Config(new() { ["Processors:MaxPollRecords"] = "0", ["Processors:CommitIntervalMs"] = "5", ["Processors:FetchQueueBackoffMs"] = "-1", ["Processors:ProducerLingerMs"] = "1001", ["Processors:PollMs"] = "0" }));

        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("Processors:MaxPollRecords must be between 1 and 100000", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Processors:CommitIntervalMs must be between 10 and 60000", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Processors:FetchQueueBackoffMs must be between 0 and 300000", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Processors:ProducerLingerMs must be between 0 and 1000", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Processors:PollMs must be between 1 and 1000", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString()); // nothing was started
    }

    [Fact]
    public async Task A_real_cluster_with_the_in_memory_registry_is_refused()
    {
        var error = new StringWriter();
        var exit = await UpCommand.RunAsync(demo: false, ledgerPath: null, timeoutSeconds: 30, new StringWriter(), error, TestContext.Current.CancellationToken,
            Config(new() { ["Kafka:BootstrapServers"] = "broker-1:9092" }));

        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("SchemaRegistry:Url (or SCHEMA_REGISTRY_URL) must be set", error.ToString(), StringComparison.Ordinal);
    }
}
