using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;
using Streaming.Cli.Replay;

namespace Streaming.Cli.Tests;

/// <summary>
/// <c>replay</c> rejects bad options with exit 2 and a message naming the problem, before it touches any cluster; with no
/// cluster configured it says so instead of starting an empty embedded broker. The resets themselves are covered by
/// <c>Streaming.IntegrationTests.ReplayCommandTests</c>.
/// </summary>
public sealed class ReplayCommandInputTests
{
    private static readonly IConfiguration NoCluster = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>()).Build();

    [Theory]
    [InlineData(null, "t", true, null, null, "--group is required")]
    [InlineData("g", null, true, null, null, "--topic is required")]
    [InlineData("g", "t", false, null, null, "Choose where to move the offsets")]
    [InlineData("g", "t", true, "0:1", null, "Choose one mode, not --to-earliest and --to-offset")]
    [InlineData("g", "t", false, "0:1", "2026-11-01T00:00:00Z", "Choose one mode, not --to-offset and --to-datetime")]
    [InlineData("g", "t", false, "0:1,x:2", null, "--to-offset entry 'x:2' is not partition:offset")]
    [InlineData("g", "t", false, "0:-1", null, "--to-offset entry '0:-1' is not partition:offset")]
    [InlineData("g", "t", false, "0", null, "--to-offset entry '0' is not partition:offset")]
    [InlineData("g", "t", false, "1:5,1:6", null, "--to-offset names partition 1 twice")]
    [InlineData("g", "t", false, null, "yesterday", "--to-datetime 'yesterday' is not an ISO 8601 date-time")]
    public async Task Bad_options_exit_2_naming_the_problem(string? group, string? topic, bool earliest, string? offsets, string? at, string message)
    {
        var error = new StringWriter();
        var exit = await ReplayCommand.RunAsync(group, topic, earliest, offsets, at, dryRun: true, new StringWriter(), error,
            TestContext.Current.CancellationToken, NoCluster);

        Assert.Equal(ReplayCommand.ExitBadInput, exit);
        Assert.Contains(message, error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task No_configured_cluster_is_explained_with_exit_2()
    {
        var error = new StringWriter();
        var output = new StringWriter();
        var exit = await ReplayCommand.RunAsync("g", "finance.events.v1", true, null, null, dryRun: false, output, error,
            TestContext.Current.CancellationToken, NoCluster);

        Assert.Equal(ReplayCommand.ExitBadInput, exit);
        Assert.Contains("replay needs a Kafka cluster, and none is configured", error.ToString(), StringComparison.Ordinal);
        Assert.Equal("", output.ToString());
    }

    [Fact]
    public void Offsets_and_times_parse_exactly()
    {
        var offsets = ReplayTarget.ParseOffsets("2:40, 0:7");
        Assert.Equal([(0, 7L), (2, 40L)], offsets.ByPartition.Select(kv => (kv.Key, kv.Value)));

        Assert.Equal(new DateTimeOffset(2026, 11, 1, 9, 0, 0, TimeSpan.Zero), ReplayTarget.ParseDateTime("2026-11-01T10:00:00+01:00").At);
        Assert.Equal(new DateTimeOffset(2026, 11, 1, 10, 0, 0, TimeSpan.Zero), ReplayTarget.ParseDateTime("2026-11-01T10:00:00").At);
    }

    [Fact]
    public void Plan_counts_rereads_only_behind_the_committed_offset()
    {
        var plan = new ReplayPlan("g", "t", new ReplayTarget.Earliest(),
            [new ReplayPartitionPlan(0, 10, 0, 0, 10), new ReplayPartitionPlan(1, null, 0, 0, 4), new ReplayPartitionPlan(2, 2, 5, 0, 9)], 0, "0 active (state Empty)");

        Assert.Equal(10, plan.TotalReread);
        var text = plan.Render();
        Assert.Contains("Records re-read: 10", text, StringComparison.Ordinal);
        Assert.Matches(@"(?m)^1\s+none\s+0\s+0\s+4\s+0$", text);
        Assert.Matches(@"(?m)^2\s+2\s+5\s+0\s+9\s+0\s+skips 3$", text);
    }
}
