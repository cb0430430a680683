using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Streaming.Producers.Billing;
using Streaming.Producers.Connectors;
using Streaming.Producers.Crm;
using Streaming.Producers.Edge;

namespace Streaming.Producers.Hosting;

/// <summary>What the connector host needs: where to listen, the connector options, Kafka and registry clients.</summary>
public sealed record ConnectorHostSettings
{
    /// <summary>Default listening address of <c>up</c> and <c>connectors serve</c>.</summary>
    public const string DefaultUrls = "http://127.0.0.1:8080";

    /// <summary>Kestrel URLs (<c>;</c>-separated); port 0 picks a free port (tests).</summary>
    public string Urls { get; init; } = DefaultUrls;

    /// <summary>Connector options (secrets, limits).</summary>
    public required ConnectorOptions Options { get; init; }

    /// <summary>Producer settings (bootstrap servers and pass-through keys); the host enforces idempotence, acks=all and its timeout.</summary>
    public required ProducerConfig Producer { get; init; }

    /// <summary>Consumer settings, used to seed the duplicate filter from the connector topics.</summary>
    public required ConsumerConfig Consumer { get; init; }

    /// <summary>Registry client shared by the serializers.</summary>
    public required ISchemaRegistryClient Registry { get; init; }

    /// <summary>Loggers.</summary>
    public required ILoggerFactory LoggerFactory { get; init; }

    /// <summary>Clock (tests move it to check signature tolerances).</summary>
    public TimeProvider? Clock { get; init; }

    /// <summary>
    /// CRM re-reader for GAP events and HubSpot notifications; null = the REST reader (<see cref="CrmApiReader"/>) when a
    /// HubSpot access token or a Salesforce instance and token are configured, else none (pending re-reads are recorded).
    /// </summary>
    public ICrmRecordReader? CrmReader { get; init; }

    /// <summary>
    /// Extra endpoints mapped on the same server — the extension point for other ingestion endpoints (e.g. usage ingestion's
    /// <c>MapUsageIngestion</c>): each action is called once with the route builder after the connector endpoints are mapped.
    /// </summary>
    public IReadOnlyList<Action<IEndpointRouteBuilder>> Endpoints { get; init; } = [];

    /// <summary>
    /// Readiness of what <see cref="Endpoints"/> serve: each check returns null when ready, else the reason, which
    /// <c>/health/ready</c> then answers with 503.
    /// </summary>
    public IReadOnlyList<Func<string?>> ReadinessChecks { get; init; } = [];

    /// <summary>
    /// What <see cref="Endpoints"/> use, handed to the host: disposed in order when the host is disposed, after the server
    /// stopped (no request still in progress) and before the connector producer; also disposed when <c>StartAsync</c> fails.
    /// </summary>
    public IReadOnlyList<IAsyncDisposable> Resources { get; init; } = [];
}

