using System.CommandLine;
using Streaming.Cli.Commands;
using Streaming.Platform.Topics;

namespace Streaming.Cli.Tests;

/// <summary>
/// <c>streaming topics list | render-k8s | apply</c> parsing, output and exit codes. Applying to a broker (real or
/// embedded) is not covered here; the apply decisions are tested in Streaming.Platform.Tests.
/// </summary>
public class TopicsCommandTests
{
    [Fact]
    public async Task List_prints_a_header_and_one_row_per_manifest_topic()
    {
        var (exit, output, _) = await RunAsync("topics", "list");

        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(0, exit);
        Assert.StartsWith("TOPIC", lines[0], StringComparison.Ordinal);
        var manifest = TopicManifest.LoadEmbedded();
        Assert.Equal(manifest.Topics.Count + 1, lines.Length);
        Assert.Matches(@"^billing\.usage\.v1\s+12\s+3\s+2\s+delete\s+7d\s+segment\.ms=21600000\s+usage ingest", lines.Single(l => l.StartsWith("billing.usage.v1", StringComparison.Ordinal)));
        Assert.Matches(@"^_schemas\s+1\s+3\s+2\s+compact\s+forever", lines.Single(l => l.StartsWith("_schemas", StringComparison.Ordinal)));
    }

    [Fact]
    public async Task Render_k8s_prints_the_strimzi_topics_for_the_given_cluster()
    {
        var (exit, output, _) = await RunAsync("topics", "render-k8s", "--cluster-name", "kafka-test");

        Assert.Equal(0, exit);
        Assert.Equal(StrimziTopicRenderer.Render(TopicManifest.LoadEmbedded(), "kafka-test"), output);
        Assert.Contains("strimzi.io/cluster: kafka-test", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_bad_manifest_exits_with_2_and_names_the_topic_and_field()
    {
        var path = Path.Combine(Path.GetTempPath(), $"bad-manifest-{Guid.NewGuid():N}.json");
        await File.WriteAllTextAsync(path, """
            { "topics": [ { "name": "a.v1", "partitions": 0, "replicationFactor": 3, "cleanupPolicy": "delete",
                            "retentionMs": 1000, "minInsyncReplicas": 2 } ] }
            """, TestContext.Current.CancellationToken);
        try
        {
            foreach (var command in new[] { "apply", "list", "render-k8s" })
            {
                var (exit, _, error) = await RunAsync("topics", command, "--manifest", path);
                Assert.Equal(TopicsCommand.ExitBadManifest, exit);
                Assert.Contains("topic 'a.v1': partitions must be at least 1 (was 0)", error, StringComparison.Ordinal);
            }
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Apply_without_bootstrap_servers_or_an_embedded_cluster_factory_exits_with_1()
    {
        Assert.SkipWhen(Environment.GetEnvironmentVariable(TopicsCommand.BootstrapServersEnvironmentVariable) is { Length: > 0 },
            "KAFKA_BOOTSTRAP_SERVERS is set");

        var (exit, _, error) = await RunAsync("topics", "apply", "--dry-run");

        Assert.Equal(TopicsCommand.ExitDriftOrErrors, exit);
        Assert.Contains("No bootstrap servers", error, StringComparison.Ordinal);
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand { TopicsCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }
}
