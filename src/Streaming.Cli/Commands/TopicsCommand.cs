using System.CommandLine;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Streaming.Platform.Embedded;
using Streaming.Platform.Topics;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming topics</c>: apply the topic manifest, list it, or render it as Strimzi resources.</summary>
public static class TopicsCommand
{
    public const int ExitOk = 0;
    public const int ExitDriftOrErrors = 1;
    /// <summary>Exit code for a bad manifest or bad configuration.</summary>
    public const int ExitBadManifest = 2;

    public const string BootstrapServersEnvironmentVariable = "KAFKA_BOOTSTRAP_SERVERS";

    /// <summary>
    /// Builds the <c>topics</c> command. <paramref name="startEmbeddedCluster"/> starts the embedded mock cluster when
    /// no bootstrap servers are configured; the command owns what it returns and disposes it after applying.
    /// </summary>
    public static Command Create(Func<CancellationToken, Task<IMockTopicCreator>>? startEmbeddedCluster = null)
    {
        var manifestOption = new Option<FileInfo?>("--manifest")
        {
            Description = "Topic manifest JSON file (default: the manifest built into Streaming.Platform).",
        };

        var bootstrapOption = new Option<string?>("--bootstrap-servers")
        {
            Description = $"Kafka bootstrap servers (default: ${BootstrapServersEnvironmentVariable}; when neither is set, the embedded mock cluster).",
        };
        var dryRunOption = new Option<bool>("--dry-run")
        {
            Description = "Report what would be created and any drift; change nothing.",
        };
        var clusterNameOption = new Option<string>("--cluster-name")
        {
            Description = "Strimzi Kafka cluster the KafkaTopic resources belong to (strimzi.io/cluster label).",
            DefaultValueFactory = _ => StrimziTopicRenderer.DefaultClusterName,
        };

        var apply = new Command("apply", "Create missing topics from the manifest and report drift; never alters or deletes topics.")
        {
            manifestOption, bootstrapOption, dryRunOption,
        };
        apply.SetAction((parseResult, cancellationToken) => ApplyAsync(
            parseResult.GetValue(manifestOption)?.FullName,
            parseResult.GetValue(bootstrapOption),
            parseResult.GetValue(dryRunOption),
            startEmbeddedCluster,
            parseResult.InvocationConfiguration.Output,
            parseResult.InvocationConfiguration.Error,
            cancellationToken));

        var list = new Command("list", "Print the topic manifest as a table.") { manifestOption };
        list.SetAction(parseResult => WithManifest(parseResult.GetValue(manifestOption)?.FullName, parseResult.InvocationConfiguration.Error, manifest =>
        {
            parseResult.InvocationConfiguration.Output.Write(RenderList(manifest));
            return ExitOk;
        }));

        var renderK8s = new Command("render-k8s", "Print the manifest as Strimzi KafkaTopic resources (k8s/topics.yaml).")
        {
            manifestOption, clusterNameOption,
        };
        renderK8s.SetAction(parseResult => WithManifest(parseResult.GetValue(manifestOption)?.FullName, parseResult.InvocationConfiguration.Error, manifest =>
        {
            parseResult.InvocationConfiguration.Output.Write(StrimziTopicRenderer.Render(manifest, parseResult.GetValue(clusterNameOption)!));
            return ExitOk;
        }));

        return new Command("topics", "Kafka topics declared in the topic manifest.") { apply, list, renderK8s };
    }

    /// <summary>The <c>topics apply</c> action: 0 when everything matches, 1 on drift or errors, 2 on a bad manifest.</summary>
    public static async Task<int> ApplyAsync(
        string? manifestPath,
        string? bootstrapServers,
        bool dryRun,
        Func<CancellationToken, Task<IMockTopicCreator>>? startEmbeddedCluster,
        TextWriter output,
        TextWriter error,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        TopicManifest manifest;
        try
        {
            manifest = LoadManifest(manifestPath);
        }
        catch (TopicManifestException ex)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitBadManifest;
        }

