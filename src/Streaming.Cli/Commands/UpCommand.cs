using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Cli.Up;
using Streaming.Platform.Configuration;
using Streaming.Platform.Topics;
using Streaming.Producers.Connectors;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming up [--demo]</c>: starts the stack and the pipeline.</summary>
public static class UpCommand
{
    /// <summary>Exit code for a bad setting or argument.</summary>
    public const int ExitBadConfiguration = 2;

    /// <summary>Exit code of a demo interrupted by Ctrl-C / SIGTERM (128 + SIGINT).</summary>
    public const int ExitInterrupted = 130;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var demo = new Option<bool>("--demo") { Description = "Produce the demo quote-to-cash month, wait until it is posted, print the summary and stop." };
        var ledger = new Option<string?>("--ledger") { Description = "SQLite ledger file (default: Ledger:SqlitePath, state/ledger.db); created if missing, never emptied." };
        var timeout = new Option<int>("--timeout") { Description = "Seconds to wait for the pipeline to start and to catch up.", DefaultValueFactory = _ => 120 };
        var urls = ConnectorsCommand.UrlsOption();
        var command = new Command("up", "Start the stack (embedded unless Kafka:BootstrapServers is set) and the pipeline; Ctrl-C stops it.")
        {
            demo, ledger, timeout, urls,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(demo), parse.GetValue(ledger), parse.GetValue(timeout),
            parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct, urls: parse.GetValue(urls)));
        return command;
    }

    /// <summary>Loads configuration: appsettings.json, <c>STREAMING_</c> environment variables, then KAFKA_BOOTSTRAP_SERVERS / SCHEMA_REGISTRY_URL.</summary>
    public static IConfiguration LoadConfiguration() => new ConfigurationBuilder()
        .SetBasePath(Directory.GetCurrentDirectory())
        .AddJsonFile("appsettings.json", optional: true)
        .AddEnvironmentVariables("STREAMING_")
        .AddConnectorEnvironment()
        .AddStreamingEnvironment()
        .Build();

    /// <summary>
    /// The action: 0 on success, 1 when the pipeline failed, 2 on bad configuration. Without <paramref name="demo"/> and with
    /// <paramref name="urls"/> (the CLI passes http://127.0.0.1:8080 unless --urls says otherwise) the connector HTTP host runs too.
    /// </summary>
    public static async Task<int> RunAsync(bool demo, string? ledgerPath, int timeoutSeconds, TextWriter output, TextWriter error, CancellationToken ct,
        IConfiguration? configurationOverride = null, string? urls = null)
    {
        var configuration = configurationOverride ?? LoadConfiguration();
        var failures = new List<string>();
        var kafka = Bind(() => configuration.BindValidated(KafkaOptions.Section, new KafkaOptionsValidator()));
        var registry = Bind(() => configuration.BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator()));
        var embedded = Bind(() => configuration.BindValidated<EmbeddedStackOptions>(EmbeddedStackOptions.Section));
        var ledger = Bind(() => configuration.BindValidated<LedgerOptions>(LedgerOptions.Section));
        var usage = Bind(() => Streaming.Producers.Usage.UsageIngestionSettings.Bind(configuration));
        var netSuite = ledger is null ? null : Bind<Streaming.Sinks.NetSuite.NetSuiteOptions>(() => Streaming.Sinks.Ledger.LedgerFactory.BindNetSuite(ledger, configuration)!);
        var processors = Bind(() => configuration.BindValidated<ProcessorsOptions>(ProcessorsOptions.Section));
        ConnectorOptions? connectors = null;
        try
        {
            connectors = ConnectorOptions.Bind(configuration);
        }
        catch (InvalidOperationException ex)
        {
            failures.Add(ex.Message);
        }

        if (kafka is { UseEmbedded: false } && registry is { UseEmbedded: true })
        {
            failures.Add("SchemaRegistry:Url (or SCHEMA_REGISTRY_URL) must be set when Kafka:BootstrapServers is: the embedded registry keeps "
                + "schemas in memory, so its ids would change on restart while records on the cluster keep the old ones.");
        }

        if (failures.Count > 0 || kafka is null || registry is null || embedded is null || ledger is null || processors is null)
        {
            // Every bad setting at once, each naming its key; nothing has been started.
            foreach (var failure in failures)
            {
                error.WriteLine($"Configuration error: {failure}");
            }

            return ExitBadConfiguration;
        }

        T? Bind<T>(Func<T> bind) where T : class
        {
            try
            {
                return bind();
            }
            catch (OptionsValidationException ex)
            {
                failures.AddRange(ex.Failures);
                return null;
            }
        }

        if (timeoutSeconds < 1)
        {
            error.WriteLine("--timeout must be at least 1 second.");
            return ExitBadConfiguration;
        }

        var schemasDir = FindSchemasDirectory();
        if (schemasDir is null)
        {
            error.WriteLine("Cannot find schemas/subjects.json next to the program or above the working directory.");
            return ExitBadConfiguration;
        }

        var path = ledgerPath ?? ledger.SqlitePath;
        // The embedded broker starts empty every time, so Streamiz state must too (old offset checkpoints would point
        // past the new topics' ends): a private temporary folder, removed afterwards. Against a real cluster the state
        // lives next to the ledger and is kept. The ledger itself is never emptied: re-running the demo against it
        // posts nothing twice (same posting keys), which is the point.
        var stateDir = kafka.UseEmbedded
            ? Path.Combine(Path.GetTempPath(), "streaming-streamiz-" + Guid.NewGuid().ToString("N"))
            : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(path))!, "streamiz-state");

        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
            .SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Streaming", LogLevel.Information)
            .AddFilter("Streaming.Platform.Embedded", LogLevel.Warning)
            .AddFilter((_, level) => level >= LogLevel.Warning));
        try
        {
            await using var stack = await StackRuntime.StartAsync(kafka, registry, embedded, schemasDir, TopicManifest.LoadEmbedded(), loggerFactory, output, ct);
            await using var connectorHost = !demo && urls is not null && connectors is not null
                ? await ConnectorsCommand.StartHostAsync(stack, connectors, urls, loggerFactory, output, ct, usage)
                : null;
            var runner = new PipelineRunner(stack, loggerFactory, output);
            var summary = await runner.RunAsync(path, demo, stateDir, TimeSpan.FromSeconds(timeoutSeconds), ct, ledger, netSuite, processors);
            if (summary is not null)
            {
                PipelineRunner.Print(summary, output);
            }

            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // Ctrl-C is how `up` is meant to stop; a demo cut short did not finish, which scripts should see.
            output.WriteLine(demo ? "Demo interrupted before it finished." : "Stopped.");
            return demo ? ExitInterrupted : 0;
        }
        catch (Exception ex)
        {
            error.WriteLine($"up failed: {ex.GetType().Name}: {ex.Message}");
            loggerFactory.CreateLogger("Streaming.Cli").LogDebug(ex, "up failed");
            return 1;
        }
        finally
        {
            if (kafka.UseEmbedded && Directory.Exists(stateDir))
            {
                Directory.Delete(stateDir, recursive: true);
            }
        }
    }

    /// <summary>schemas/ copied next to the program at build, else found above the working directory.</summary>
    public static string? FindSchemasDirectory()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "schemas");
                if (File.Exists(Path.Combine(candidate, "subjects.json")))
                {
                    return candidate;
                }
            }
        }

        return null;
    }
}
