using System.Globalization;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Platform.Configuration;

namespace Streaming.Producers.Usage;

/// <summary>The configuration of hosted usage ingestion: <c>Usage:Ingestor</c> and <c>Usage:Http</c>.</summary>
/// <param name="Ingestor">The bounded producer's settings.</param>
/// <param name="Http">The endpoint's settings.</param>
public sealed record UsageIngestionSettings(UsageIngestorOptions Ingestor, UsageEndpointOptions Http)
{
    /// <summary>Every default.</summary>
    public static UsageIngestionSettings Default => new(new UsageIngestorOptions(), new UsageEndpointOptions());

    /// <summary>Binds and validates both sections; a bad value throws <see cref="Microsoft.Extensions.Options.OptionsValidationException"/> naming its key.</summary>
    public static UsageIngestionSettings Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new(configuration.BindValidated<UsageIngestorOptions>(UsageIngestorOptions.Section),
            configuration.BindValidated<UsageEndpointOptions>(UsageEndpointOptions.Section));
    }
}

/// <summary>
/// <c>POST /ingest/usage</c> as a part of a host (the connector host of <c>up</c> and <c>connectors serve</c>): owns a
/// <see cref="UsageIngestor"/> with its own producer, maps the endpoint over it, reports readiness, and on disposal
/// flushes what was accepted before disposing the producer. Dispose it only after the server stopped taking requests.
/// </summary>
public sealed class UsageIngestionService : IAsyncDisposable
{
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _log;
    private int _disposed;

    private UsageIngestionService(UsageIngestor ingestor, UsageIngestionSettings settings, ILoggerFactory loggerFactory)
    {
        Ingestor = ingestor;
        Settings = settings;
        _loggerFactory = loggerFactory;
        _log = loggerFactory.CreateLogger<UsageIngestionService>();
    }

    /// <summary>The ingestor the endpoint writes through.</summary>
    public UsageIngestor Ingestor { get; }

    /// <summary>The settings in use.</summary>
    public UsageIngestionSettings Settings { get; }

    /// <summary>How long disposal waits for Kafka to acknowledge what is still queued.</summary>
    public TimeSpan ShutdownFlushTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// Creates the ingestor from <paramref name="producer"/> (its own producer handle) and the registry (the usage schema id
    /// is looked up; it fails naming the subject when the schema is not registered).
    /// </summary>
    public static async Task<UsageIngestionService> CreateAsync(ProducerConfig producer, ISchemaRegistryClient registry, UsageIngestionSettings settings,
        ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(settings);
        loggerFactory ??= NullLoggerFactory.Instance;
        var ingestor = await UsageIngestor.CreateAsync(producer, registry, settings.Ingestor, loggerFactory, cancellationToken).ConfigureAwait(false);
        return new UsageIngestionService(ingestor, settings, loggerFactory);
    }

    /// <summary>Maps <c>POST /ingest/usage</c> (validates <see cref="UsageIngestionSettings.Http"/>, throwing naming the bad key).</summary>
    public void Map(IEndpointRouteBuilder routes) => routes.MapUsageIngestion(Ingestor, Settings.Http, _loggerFactory);

    /// <summary>Null when ready; the reason when not: the ingest queue is full (batches get 429) or the service is stopped.</summary>
    public string? NotReadyReason()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return "usage ingestion stopped";
        }

        var inFlight = Ingestor.InFlight;
        return inFlight >= Ingestor.Capacity
            ? $"usage ingest queue full ({inFlight.ToString(CultureInfo.InvariantCulture)}/{Ingestor.Capacity.ToString(CultureInfo.InvariantCulture)} records unacknowledged)"
            : null;
    }

    /// <summary>Waits for Kafka to acknowledge every queued record (up to <see cref="ShutdownFlushTimeout"/>), then disposes the producer.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        try
        {
            await Ingestor.FlushAsync(ShutdownFlushTimeout).ConfigureAwait(false);
        }
        catch (KafkaException ex)
        {
            // Those records were answered 503 when they failed (the senders resend); nothing else is pending.
            _log.LogWarning("Usage ingestion stopped; {Failed} record(s) failed delivery while running (first: {Code})",
                Ingestor.Failed.ToString(CultureInfo.InvariantCulture), ex.Error.Code);
        }
        catch (TimeoutException ex)
        {
            _log.LogError("Usage ingestion stopping: {Reason}", ex.Message);
        }
        finally
        {
            // Flushes once more (up to Usage:Ingestor:QueueFullWait) and logs whatever is still unacknowledged.
            Ingestor.Dispose();
        }
    }
}
