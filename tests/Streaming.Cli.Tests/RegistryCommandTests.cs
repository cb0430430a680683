using System.Text.RegularExpressions;
using Confluent.SchemaRegistry;
using Streaming.Cli.Commands;
using Streaming.Platform.Embedded;

namespace Streaming.Cli.Tests;

/// <summary>
/// <c>streaming registry serve</c> as its own service over the embedded cluster: it serves the REST API, and a second
/// run on the same cluster (a restart) serves the same ids from the <c>_schemas</c> topic. Bad configuration exits 2.
/// </summary>
public sealed partial class RegistryCommandTests
{
    private const string Schema = """{"type":"record","name":"Ping","fields":[{"name":"at","type":"long"}]}""";

    [GeneratedRegex(@"Schema registry at (\S+),")]
    private static partial Regex ListeningLine();

    private static async Task<(Task<int> Run, string Url, CancellationTokenSource Stop)> ServeAsync(string bootstrapServers)
    {
        var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        var output = new StringWriter();
        var run = Task.Run(() => RegistryCommand.ServeAsync("http://127.0.0.1:0", bootstrapServers, "_schemas", "BACKWARD", inMemory: false, TextWriter.Synchronized(output), TextWriter.Null, stop.Token));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            var match = ListeningLine().Match(output.ToString());
            if (match.Success)
            {
                return (run, match.Groups[1].Value, stop);
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        throw new TimeoutException($"registry serve did not start (exit {(run.IsCompleted ? run.Result : -1)}): {output}");
    }

    [Fact]
    public async Task Serve_keeps_ids_across_a_restart_on_the_same_cluster()
    {
        await using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 1, WatermarkCheckInterval = TimeSpan.Zero });
        cluster.CreateTopic("_schemas", 1, 1);

        var (run1, url1, stop1) = await ServeAsync(cluster.BootstrapServers);
        int id;
        using (var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = url1 }))
        {
            await client.RegisterSchemaAsync("other-value", new Schema("\"string\"", SchemaType.Avro));
            id = await client.RegisterSchemaAsync("ping-value", new Schema(Schema, SchemaType.Avro));
        }

        await stop1.CancelAsync();
        Assert.Equal(0, await run1);
        stop1.Dispose();

        var (run2, url2, stop2) = await ServeAsync(cluster.BootstrapServers);
        using (var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = url2 }))
        {
            Assert.Equal(Schema, (await client.GetSchemaAsync(id)).SchemaString);
            Assert.Equal(id, (await client.GetLatestSchemaAsync("ping-value")).Id);
        }

        await stop2.CancelAsync();
        Assert.Equal(0, await run2);
        stop2.Dispose();
        Assert.Equal(2, id);
    }

    [Fact]
    public async Task Serve_exits_2_on_an_unknown_default_level()
    {
        var error = new StringWriter();

        var exit = await RegistryCommand.ServeAsync("http://127.0.0.1:0", "localhost:1", "_schemas", "SIDEWAYS", inMemory: false, TextWriter.Null, error, TestContext.Current.CancellationToken);

        Assert.Equal(RegistryCommand.ExitBadConfiguration, exit);
        Assert.Contains("SIDEWAYS", error.ToString(), StringComparison.Ordinal);
    }
}
