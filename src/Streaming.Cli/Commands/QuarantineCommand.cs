using System.CommandLine;
using System.Globalization;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Streaming.Contracts.Ops;
using Streaming.Platform.Configuration;
using Streaming.Processors.Hosting;

namespace Streaming.Cli.Commands;

/// <summary>
/// <c>streaming quarantine list|resubmit</c>: shows the records in <c>ops.quarantine.v1</c> and sends the selected ones back
/// to their source topics (original key, bytes and headers) once the missing master data exists.
/// </summary>
public static class QuarantineCommand
{
    /// <summary>Listed, resubmitted, or planned with --dry-run.</summary>
    public const int ExitOk = 0;

    /// <summary>The cluster failed a request (quarantine not readable, a resubmission not acknowledged).</summary>
    public const int ExitFailed = 1;

    /// <summary>Bad input: no selection for resubmit, bad configuration, or no cluster configured.</summary>
    public const int ExitBadInput = 2;

    /// <summary>Ctrl-C / SIGTERM (128 + SIGINT).</summary>
    public const int ExitInterrupted = 130;

    /// <summary>Which quarantine records a command applies to; every given criterion must match.</summary>
    public sealed record Selection(string? Reason, string? CorrelationId, string? SourceTopic, bool All)
    {
        /// <summary>True when at least one criterion (or --all) was given.</summary>
        public bool IsExplicit => All || Reason is not null || CorrelationId is not null || SourceTopic is not null;

        /// <summary>Whether <paramref name="q"/> is selected.</summary>
        public bool Matches(QuarantineRecord q)
        {
            ArgumentNullException.ThrowIfNull(q);
            return (Reason is null || string.Equals(q.reasonCode, Reason, StringComparison.Ordinal))
                && (CorrelationId is null || string.Equals(q.correlationId, CorrelationId, StringComparison.Ordinal))
                && (SourceTopic is null || string.Equals(q.sourceTopic, SourceTopic, StringComparison.Ordinal));
        }
    }

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var command = new Command("quarantine", "Inspect ops.quarantine.v1 and resubmit quarantined records to their source topics.");
        command.Subcommands.Add(Build("list", "List quarantined records (all, or those the options select).", resubmit: false));
        command.Subcommands.Add(Build("resubmit", "Send the selected quarantined records back to their source topics, where they are processed again "
            + "(same posting keys, so nothing posts twice). Run it once the missing master data has arrived.", resubmit: true));
        return command;
    }

    private static Command Build(string name, string description, bool resubmit)
    {
        var reason = new Option<string?>("--reason") { Description = "Only records with this reason code (e.g. MISSING_ACCOUNT_LINK)." };
        var correlation = new Option<string?>("--correlation-id") { Description = "Only records with this correlation id." };
        var sourceTopic = new Option<string?>("--source-topic") { Description = "Only records quarantined from this topic (e.g. billing.invoices.v1)." };
        var command = new Command(name, description) { reason, correlation, sourceTopic };
        var all = new Option<bool>("--all") { Description = "Resubmit every quarantined record (required when no other selection is given)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "List what would be resubmitted; send nothing." };
        if (resubmit)
        {
            command.Options.Add(all);
            command.Options.Add(dryRun);
        }

        command.SetAction((parse, ct) => RunAsync(resubmit && !parse.GetValue(dryRun),
            new Selection(parse.GetValue(reason), parse.GetValue(correlation), parse.GetValue(sourceTopic), !resubmit || parse.GetValue(all)),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>
    /// The action. With <paramref name="resubmit"/> false it only lists what <paramref name="selection"/> selects (list, or resubmit --dry-run);
    /// with it true the selection must be explicit (a criterion or --all). 0 ok, 1 the cluster failed, 2 bad input or no cluster.
    /// </summary>
    public static async Task<int> RunAsync(bool resubmit, Selection selection, TextWriter output, TextWriter error, CancellationToken ct,
        IConfiguration? configurationOverride = null)
    {
        ArgumentNullException.ThrowIfNull(selection);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (resubmit && !selection.IsExplicit)
        {
            await error.WriteLineAsync("quarantine resubmit needs a selection: --reason, --correlation-id, --source-topic, or --all for every record "
                + "(use --dry-run to see what would be sent).").ConfigureAwait(false);
            return ExitBadInput;
        }

        var configuration = configurationOverride ?? UpCommand.LoadConfiguration();
        KafkaOptions kafka;
        SchemaRegistryOptions registryOptions;
        try
        {
            kafka = configuration.BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
            registryOptions = configuration.BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator());
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync($"Configuration error: {failure}").ConfigureAwait(false);
            }

            return ExitBadInput;
        }

        if (kafka.UseEmbedded || registryOptions.UseEmbedded)
        {
            await error.WriteLineAsync("quarantine reads ops.quarantine.v1 from a Kafka cluster and its schemas from a registry, and none is configured: "
                + "set KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL (Kafka:BootstrapServers, SchemaRegistry:Url). The embedded stack lives only inside a "
                + "running `streaming up`, so a new one would hold no quarantined records.").ConfigureAwait(false);
            return ExitBadInput;
        }

        var registryConfig = new SchemaRegistryConfig { Url = registryOptions.Url };
        foreach (var (k, v) in registryOptions.Client)
        {
            registryConfig.Set(k, v);
        }

        using var registry = new CachedSchemaRegistryClient(registryConfig);
        var resubmitter = new QuarantineResubmitter(kafka.BootstrapServers!, registry, kafka.Common);
        var selected = new List<QuarantineRecord>();
        try
        {
            var report = await resubmitter.ResubmitAsync(q =>
            {
                if (!selection.Matches(q))
                {
                    return false;
                }

                selected.Add(q);
                return resubmit;
            }, ct).ConfigureAwait(false);
            foreach (var q in selected)
            {
                await output.WriteLineAsync(Describe(q)).ConfigureAwait(false);
            }

            await output.WriteLineAsync(resubmit
                ? $"Resubmitted {report.Resubmitted.Count} of {report.Read} quarantined record(s) to their source topics."
                : $"{selected.Count} of {report.Read} quarantined record(s) selected; nothing sent.")
                .ConfigureAwait(false);
            return ExitOk;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await error.WriteLineAsync(resubmit
                ? "Interrupted: some selected records may have been resubmitted already; resubmitting them again is harmless (same posting keys)."
                : "Interrupted.").ConfigureAwait(false);
            return ExitInterrupted;
        }
        catch (Exception ex) when (ex is KafkaException or TimeoutException or InvalidOperationException or SchemaRegistryException)
        {
            await error.WriteLineAsync($"quarantine {(resubmit ? "resubmit" : "list")} failed on {kafka.BootstrapServers}: {ex.Message}").ConfigureAwait(false);
            return ExitFailed;
        }
    }

    /// <summary>One line per record: id, reason, what was missing, source coordinates, correlation id, posting key.</summary>
    public static string Describe(QuarantineRecord q)
    {
        ArgumentNullException.ThrowIfNull(q);
        return string.Create(CultureInfo.InvariantCulture,
            $"{q.quarantineId}  {q.reasonCode}  missing [{string.Join(", ", q.missing)}]  from {q.sourceTopic}[{q.sourcePartition}]@{q.sourceOffset}  "
            + $"correlation-id {q.correlationId}  posting-key {q.postingKey}  at {q.quarantinedAt:yyyy-MM-ddTHH:mm:ssZ}");
    }
}
