using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;
using Streaming.Platform.Configuration;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.NetSuite;

namespace Streaming.Cli.Tests;

/// <summary>
/// <c>Ledger:Provider=NetSuite</c> selects the NetSuite REST adapter for <c>up</c> and <c>streaming sink</c>: missing or bad
/// <c>NetSuite</c> settings stop start-up with exit 2 and name each key; the adapter's location names the REST root and account,
/// never a secret. (Posting through it: Streaming.Sinks.Tests NetSuiteSinkTests.)
/// </summary>
public sealed class NetSuiteLedgerSelectionTests
{
    private static IConfiguration Config(Dictionary<string, string?> values) => new ConfigurationBuilder().AddInMemoryCollection(values).Build();

    [Fact]
    public async Task Up_with_the_NetSuite_provider_and_missing_settings_exits_2_naming_every_key()
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var exit = await UpCommand.RunAsync(demo: true, ledgerPath: null, timeoutSeconds: 30, output, error, TestContext.Current.CancellationToken,
            Config(new() { ["Ledger:Provider"] = "NetSuite", ["NetSuite:BaseUrl"] = "not a url", ["NetSuite:MaxConcurrency"] = "0" }));

        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        foreach (var key in new[] { "NetSuite:BaseUrl", "NetSuite:AccountId", "NetSuite:ConsumerKey", "NetSuite:ConsumerSecret", "NetSuite:TokenId", "NetSuite:TokenSecret", "NetSuite:MaxConcurrency" })
        {
            Assert.Contains(key, error.ToString(), StringComparison.Ordinal);
        }

        Assert.Equal("", output.ToString()); // nothing was started
    }

    [Fact]
    public async Task The_sink_command_with_the_NetSuite_provider_and_missing_settings_exits_2_naming_the_key()
    {
        var error = new StringWriter();
        var exit = await SinkCommand.RunAsync(null, null, 500, 200, new StringWriter(), error, TestContext.Current.CancellationToken,
            Config(new()
            {
                ["Kafka:BootstrapServers"] = "broker-1:9092", ["SchemaRegistry:Url"] = "http://registry:8081", ["Ledger:Provider"] = "NetSuite",
                ["NetSuite:BaseUrl"] = "https://1234567-sb1.suitetalk.api.netsuite.com", ["NetSuite:AccountId"] = "1234567_SB1",
                ["NetSuite:ConsumerKey"] = "ck", ["NetSuite:ConsumerSecret"] = "cs", ["NetSuite:TokenId"] = "tk",
            }));

        Assert.Equal(UpCommand.ExitBadConfiguration, exit);
        Assert.Contains("NetSuite:TokenSecret", error.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("NetSuite:BaseUrl", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_factory_opens_the_NetSuite_adapter_whose_location_shows_url_and_account_but_no_secret()
    {
        var configuration = Config(new()
        {
            ["Ledger:Provider"] = "NetSuite", ["NetSuite:BaseUrl"] = "https://1234567-sb1.suitetalk.api.netsuite.com/", ["NetSuite:AccountId"] = "1234567_SB1",
            ["NetSuite:ConsumerKey"] = "ck-key", ["NetSuite:ConsumerSecret"] = "cs-very-secret", ["NetSuite:TokenId"] = "tk-id", ["NetSuite:TokenSecret"] = "ts-very-secret",
        });
        var ledgerOptions = configuration.BindValidated<LedgerOptions>(LedgerOptions.Section);
        var netSuite = LedgerFactory.BindNetSuite(ledgerOptions, configuration);

        await using var ledger = await LedgerFactory.OpenAsync(ledgerOptions, TestContext.Current.CancellationToken, null, netSuite);

        Assert.IsType<NetSuiteLedger>(ledger);
        Assert.Equal("NetSuite https://1234567-sb1.suitetalk.api.netsuite.com (account 1234567_SB1)", ledger.Location);
        Assert.DoesNotContain("secret", ledger.Location + netSuite, StringComparison.Ordinal);
        Assert.Null(LedgerFactory.BindNetSuite(new LedgerOptions(), configuration)); // SQLite: the NetSuite section is not read
        await Assert.ThrowsAsync<ArgumentException>(() => LedgerFactory.OpenAsync(ledgerOptions, TestContext.Current.CancellationToken));
    }
}
