using System.CommandLine;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Cli.Up;
using Streaming.Platform.Configuration;
using Streaming.Platform.Topics;
using Streaming.Producers;
using Streaming.Producers.MasterData;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming masterdata load &lt;dir&gt; [--dry-run]</c>: check a master-data directory and produce it to the compacted <c>md.*</c> topics.</summary>
public static class MasterDataCommand
{
    /// <summary>Loaded (or, with --dry-run, checked) without a problem.</summary>
    public const int ExitOk = 0;

    /// <summary>Kafka or the registry failed while producing.</summary>
    public const int ExitFailed = 1;

    /// <summary>The data failed its checks, or the configuration is bad; nothing was produced.</summary>
    public const int ExitInvalid = 2;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var directory = new Argument<DirectoryInfo>("dir") { Description = "Directory with legal-entities, products (+ prices, price-tiers in CSV), tax-rules, gl-mappings and account-links, each .csv or .json." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Read and check only; produce nothing." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for Kafka to acknowledge every record.", DefaultValueFactory = _ => 60 };
        var bootstrap = new Option<string?>("--bootstrap-servers")
        {
            Description = $"Kafka bootstrap servers (default: Kafka:BootstrapServers / ${TopicsCommand.BootstrapServersEnvironmentVariable}; when neither is set, a short-lived embedded cluster).",
        };
        var load = new Command("load", "Check referential integrity (every mapped account, entity and product exists), then produce to the md.* topics.")
        {
            directory, dryRun, timeout, bootstrap,
        };
        load.SetAction((parse, ct) =>
        {
            IConfiguration? configuration = null;
            if (parse.GetValue(bootstrap) is { Length: > 0 } servers)
            {
                configuration = new ConfigurationBuilder()
                    .AddConfiguration(UpCommand.LoadConfiguration())
                    .AddInMemoryCollection(new Dictionary<string, string?> { [$"{KafkaOptions.Section}:{nameof(KafkaOptions.BootstrapServers)}"] = servers })
                    .Build();
            }

            return LoadAsync(parse.GetValue(directory)!.FullName, parse.GetValue(dryRun), parse.GetValue(timeout),
                parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct, configuration);
        });
        return new Command("masterdata", "Master data (legal entities, products, tax rules, GL mappings, account links).") { load };
    }

    /// <summary>The <c>load</c> action: 0 loaded, 1 Kafka failed, 2 invalid data or configuration (nothing produced).</summary>
    public static async Task<int> LoadAsync(string directory, bool dryRun, int timeoutSeconds, TextWriter output, TextWriter error, CancellationToken ct,
        IConfiguration? configurationOverride = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        MasterDataSet set;
        try
        {
            set = MasterDataReader.Load(directory);
        }
        catch (MasterDataException ex)
        {
            foreach (var e in ex.Errors)
            {
                await error.WriteLineAsync(e.ToString()).ConfigureAwait(false);
            }

            await error.WriteLineAsync($"{ex.Errors.Count} problem(s) in {directory}; nothing was produced.").ConfigureAwait(false);
            return ExitInvalid;
        }

        await output.WriteLineAsync($"Master data in {directory}: {set.LegalEntities.Count} legal entities, {set.Products.Count} products " +
            $"({set.Products.Sum(p => p.Record.prices.Count)} prices), {set.TaxRules.Count} tax rules, {set.GlMappings.Count} GL mappings, " +
            $"{set.AccountLinks.Count} account links; checks passed.").ConfigureAwait(false);
        if (dryRun)
        {
            await output.WriteLineAsync("Dry run: nothing produced.").ConfigureAwait(false);
            return ExitOk;
        }

        // The same configuration and stack start-up as `up` (topics applied, schemas registered, both idempotent).
        var configuration = configurationOverride ?? UpCommand.LoadConfiguration();
        KafkaOptions kafka;
        SchemaRegistryOptions registry;
        EmbeddedStackOptions embedded;
        try
        {
            kafka = configuration.BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
            registry = configuration.BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator());
            embedded = configuration.BindValidated<EmbeddedStackOptions>(EmbeddedStackOptions.Section);
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync($"Configuration error: {failure}").ConfigureAwait(false);
            }

            return ExitInvalid;
        }

        if (!kafka.UseEmbedded && registry.UseEmbedded)
        {
            await error.WriteLineAsync("Configuration error: SchemaRegistry:Url (or SCHEMA_REGISTRY_URL) must be set when Kafka:BootstrapServers is.").ConfigureAwait(false);
            return ExitInvalid;
        }

        var schemasDir = UpCommand.FindSchemasDirectory();
        if (schemasDir is null)
        {
            await error.WriteLineAsync("Cannot find schemas/subjects.json next to the program or above the working directory.").ConfigureAwait(false);
            return ExitInvalid;
        }

        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
        try
        {
            await using var stack = await StackRuntime.StartAsync(kafka, registry, embedded, schemasDir, TopicManifest.LoadEmbedded(), loggerFactory, output, ct).ConfigureAwait(false);
            if (kafka.UseEmbedded)
            {
                await output.WriteLineAsync("Note: no Kafka:BootstrapServers configured, so this loaded into a short-lived embedded cluster (gone when this process exits).").ConfigureAwait(false);
            }

            using var producer = new ProducerBuilder<string, byte[]>(stack.ProducerConfig("streaming-masterdata-loader")).Build();
            var records = new AvroRecordProducer(producer, stack.Registry);
            var counts = MasterDataLoader.Produce(set, records);
            await records.FlushAsync(TimeSpan.FromSeconds(timeoutSeconds), ct).ConfigureAwait(false);
            foreach (var (topic, count) in counts)
            {
                await output.WriteLineAsync($"  {topic,-24} {count,6}").ConfigureAwait(false);
            }

            await output.WriteLineAsync($"Loaded: {records.Delivered} records acknowledged by Kafka.").ConfigureAwait(false);
            return ExitOk;
        }
        catch (Exception ex) when (ex is KafkaException or TimeoutException or InvalidOperationException or HttpRequestException
            or Confluent.SchemaRegistry.SchemaRegistryException)
        {
            await error.WriteLineAsync($"masterdata load failed: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
            return ExitFailed;
        }
    }
}
