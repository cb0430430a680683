using System.CommandLine;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Streaming.Cli.Reconcile;
using Streaming.Platform.Configuration;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Posting;
using Streaming.Sinks.Reconciliation;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming reconcile</c>: source invoice and payment totals against ledger postings for a month, per entity and currency.</summary>
public static class ReconcileCommand
{
    /// <summary>No break.</summary>
    public const int ExitClean = 0;

    /// <summary>At least one break (or the sources could not be read).</summary>
    public const int ExitBreaks = 1;

    /// <summary>Bad input: period, configuration, no cluster or registry, no ledger (file or PostgreSQL database), NetSuite provider.</summary>
    public const int ExitBadInput = 2;

    /// <summary>Ctrl-C / SIGTERM (128 + SIGINT).</summary>
    public const int ExitInterrupted = 130;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var period = new Option<string?>("--period") { Description = "Month to reconcile, yyyy-MM (by effective date)." };
        var entity = new Option<string?>("--entity") { Description = "Only this legal entity (e.g. US01)." };
        var ledger = new Option<string?>("--ledger") { Description = "SQLite ledger file, read instead of the configured provider (default: the configured ledger: PostgreSQL when Ledger:ConnectionString / LEDGER_CONNECTION_STRING is set, else Ledger:SqlitePath, state/ledger.db); opened read-only." };
        var group = new Option<string?>("--sink-group") { Description = "The posting sink's consumer group, to tell facts in flight from missing ones (default: streaming-sink-erp-posting)." };
        var command = new Command("reconcile", "Compare source invoice and payment totals with ledger postings per entity and currency; exit 1 on a break.")
        {
            period, entity, ledger, group,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(period), parse.GetValue(entity), parse.GetValue(ledger), parse.GetValue(group),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>The action: 0 no break, 1 breaks, 2 bad input.</summary>
    public static async Task<int> RunAsync(string? periodText, string? entity, string? ledgerPath, string? sinkGroup, TextWriter output, TextWriter error,
        CancellationToken ct, IConfiguration? configurationOverride = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (periodText is null)
        {
            await error.WriteLineAsync("--period is required (yyyy-MM, e.g. 2026-11).").ConfigureAwait(false);
            return ExitBadInput;
        }

        Period period;
        try
        {
            period = Period.Parse(periodText);
        }
        catch (FormatException ex)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitBadInput;
        }

        var configuration = configurationOverride ?? UpCommand.LoadConfiguration();
        KafkaOptions kafka;
        SchemaRegistryOptions registryOptions;
        LedgerOptions ledgerOptions;
        try
        {
            kafka = configuration.BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
            registryOptions = configuration.BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator());
            ledgerOptions = configuration.BindValidated<LedgerOptions>(LedgerOptions.Section);
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync($"Configuration error: {failure}").ConfigureAwait(false);
            }

            return ExitBadInput;
        }

        var provider = ledgerPath is not null ? "Sqlite" : ledgerOptions.EffectiveProvider;
        if (provider == "NetSuite")
        {
            await error.WriteLineAsync("reconcile reads a SQL ledger (SQLite or PostgreSQL) and Ledger:Provider is 'NetSuite': the NetSuite adapter cannot be "
                + "read back here, so reconcile NetSuite with NetSuite's own reports, or pass --ledger FILE to reconcile a SQLite ledger.").ConfigureAwait(false);
            return ExitBadInput;
        }

        if (kafka.UseEmbedded || registryOptions.UseEmbedded)
        {
            await error.WriteLineAsync("reconcile reads the source records from a Kafka cluster and their schemas from a registry, and none is configured: "
                + "set KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL (Kafka:BootstrapServers, SchemaRegistry:Url). The embedded stack lives only inside a "
                + "running `streaming up`, so a new one would hold no records.").ConfigureAwait(false);
            return ExitBadInput;
        }

        ILedgerReader ledger;
        try
        {
            ledger = provider == "Postgres"
                ? await PostgresLedgerReader.OpenAsync(ledgerOptions.ConnectionString!, ct).ConfigureAwait(false)
                : await SqliteLedgerReader.OpenAsync(ledgerPath ?? ledgerOptions.SqlitePath, ct).ConfigureAwait(false);
        }
        catch (FileNotFoundException ex)
        {
            await error.WriteLineAsync($"{ex.Message} Pass --ledger or set Ledger:SqlitePath.").ConfigureAwait(false);
            return ExitBadInput;
        }
        catch (Exception ex) when (provider == "Postgres" && ex is Npgsql.NpgsqlException or InvalidOperationException or ArgumentException)
        {
            await error.WriteLineAsync($"reconcile could not open the PostgreSQL ledger (Ledger:ConnectionString / LEDGER_CONNECTION_STRING): {ex.Message}").ConfigureAwait(false);
            return ExitBadInput;
        }

        await using (ledger.ConfigureAwait(false))
        {
            var registryConfig = new SchemaRegistryConfig { Url = registryOptions.Url };
            foreach (var (k, v) in registryOptions.Client)
            {
                registryConfig.Set(k, v);
            }

            using var registry = new CachedSchemaRegistryClient(registryConfig);
            var consumerConfig = new ConsumerConfig(kafka.With(kafka.Consumer)) { BootstrapServers = kafka.BootstrapServers };
            var source = new KafkaReconciliationSource(
                consumerConfig,
                new AdminClientConfig(kafka.With(kafka.Admin)) { BootstrapServers = kafka.BootstrapServers },
                registry);
            ReconciliationSource read;
            IChartOfAccounts chart;
            try
            {
                read = await source.ReadAsync(sinkGroup ?? new ErpPostingSinkOptions().GroupId, ct).ConfigureAwait(false);
                // The receivable account per entity, as the sink maps it: md.gl-mappings.v1 as it is now, else the default chart.
                using var mappings = GlMappingFollower.Start(consumerConfig, registry, DefaultChartOfAccounts.Instance, NullLogger.Instance, ct);
                chart = mappings.Current;
            }
            catch (Exception ex) when (ex is KafkaException or InvalidOperationException or TimeoutException or InvalidDataException)
            {
                await error.WriteLineAsync($"reconcile could not read the sources on {kafka.BootstrapServers}: {ex.Message}").ConfigureAwait(false);
                return ExitBreaks;
            }
            catch (OperationCanceledException) when (ct.IsCancellationRequested)
            {
                await error.WriteLineAsync("Interrupted before the sources were read: no result.").ConfigureAwait(false);
                return ExitInterrupted;
            }

            var journals = await ledger.JournalsAsync(period, entity, ct).ConfigureAwait(false);
            var report = Reconciler.Reconcile(period, entity, read.Facts, journals, read.Quarantined, chart, read.Billing);
            if (read.Billing is null)
            {
                await error.WriteLineAsync($"{Contracts.Topics.BillingInvoices} and {Contracts.Topics.BillingPayments} do not exist on this cluster: billing records were not checked.").ConfigureAwait(false);
            }

            await output.WriteLineAsync($"Ledger: {ledger.Location}").ConfigureAwait(false);
            await output.WriteAsync(report.Render()).ConfigureAwait(false);
            foreach (var u in read.Unreadable)
            {
                await error.WriteLineAsync($"unreadable source record (not reconciled; the sink sends it to the DLQ): {u}").ConfigureAwait(false);
            }

            return report.Clean && read.Unreadable.Count == 0 ? ExitClean : ExitBreaks;
        }
    }
}
