using System.CommandLine;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Platform.Configuration;
using Streaming.SchemaRegistry;
using Streaming.SchemaRegistry.Storage;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming registry serve</c>: the schema registry as its own service, its state in the compacted <c>_schemas</c> topic.</summary>
public static class RegistryCommand
{
    /// <summary>Stopped cleanly.</summary>
    public const int ExitOk = 0;

    /// <summary>Could not start (Kafka unreachable, port taken, ...).</summary>
    public const int ExitFailed = 1;

    /// <summary>Bad configuration.</summary>
    public const int ExitBadConfiguration = 2;

    /// <summary>Builds the <c>registry</c> command.</summary>
    public static Command Create()
    {
        var urls = new Option<string>("--urls")
        {
            Description = "Kestrel URLs to listen on.",
            DefaultValueFactory = _ => "http://0.0.0.0:8081",
        };
        var bootstrap = new Option<string?>("--bootstrap-servers")
        {
            Description = $"Kafka holding the _schemas topic (default: Kafka:BootstrapServers / ${TopicsCommand.BootstrapServersEnvironmentVariable}).",
        };
        var topic = new Option<string>("--topic") { Description = "Store topic.", DefaultValueFactory = _ => "_schemas" };
        var level = new Option<string>("--default-compatibility")
        {
            Description = "Global compatibility level until one is set through the API.",
            DefaultValueFactory = _ => "BACKWARD",
        };
        var inMemory = new Option<bool>("--in-memory") { Description = "Keep state in memory instead of Kafka (ids are lost on restart; for trials only)." };

        var serve = new Command("serve", "Serve the Confluent-compatible registry REST API until Ctrl-C / SIGTERM.") { urls, bootstrap, topic, level, inMemory };
        serve.SetAction((parseResult, ct) => ServeAsync(
            parseResult.GetValue(urls)!, parseResult.GetValue(bootstrap), parseResult.GetValue(topic)!, parseResult.GetValue(level)!,
            parseResult.GetValue(inMemory), parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, ct));
        return new Command("registry", "The schema registry service.") { serve };
    }

    /// <summary>The <c>registry serve</c> action; returns when <paramref name="ct"/> is cancelled.</summary>
    public static async Task<int> ServeAsync(string urls, string? bootstrapServers, string topic, string defaultLevel, bool inMemory,
        TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var level = CompatibilityLevels.Normalize(defaultLevel);
        if (level is null)
        {
            await error.WriteLineAsync($"--default-compatibility '{defaultLevel}' is not one of {string.Join(", ", CompatibilityLevels.All)}.").ConfigureAwait(false);
            return ExitBadConfiguration;
        }

        KafkaOptions kafka;
        try
        {
            kafka = UpCommand.LoadConfiguration().BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync($"Configuration error: {failure}").ConfigureAwait(false);
            }

            return ExitBadConfiguration;
        }

        var servers = string.IsNullOrWhiteSpace(bootstrapServers) ? kafka.BootstrapServers : bootstrapServers;
        if (string.IsNullOrWhiteSpace(servers) && !inMemory)
        {
            await error.WriteLineAsync($"No Kafka for the _schemas topic: pass --bootstrap-servers, set {TopicsCommand.BootstrapServersEnvironmentVariable}, or pass --in-memory.").ConfigureAwait(false);
            return ExitBadConfiguration;
        }

        using var loggerFactory = LoggerFactory.Create(b => b.AddSimpleConsole(o => o.SingleLine = true).SetMinimumLevel(LogLevel.Information));
        try
        {
            ISchemaStore store = inMemory
                ? new InMemorySchemaStore(level)
                : await KafkaSchemaStore.StartAsync(new KafkaSchemaStoreOptions
                {
                    BootstrapServers = servers!,
                    Topic = topic,
                    DefaultCompatibility = level,
                    KafkaSettings = kafka.With(kafka.Admin),
                }, loggerFactory.CreateLogger<KafkaSchemaStore>(), ct).ConfigureAwait(false);
            await using var registry = await EmbeddedSchemaRegistry.StartAsync(
                new EmbeddedSchemaRegistryOptions { Urls = urls, Store = store, DefaultCompatibility = level }, loggerFactory, ct).ConfigureAwait(false);
            await output.WriteLineAsync($"Schema registry at {registry.Url}, state {(inMemory ? "in memory" : $"in topic {topic} on {servers}")}; Ctrl-C to stop").ConfigureAwait(false);
            await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
            return ExitOk;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            return ExitOk;
        }
        catch (OperationCanceledException ex)
        {
            await error.WriteLineAsync($"registry serve: timed out reading {topic} on {servers}: {ex.Message}").ConfigureAwait(false);
            return ExitFailed;
        }
        catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or SchemaRegistryError or IOException or InvalidOperationException)
        {
            await error.WriteLineAsync($"registry serve: {ex.GetType().Name}: {ex.Message}").ConfigureAwait(false);
            return ExitFailed;
        }
    }
}
