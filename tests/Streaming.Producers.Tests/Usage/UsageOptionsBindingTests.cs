using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Streaming.Platform.Configuration;
using Streaming.Producers.Usage;

namespace Streaming.Producers.Tests.Usage;

/// <summary>The documented configuration keys (Usage:Ingestor, Usage:Http) bind, and bad values fail naming the key.</summary>
public sealed class UsageOptionsBindingTests
{
    [Fact]
    public void Documented_keys_bind_into_the_options()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Usage:Ingestor:Capacity"] = "50000",
            ["Usage:Ingestor:QueueFullWait"] = "00:00:10",
            ["Usage:Http:MaxBodyBytes"] = "1048576",
            ["Usage:Http:MaxConcurrentRequests"] = "8",
            ["Usage:Http:RetryAfter"] = "00:00:02",
            ["Usage:Http:Rules:MaxFutureSkew"] = "00:01:00",
            ["Usage:Http:Rules:MaxAttributes"] = "8",
        }).Build();

        var ingestor = configuration.BindValidated<UsageIngestorOptions>(UsageIngestorOptions.Section);
        var http = configuration.BindValidated<UsageEndpointOptions>(UsageEndpointOptions.Section);

        Assert.Equal((50_000, TimeSpan.FromSeconds(10)), (ingestor.Capacity, ingestor.QueueFullWait));
        Assert.Equal((1_048_576L, 8, TimeSpan.FromSeconds(2)), (http.MaxBodyBytes, http.MaxConcurrentRequests, http.RetryAfter));
        Assert.Equal((TimeSpan.FromMinutes(1), 8), (http.Rules.MaxFutureSkew, http.Rules.MaxAttributes));
    }

    [Fact]
    public void A_bad_value_fails_naming_the_key()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Usage:Ingestor:Capacity"] = "0" }).Build();

        var ex = Assert.Throws<OptionsValidationException>(() => configuration.BindValidated<UsageIngestorOptions>(UsageIngestorOptions.Section));

        Assert.Contains("Usage:Ingestor:Capacity", ex.Message, StringComparison.Ordinal);
    }
}