        // The same configuration as `up` (appsettings.json, STREAMING_*, KAFKA_BOOTSTRAP_SERVERS), so security and
        // any other librdkafka keys in Kafka:Common / Kafka:Admin reach the admin client too.
        Platform.Configuration.KafkaOptions kafka;
        try
        {
            kafka = Platform.Configuration.ConfigurationExtensions.BindValidated(UpCommand.LoadConfiguration(),
                Platform.Configuration.KafkaOptions.Section, new Platform.Configuration.KafkaOptionsValidator());
        }
        catch (Microsoft.Extensions.Options.OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync($"Configuration error: {failure}").ConfigureAwait(false);
            }

            return ExitBadManifest;
        }

        var servers = string.IsNullOrWhiteSpace(bootstrapServers) ? kafka.BootstrapServers : bootstrapServers;
        try
        {
            TopicApplyReport report;
            if (!string.IsNullOrWhiteSpace(servers))
            {
                var adminConfig = new AdminClientConfig(kafka.With(kafka.Admin))
                {
                    BootstrapServers = servers,
                };
                using var admin = KafkaTopicAdmin.Connect(adminConfig);
                report = await TopicApplier.ApplyAsync(manifest, admin, dryRun, cancellationToken).ConfigureAwait(false);
            }
            else if (startEmbeddedCluster is null)
            {
                await error.WriteLineAsync($"No bootstrap servers: pass --bootstrap-servers or set {BootstrapServersEnvironmentVariable}.").ConfigureAwait(false);
                return ExitDriftOrErrors;
            }
            else
            {
                var cluster = await startEmbeddedCluster(cancellationToken).ConfigureAwait(false);
                try
                {
                    await error.WriteLineAsync($"No bootstrap servers configured; applying to the embedded mock cluster at {cluster.BootstrapServers} (in memory, gone when this process exits).").ConfigureAwait(false);
                    using var admin = new EmbeddedTopicAdmin(cluster);
                    report = await TopicApplier.ApplyAsync(manifest, admin, dryRun, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    await DisposeAsync(cluster).ConfigureAwait(false);
                }
            }

            await output.WriteAsync(report.Render()).ConfigureAwait(false);
            return report.HasErrors || report.HasDrift ? ExitDriftOrErrors : ExitOk;
        }
        catch (KafkaException ex)
        {
            await error.WriteLineAsync($"Kafka error on {servers ?? "embedded cluster"}: {ex.Error.Code}: {ex.Error.Reason}").ConfigureAwait(false);
            return ExitDriftOrErrors;
        }
    }

    /// <summary>The manifest as a fixed-width table.</summary>
    public static string RenderList(TopicManifest manifest)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        string[] header = ["TOPIC", "PARTITIONS", "RF", "MIN.ISR", "CLEANUP", "RETENTION", "OTHER CONFIGS", "WRITTEN BY", "KEY"];
        var rows = manifest.Topics.Select(t => new[]
        {
            t.Name,
            t.Partitions.ToString(CultureInfo.InvariantCulture),
            t.ReplicationFactor.ToString(CultureInfo.InvariantCulture),
            t.MinInsyncReplicas.ToString(CultureInfo.InvariantCulture),
            t.CleanupPolicy.ToKafkaValue(),
            FormatRetention(t.RetentionMs),
            string.Join(" ", t.Configs.OrderBy(c => c.Key, StringComparer.Ordinal).Select(c => $"{c.Key}={c.Value}")),
            t.Owner,
            t.Key,
        }).ToList();
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var sb = new StringBuilder();
        foreach (var row in rows.Prepend(header))
        {
            sb.AppendLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }

        return sb.ToString();
    }

    private static string FormatRetention(long ms) => ms switch
    {
        -1 => "forever",
        _ when ms % 86_400_000 == 0 => $"{ms / 86_400_000}d",
        _ when ms % 3_600_000 == 0 => $"{ms / 3_600_000}h",
        _ => $"{ms}ms",
    };

    private static int WithManifest(string? path, TextWriter error, Func<TopicManifest, int> action)
    {
        try
        {
            return action(LoadManifest(path));
        }
        catch (TopicManifestException ex)
        {
            error.WriteLine(ex.Message);
            return ExitBadManifest;
        }
    }

    private static TopicManifest LoadManifest(string? path) =>
        path is null ? TopicManifest.LoadEmbedded() : TopicManifest.Load(path);

    private static async ValueTask DisposeAsync(object resource)
    {
        switch (resource)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync().ConfigureAwait(false);
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }
}
