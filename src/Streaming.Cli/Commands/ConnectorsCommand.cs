using System.CommandLine;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Streaming.Cli.Up;
using Streaming.Platform.Configuration;
using Streaming.Platform.Topics;
using Streaming.Producers.Connectors;
using Streaming.Producers.Hosting;
using Streaming.Producers.Usage;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming connectors serve [--urls]</c>: the producers service — the connector HTTP host alone, without the pipeline.</summary>
public static class ConnectorsCommand
{
    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var urls = UrlsOption();
        var serve = new Command("serve", "Run the connector HTTP host (webhooks, usage ingestion, health, metrics) against the configured Kafka; Ctrl-C stops it.") { urls };
        serve.SetAction((parse, ct) => ServeAsync(parse.GetValue(urls)!, parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return new Command("connectors", "Source connectors: Stripe, HubSpot and Salesforce webhooks, the Stripe Events API poller.") { serve };
    }

    /// <summary>The <c>--urls</c> option shared with <c>up</c>.</summary>
    public static Option<string> UrlsOption() => new("--urls")
    {
        Description = "Where the connector HTTP host listens (Kestrel URLs, ';'-separated).",
        DefaultValueFactory = _ => ConnectorHostSettings.DefaultUrls,
    };

    /// <summary>
    /// Starts the connector host over a running stack and prints where it listens (never a secret). Besides the webhooks it
    /// serves <c>POST /ingest/usage</c> through a <see cref="UsageIngestionService"/> of its own (<paramref name="usage"/>, or
    /// the defaults), which the host flushes and disposes when it is disposed.
    /// </summary>
    public static async Task<ConnectorHost> StartHostAsync(StackRuntime stack, ConnectorOptions options, string urls, ILoggerFactory loggerFactory, TextWriter output,
        CancellationToken ct, UsageIngestionSettings? usage = null)
    {
        ArgumentNullException.ThrowIfNull(stack);
        ArgumentNullException.ThrowIfNull(options);
        var ingestion = await UsageIngestionService.CreateAsync(stack.ProducerConfig("streaming-usage-ingest"), stack.Registry, usage ?? UsageIngestionSettings.Default,
            loggerFactory, ct).ConfigureAwait(false);
        // From here the host owns the ingestion service (disposed with it, or by StartAsync if it fails).
        var host = await ConnectorHost.StartAsync(new ConnectorHostSettings
        {
            Urls = urls,
            Options = options,
            Producer = stack.ProducerConfig("streaming-connectors"),
            Consumer = stack.ConsumerConfig("streaming-connectors"),
            Registry = stack.Registry,
            LoggerFactory = loggerFactory,
            Endpoints = [ingestion.Map],
            ReadinessChecks = [ingestion.NotReadyReason],
            Resources = [ingestion],
        }, ct).ConfigureAwait(false);
        output.WriteLine($"Connectors: listening on {string.Join(", ", host.Urls)} (POST /webhooks/stripe, /webhooks/hubspot, /webhooks/salesforce, /ingest/usage; GET /health/live, /health/ready, /metrics)");
        if (options.Stripe.WebhookSecrets.Count == 0)
        {
            output.WriteLine("Connectors: no Stripe webhook secret (Connectors:Stripe:WebhookSecrets); /webhooks/stripe answers 503.");
        }

        if (string.IsNullOrEmpty(options.HubSpot.ClientSecret))
        {
            output.WriteLine("Connectors: no HubSpot client secret (Connectors:HubSpot:ClientSecret); /webhooks/hubspot answers 503.");
        }

        if (string.IsNullOrEmpty(options.Salesforce.RelayToken))
        {
            output.WriteLine("Connectors: no Salesforce relay token (Connectors:Salesforce:RelayToken); /webhooks/salesforce answers 503.");
        }

        return host;
    }

    /// <summary>The serve action: 0 when stopped by Ctrl-C, 1 on failure, 2 on bad configuration.</summary>
    public static async Task<int> ServeAsync(string urls, TextWriter output, TextWriter error, CancellationToken ct, IConfiguration? configurationOverride = null)
    {
        var configuration = configurationOverride ?? UpCommand.LoadConfiguration();
        KafkaOptions kafka;
        SchemaRegistryOptions registry;
        EmbeddedStackOptions embedded;
        ConnectorOptions connectors;
        UsageIngestionSettings usage;
        try
        {
            kafka = configuration.BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
            registry = configuration.BindValidated(SchemaRegistryOptions.Section, new SchemaRegistryOptionsValidator());
            embedded = configuration.BindValidated<EmbeddedStackOptions>(EmbeddedStackOptions.Section);
            connectors = ConnectorOptions.Bind(configuration);
            usage = UsageIngestionSettings.Bind(configuration);
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                error.WriteLine($"Configuration error: {failure}");
            }

            return UpCommand.ExitBadConfiguration;
        }
        catch (InvalidOperationException ex)
        {
            error.WriteLine($"Configuration error: {ex.Message}");
            return UpCommand.ExitBadConfiguration;
        }

        var schemasDir = UpCommand.FindSchemasDirectory();
        if (schemasDir is null)
        {
            error.WriteLine("Cannot find schemas/subjects.json next to the program or above the working directory.");
            return UpCommand.ExitBadConfiguration;
        }

        using var loggerFactory = LoggerFactory.Create(b => b
            .AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; })
            .SetMinimumLevel(LogLevel.Warning)
            .AddFilter("Streaming", LogLevel.Information)
            .AddFilter((_, level) => level >= LogLevel.Warning));
        try
        {
            await using var stack = await StackRuntime.StartAsync(kafka, registry, embedded, schemasDir, TopicManifest.LoadEmbedded(), loggerFactory, output, ct).ConfigureAwait(false);
            await using var host = await StartHostAsync(stack, connectors, urls, loggerFactory, output, ct, usage).ConfigureAwait(false);
            output.WriteLine("Press Ctrl-C to stop.");
            await Task.Delay(Timeout.Infinite, ct).ConfigureAwait(false);
            return 0;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            output.WriteLine("Stopped.");
            return 0;
        }
        catch (Exception ex) when (ex is IOException or InvalidOperationException or Confluent.Kafka.KafkaException or HttpRequestException)
        {
            error.WriteLine($"connectors serve failed: {ex.GetType().Name}: {ex.Message}");
            return 1;
        }
    }
}