/// <summary>
/// The connector HTTP host (Kestrel): <c>POST /webhooks/stripe|hubspot|salesforce</c>, <c>GET /health/live</c>,
/// <c>/health/ready</c>, <c>/metrics</c>, plus any <see cref="ConnectorHostSettings.Endpoints"/>. Used by <c>streaming up</c>
/// and <c>streaming connectors serve</c>. Disposing it stops the server and flushes the producer.
/// </summary>
public sealed class ConnectorHost : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly CancellationTokenSource _stopping = new();
    private Task _poller = Task.CompletedTask;
    private Task _reReads = Task.CompletedTask;
    private HttpClient? _pollerHttp;
    private HttpClient? _crmHttp;
    private IReadOnlyList<IAsyncDisposable> _resources = [];

    private ConnectorHost(WebApplication app, ConnectorRuntime runtime, IReadOnlyList<string> urls)
    {
        _app = app;
        Runtime = runtime;
        Urls = urls;
    }

    /// <summary>The Events API poller, when <c>Connectors:Stripe:PollEvents</c> is on.</summary>
    public StripeEventsPoller? Poller { get; private set; }

    /// <summary>The shared connector runtime (writer, metrics, verifiers).</summary>
    public ConnectorRuntime Runtime { get; }

    /// <summary>Addresses the server listens on (port 0 resolved).</summary>
    public IReadOnlyList<string> Urls { get; }

    /// <summary>Starts the server; returns once it listens and the duplicate filter is seeded.</summary>
    public static async Task<ConnectorHost> StartAsync(ConnectorHostSettings settings, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(settings);
        try
        {
            return await StartCoreAsync(settings, ct).ConfigureAwait(false);
        }
        catch
        {
            await DisposeAllAsync(settings.Resources).ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<ConnectorHost> StartCoreAsync(ConnectorHostSettings settings, CancellationToken ct)
    {
        var crmHttp = settings.CrmReader is null && CrmApiReader.Configured(settings.Options) ? new HttpClient { Timeout = TimeSpan.FromSeconds(10) } : null;
        var crmReader = settings.CrmReader
            ?? (crmHttp is null ? null : new CrmApiReader(crmHttp, settings.Options, settings.LoggerFactory.CreateLogger<CrmApiReader>(), settings.Clock));
        var runtime = new ConnectorRuntime(settings.Options, settings.Producer, settings.Registry, settings.LoggerFactory, settings.Clock, crmReader);
        try
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.Services.AddSingleton(settings.LoggerFactory);
            builder.WebHost.UseUrls(settings.Urls);
            builder.WebHost.ConfigureKestrel(k => k.Limits.MaxRequestBodySize = settings.Options.MaxBodyBytes + 1L);
            builder.Services.Configure<HostOptions>(o => o.ShutdownTimeout = TimeSpan.FromSeconds(10));
            var app = builder.Build();
            app.MapConnectorWebhooks(runtime);
            app.MapConnectorOperations(runtime, settings.ReadinessChecks);
            foreach (var map in settings.Endpoints)
            {
                map(app);
            }

            await app.StartAsync(ct).ConfigureAwait(false);
            var urls = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.ToList() ?? [settings.Urls];
            try
            {
                await runtime.StartAsync(settings.Consumer, ct).ConfigureAwait(false);
            }
            catch
            {
                await app.StopAsync(CancellationToken.None).ConfigureAwait(false);
                await app.DisposeAsync().ConfigureAwait(false);
                throw;
            }

            var host = new ConnectorHost(app, runtime, urls) { _crmHttp = crmHttp, _resources = settings.Resources };
            if (settings.Options.Stripe.PollEvents)
            {
                host.StartPoller(settings.Consumer);
            }

            if (crmReader is not null)
            {
                host.StartReReads(settings.Consumer);
            }

            return host;
        }
        catch
        {
            runtime.Dispose();
            crmHttp?.Dispose();
            throw;
        }
    }

    private void StartPoller(ConsumerConfig consumer)
    {
        var log = Runtime.LoggerFactory.CreateLogger<StripeEventsPoller>();
        _pollerHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
        Poller = new StripeEventsPoller(Runtime, _pollerHttp, consumer);
        var poller = Poller;
        var interval = TimeSpan.FromSeconds(Runtime.Options.Stripe.PollIntervalSeconds);
        _poller = Task.Run(async () =>
        {
            // A failing poll (Stripe or Kafka down) is logged and tried again next interval; webhooks keep working meanwhile.
            while (!_stopping.IsCancellationRequested)
            {
                try
                {
                    await poller.RunAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is HttpRequestException or EdgeUnavailableException or KafkaException or TimeoutException or InvalidOperationException or System.Text.Json.JsonException)
                {
                    log.LogError("Stripe Events API poll failed ({Type}: {Reason}); retrying in {Interval}", ex.GetType().Name, ex.Message, interval);
                    try
                    {
                        await Task.Delay(interval, _stopping.Token).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException)
                    {
                        return;
                    }
                }
            }
        });
    }

    private void StartReReads(ConsumerConfig consumer)
    {
        var log = Runtime.LoggerFactory.CreateLogger<CrmReReadWorker>();
        var worker = new CrmReReadWorker(Runtime, consumer);
        var interval = TimeSpan.FromSeconds(Runtime.Options.ReReadIntervalSeconds);
        _reReads = Task.Run(async () =>
        {
            while (!_stopping.IsCancellationRequested)
            {
                try
                {
                    await Task.Delay(interval, _stopping.Token).ConfigureAwait(false);
                    await worker.RunOnceAsync(_stopping.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (_stopping.IsCancellationRequested)
                {
                    return;
                }
                catch (Exception ex) when (ex is EdgeUnavailableException or KafkaException or TimeoutException or InvalidOperationException || VendorPayloadException.IsMappingFailure(ex))
                {
                    log.LogError("CRM re-read pass failed ({Type}: {Reason}); next pass in {Interval}", ex.GetType().Name, ex.Message, interval);
                }
            }
        });
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        await _poller.ConfigureAwait(false);
        await _reReads.ConfigureAwait(false);
        _pollerHttp?.Dispose();
        _crmHttp?.Dispose();
        _stopping.Dispose();
        try
        {
            await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
            await _app.DisposeAsync().ConfigureAwait(false);
        }
        finally
        {
            try
            {
                // After the server stopped: what the extra endpoints accepted is flushed before anything is torn down.
                await DisposeAllAsync(_resources).ConfigureAwait(false);
            }
            finally
            {
                Runtime.Dispose();
            }
        }
    }

    /// <summary>Disposes every resource in order, even when one fails; rethrows the first failure.</summary>
    private static async Task DisposeAllAsync(IReadOnlyList<IAsyncDisposable> resources)
    {
        Exception? first = null;
        foreach (var resource in resources)
        {
            try
            {
                await resource.DisposeAsync().ConfigureAwait(false);
            }
            catch (Exception ex)
            {
                first ??= ex;
            }
        }

        if (first is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(first);
        }
    }
}
