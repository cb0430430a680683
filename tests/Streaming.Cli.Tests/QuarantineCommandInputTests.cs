using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;

namespace Streaming.Cli.Tests;

/// <summary>
/// <c>quarantine resubmit</c> refuses to send everything by accident and explains a missing cluster with exit 2, before it
/// touches a broker. Listing and resubmitting on a broker: <c>Streaming.IntegrationTests.QuarantineCommandTests</c>.
/// </summary>
public sealed class QuarantineCommandInputTests
{
    private static readonly IConfiguration NoCluster = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>()).Build();

    [Fact]
    public async Task Resubmit_without_a_selection_is_refused_with_exit_2()
    {
        var error = new StringWriter();
        var exit = await QuarantineCommand.RunAsync(resubmit: true, new QuarantineCommand.Selection(null, null, null, All: false), new StringWriter(), error,
            TestContext.Current.CancellationToken, NoCluster);

        Assert.Equal(QuarantineCommand.ExitBadInput, exit);
        Assert.Contains("quarantine resubmit needs a selection", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_configured_cluster_is_explained_with_exit_2()
    {
        var error = new StringWriter();
        var exit = await QuarantineCommand.RunAsync(resubmit: false, new QuarantineCommand.Selection("MISSING_ACCOUNT_LINK", null, null, All: false),
            new StringWriter(), error, TestContext.Current.CancellationToken, NoCluster);

        Assert.Equal(QuarantineCommand.ExitBadInput, exit);
        Assert.Contains("none is configured: set KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_real_cluster_without_a_registry_is_explained_with_exit_2()
    {
        var error = new StringWriter();
        var exit = await QuarantineCommand.RunAsync(resubmit: true, new QuarantineCommand.Selection(null, "corr-1", null, All: false), new StringWriter(), error,
            TestContext.Current.CancellationToken, new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Kafka:BootstrapServers"] = "localhost:9092" }).Build());

        Assert.Equal(QuarantineCommand.ExitBadInput, exit);
        Assert.Contains("SCHEMA_REGISTRY_URL", error.ToString(), StringComparison.Ordinal);
    }
}
