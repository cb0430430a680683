using System.CommandLine;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Platform.Configuration;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.NetSuite;
using Streaming.Sinks.Posting;

namespace Streaming.Cli.Commands;

/// <summary>
/// <c>streaming sink</c>: runs only the ERP posting sink against an existing cluster and registry (the deployable sink
/// process; <c>up</c> runs it together with the embedded stack). Ctrl-C / SIGTERM stop it after the current batch.
/// </summary>
public static class SinkCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var ledger = new Option<string?>("--ledger") { Description = "SQLite ledger file (overrides Ledger:SqlitePath; ignored for the Postgres ledger)." };
        var group = new Option<string?>("--group") { Description = "Consumer group (default streaming-sink-erp-posting)." };
        var batchSize = new Option<int>("--batch-size") { Description = "Most records per ledger transaction.", DefaultValueFactory = _ => 500 };
        var batchWait = new Option<int>("--batch-wait-ms") { Description = "Longest a partial batch waits, in milliseconds.", DefaultValueFactory = _ => 200 };
        var command = new Command("sink", "Run the ERP posting sink: finance.events.v1 -> ledger (Ledger:*) -> erp.postings.v1, against KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL.")
        {
            ledger, group, batchSize, batchWait,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(ledger), parse.GetValue(group), parse.GetValue(batchSize), parse.GetValue(batchWait),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>The action: 0 when stopped by Ctrl-C, 1 when the sink failed, 2 on bad configuration.</summary>
    public static async Task<int> RunAsync(string? ledgerPath, string? group, int batchSize, int batchWaitMs, TextWriter output, TextWriter error, CancellationToken ct,
        IConfiguration? configurationOverride = null)
    {
        var configuration = configurationOverride ?? UpCommand.LoadConfiguration();
        KafkaOptions kafka;
        SchemaRegistryOptions registry;
        LedgerOptions ledgerOptions;
        NetSuiteOptions? netSuite;
        try
        {
            kafka = configuration.BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
            registry = configuration.BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator());
            ledgerOptions = configuration.BindValidated<LedgerOptions>(LedgerOptions.Section);
            netSuite = LedgerFactory.BindNetSuite(ledgerOptions, configuration);
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                error.WriteLine($"Configuration error: {failure}");
            }

            return UpCommand.ExitBadConfiguration;
        }

        if (kafka.UseEmbedded || registry.UseEmbedded)
        {
            error.WriteLine("streaming sink consumes an existing cluster: set Kafka:BootstrapServers (KAFKA_BOOTSTRAP_SERVERS) and SchemaRegistry:Url (SCHEMA_REGISTRY_URL). "
                + "`streaming up` runs the sink together with the embedded stack.");
            return UpCommand.ExitBadConfiguration;
        }

        if (batchSize < 1 || batchWaitMs < 1)
        {
            error.WriteLine("--batch-size and --batch-wait-ms must be at least 1.");
            return UpCommand.ExitBadConfiguration;
        }

        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
            .SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Streaming", LogLevel.Information));
        try
        {
            await using var ledger = await LedgerFactory.OpenAsync(ledgerOptions, ct, ledgerPath, netSuite, loggerFactory).ConfigureAwait(false);
            output.WriteLine($"Ledger: {ledger.Location}");
            var registryConfig = new SchemaRegistryConfig { Url = registry.Url };
            foreach (var (k, v) in registry.Client)
            {
                registryConfig.Set(k, v);
            }

            using var registryClient = new CachedSchemaRegistryClient(registryConfig);
            var producerConfig = new ProducerConfig(kafka.With(kafka.Producer)) { BootstrapServers = kafka.BootstrapServers, ClientId = "streaming-sink" };
            producerConfig.EnableIdempotence = true;
            producerConfig.Acks = Acks.All;
            using var producer = new ProducerBuilder<string, byte[]>(producerConfig).Build();
            var options = new ErpPostingSinkOptions { MaxBatchSize = batchSize, MaxBatchWait = TimeSpan.FromMilliseconds(batchWaitMs) };
            options = group is null ? options : options with { GroupId = group };
            var consumerConfig = new ConsumerConfig(kafka.With(kafka.Consumer)) { BootstrapServers = kafka.BootstrapServers, ClientId = "streaming-sink" };
            // GL accounts from md.gl-mappings.v1, read to its end now and followed while the sink runs; entities without mappings use the default chart.
            using var chart = GlMappingFollower.Start(consumerConfig, registryClient, DefaultChartOfAccounts.Instance, loggerFactory.CreateLogger("Streaming.Sinks.GlMappings"), ct);
            output.WriteLine($"GL mappings: {chart.Count} from md.gl-mappings.v1, following changes (entities without mappings use the default chart)");
            var sink = new ErpPostingSink(consumerConfig, producer, registryClient, ledger, chart, options, loggerFactory.CreateLogger<ErpPostingSink>());
            output.WriteLine($"Sink running: group {options.GroupId}, batches of at most {batchSize} records / {batchWaitMs} ms. Ctrl-C stops it.");
            try
            {
                await sink.RunAsync(ct).ConfigureAwait(false);
            }
            finally
            {
                producer.Flush(TimeSpan.FromSeconds(10));
                output.WriteLine($"Sink stopped: {sink.PostedCount} posted, {sink.DuplicateCount} duplicates, {sink.QuarantinedCount} quarantined, {sink.DeadLetteredCount} dead-lettered.");
            }

            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return 0;
        }
        catch (Exception ex)
        {
            error.WriteLine($"sink failed: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }
}
