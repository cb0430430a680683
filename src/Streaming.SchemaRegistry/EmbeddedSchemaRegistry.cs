using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Streaming.SchemaRegistry.Storage;

namespace Streaming.SchemaRegistry;

/// <summary>Options for <see cref="EmbeddedSchemaRegistry"/>.</summary>
public sealed class EmbeddedSchemaRegistryOptions
{
    /// <summary>Address to bind. Loopback by default: the embedded registry is for this machine only.</summary>
    public string Host { get; set; } = "127.0.0.1";

    /// <summary>Port to bind; 0 (default) lets the OS choose, read the result from <see cref="EmbeddedSchemaRegistry.Url"/>.</summary>
    public int Port { get; set; }

    /// <summary>Explicit Kestrel URLs (e.g. <c>http://0.0.0.0:8081</c>); when set, <see cref="Host"/> and <see cref="Port"/> are ignored.</summary>
    public string? Urls { get; set; }

    /// <summary>Global compatibility level in force before anyone sets one (enforced on registration).</summary>
    public string DefaultCompatibility { get; set; } = "BACKWARD";

    /// <summary>
    /// Storage to serve from (e.g. a <see cref="KafkaSchemaStore"/>); a fresh <see cref="InMemorySchemaStore"/> when null.
    /// The registry disposes it on <see cref="EmbeddedSchemaRegistry.DisposeAsync"/>.
    /// </summary>
    public ISchemaStore? Store { get; set; }
}

/// <summary>A Confluent-compatible schema registry served by Kestrel inside this process.</summary>
public sealed class EmbeddedSchemaRegistry : IAsyncDisposable
{
    private readonly WebApplication _app;

    private EmbeddedSchemaRegistry(WebApplication app, string url, ISchemaStore store)
    {
        _app = app;
        Url = url;
        Store = store;
    }

    /// <summary>Base URL actually bound, e.g. <c>http://127.0.0.1:53211</c>; pass it as <c>SchemaRegistryConfig.Url</c>.</summary>
    public string Url { get; }

    /// <summary>The store behind the REST API.</summary>
    public ISchemaStore Store { get; }

    /// <summary>Starts the registry and returns once it is listening.</summary>
    public static async Task<EmbeddedSchemaRegistry> StartAsync(
        EmbeddedSchemaRegistryOptions? options = null,
        ILoggerFactory? loggerFactory = null,
        CancellationToken cancellationToken = default)
    {
        options ??= new EmbeddedSchemaRegistryOptions();
        var level = CompatibilityLevels.Normalize(options.DefaultCompatibility)
            ?? throw new ArgumentException($"EmbeddedSchemaRegistryOptions.DefaultCompatibility '{options.DefaultCompatibility}' is not one of {string.Join(", ", CompatibilityLevels.All)}.", nameof(options));
        var store = options.Store ?? new InMemorySchemaStore(level);

        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = typeof(EmbeddedSchemaRegistry).Assembly.GetName().Name,
            ContentRootPath = AppContext.BaseDirectory,
        });
        builder.Logging.ClearProviders();
        if (loggerFactory is not null)
        {
            builder.Services.AddSingleton(loggerFactory);
        }

        builder.WebHost.UseUrls(options.Urls ?? new UriBuilder(Uri.UriSchemeHttp, options.Host, options.Port).Uri.ToString().TrimEnd('/'));

        var app = builder.Build();
        app.UseSchemaRegistryErrors();
        app.MapSchemaRegistry(new SchemaRegistryService(store));
        app.MapFallback(static () => Results.Text("{\"error_code\":404,\"message\":\"HTTP 404 Not Found\"}",
            SchemaRegistryEndpoints.ContentType, statusCode: StatusCodes.Status404NotFound));

        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault()
            ?? throw new InvalidOperationException("Kestrel started but reported no bound address.");
        app.Logger.LogInformation("Schema registry listening on {Url}", url);
        return new EmbeddedSchemaRegistry(app, url, store);
    }

    /// <summary>Stops Kestrel, releases the port and disposes the store.</summary>
    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync().ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
        await Store.DisposeAsync().ConfigureAwait(false);
    }
}
