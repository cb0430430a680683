using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;

namespace Streaming.Cli.Tests;

/// <summary><c>connectors serve</c> and <c>up</c> refuse bad connector (and usage ingestion) settings before starting anything, naming the key and never a secret.</summary>
public sealed class ConnectorsCommandTests
{
    private static IConfiguration Config(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public async Task Bad_connector_settings_stop_serve_and_up_with_exit_2_naming_the_key()
    {
        var values = new Dictionary<string, string?>
        {
            ["Connectors:MaxBodyBytes"] = "1",
            ["Connectors:Stripe:WebhookSecrets:0"] = "whsec_must_not_be_printed",
            ["Connectors:HubSpot:ClientSecretFile"] = "/nonexistent/hubspot-secret",
        };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await ConnectorsCommand.ServeAsync("http://127.0.0.1:0", output, error, TestContext.Current.CancellationToken, Config(values));
        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("Connectors:MaxBodyBytes", error.ToString(), StringComparison.Ordinal);
        Assert.Contains("Connectors:HubSpot:ClientSecretFile", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("whsec_must_not_be_printed", error.ToString() + output.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());

        var upError = new StringWriter();
        var upExit = await UpCommand.RunAsync(demo: false, ledgerPath: null, timeoutSeconds: 30, new StringWriter(), upError, TestContext.Current.CancellationToken,
            Config(values), urls: "http://127.0.0.1:0");
        Assert.Equal(UpCommand.ExitBadConfiguration, upExit);
        Assert.Contains("Connectors:MaxBodyBytes", upError.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Bad_usage_ingestion_settings_stop_serve_and_up_with_exit_2_naming_the_key()
    {
        var values = new Dictionary<string, string?> { ["Usage:Ingestor:Capacity"] = "0", ["Usage:Http:MaxConcurrentRequests"] = "0" };
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await ConnectorsCommand.ServeAsync("http://127.0.0.1:0", output, error, TestContext.Current.CancellationToken, Config(values));
        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("Usage:Ingestor:Capacity", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());

        var upError = new StringWriter();
        var upExit = await UpCommand.RunAsync(demo: false, ledgerPath: null, timeoutSeconds: 30, new StringWriter(), upError, TestContext.Current.CancellationToken,
            Config(values), urls: "http://127.0.0.1:0");
        Assert.Equal(UpCommand.ExitBadConfiguration, upExit);
        Assert.Contains("Usage:Ingestor:Capacity", upError.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Up_and_serve_listen_on_127_0_0_1_8080_unless_urls_says_otherwise()
    {
        var root = new System.CommandLine.RootCommand { UpCommand.Create(), ConnectorsCommand.Create() };
        Assert.Equal("http://127.0.0.1:8080", root.Parse("up").GetValue<string>("--urls"));
        Assert.Equal("http://0.0.0.0:9000", root.Parse("up --urls http://0.0.0.0:9000").GetValue<string>("--urls"));
        Assert.Equal("http://127.0.0.1:8080", root.Parse("connectors serve").GetValue<string>("--urls"));
    }
}
