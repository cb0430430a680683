using System.Diagnostics;
using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.Logging;
using Streaming.Producers.Billing;
using Streaming.Producers.Crm;
using Streaming.Producers.Edge;
using Streaming.Producers.Webhooks;

namespace Streaming.Producers.Hosting;

/// <summary>
/// The connector HTTP endpoints: <c>POST /webhooks/stripe</c>, <c>/webhooks/hubspot</c>, <c>/webhooks/salesforce</c>,
/// <c>GET /health/live</c>, <c>/health/ready</c>, <c>/metrics</c>. A webhook is answered 2xx only after Kafka acknowledged every
/// record it made; 401 for a bad or missing signature, 413 for a body over the limit, 503 when Kafka did not acknowledge (the
/// vendor retries) or the connector is not configured. Logs name the source, the event id and the outcome — never a body,
/// a secret or a personal field.
/// </summary>
public static class ConnectorEndpoints
{
    /// <summary>Maps the webhook endpoints.</summary>
    public static IEndpointRouteBuilder MapConnectorWebhooks(this IEndpointRouteBuilder app, ConnectorRuntime runtime)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var log = runtime.LoggerFactory.CreateLogger("Streaming.Producers.Webhooks");
        app.MapPost("/webhooks/stripe", (HttpContext http) => HandleAsync(http, runtime, log, "stripe", StripeAsync));
        app.MapPost("/webhooks/hubspot", (HttpContext http) => HandleAsync(http, runtime, log, "hubspot", HubSpotAsync));
        app.MapPost("/webhooks/salesforce", (HttpContext http) => HandleAsync(http, runtime, log, "salesforce", SalesforceAsync));
        app.MapGet("/webhooks/salesforce/replay-id", (Func<HttpContext, Task<IResult>>)(http => ReplayIdAsync(http, runtime)));
        return app;
    }

    /// <summary>
    /// Maps <c>/health/live</c>, <c>/health/ready</c> and <c>/metrics</c>. <paramref name="readinessChecks"/> (null when ready,
    /// else the reason) are consulted by <c>/health/ready</c> once the connectors themselves are ready.
    /// </summary>
    public static IEndpointRouteBuilder MapConnectorOperations(this IEndpointRouteBuilder app, ConnectorRuntime runtime, IReadOnlyList<Func<string?>>? readinessChecks = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var checks = readinessChecks ?? [];
        app.MapGet("/health/live", () => runtime.FatalError is { } fatal
            ? Results.Text($"not live: the Kafka producer failed fatally ({fatal})\n", statusCode: StatusCodes.Status503ServiceUnavailable)
            : Results.Text("live\n"));
        app.MapGet("/health/ready", () =>
        {
            if (!runtime.Ready)
            {
                return Results.Text(runtime.Writer.Failing ? "not ready: Kafka is not acknowledging\n" : "not ready: starting\n", statusCode: StatusCodes.Status503ServiceUnavailable);
            }

            foreach (var check in checks)
            {
                if (check() is { } reason)
                {
                    return Results.Text($"not ready: {reason}\n", statusCode: StatusCodes.Status503ServiceUnavailable);
                }
            }

            return Results.Text("ready\n");
        });
        app.MapGet("/metrics", async (HttpContext http) =>
        {
            http.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
            await runtime.Metrics.Registry.CollectAndExportAsTextAsync(http.Response.Body, http.RequestAborted).ConfigureAwait(false);
        });
        return app;
    }

    /// <summary>What a source handler decided: records to write, or an answer to give at once.</summary>
    private sealed record Decision(EdgeBatch? Batch, int Status = StatusCodes.Status200OK, string? Error = null, int Events = 0);

    private delegate Task<Decision> SourceHandler(HttpContext http, ConnectorRuntime runtime, byte[] body, ILogger log);

    private static async Task HandleAsync(HttpContext http, ConnectorRuntime runtime, ILogger log, string source, SourceHandler handler)
    {
        var started = Stopwatch.GetTimestamp();
        var status = StatusCodes.Status500InternalServerError;
        try
        {
            var body = await ReadBodyAsync(http, runtime.Options.MaxBodyBytes).ConfigureAwait(false);
            if (body is null)
            {
                status = await AnswerAsync(http, StatusCodes.Status413PayloadTooLarge, new { error = $"body larger than {runtime.Options.MaxBodyBytes} bytes" }).ConfigureAwait(false);
                return;
            }

            var decision = await handler(http, runtime, body, log).ConfigureAwait(false);
            if (decision.Batch is not { } batch)
            {
                status = await AnswerAsync(http, decision.Status, new { error = decision.Error }).ConfigureAwait(false);
                return;
            }

            EdgeWriteResult written;
            try
            {
                written = await runtime.Writer.WriteAsync(batch, TraceParentFor(http), http.RequestAborted).ConfigureAwait(false);
            }
            catch (EdgeUnavailableException ex)
            {
                log.LogWarning("{Source} webhook: Kafka did not acknowledge ({Reason}); answered 503 so the sender retries", source, ex.Message);
                http.Response.Headers.RetryAfter = "5";
                status = await AnswerAsync(http, StatusCodes.Status503ServiceUnavailable, new { error = "records could not be stored; retry later" }).ConfigureAwait(false);
                return;
            }

            runtime.Metrics.Duplicates.WithLabels(source).Inc(written.Duplicates);
            runtime.Metrics.Ignored.WithLabels(source).Inc(batch.IgnoredEvents);
            foreach (var record in batch.Records)
            {
                runtime.Metrics.Records.WithLabels(source, record.Topic).Inc();
            }

            status = await AnswerAsync(http, StatusCodes.Status200OK, new
            {
                events = decision.Events,
                produced = written.Produced,
                duplicates = written.Duplicates,
                ignored = batch.IgnoredEvents,
            }).ConfigureAwait(false);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            status = await AnswerAsync(http, StatusCodes.Status413PayloadTooLarge, new { error = $"body larger than {runtime.Options.MaxBodyBytes} bytes" }).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (http.RequestAborted.IsCancellationRequested)
        {
            status = 499; // client closed the request; nothing was acknowledged to it
        }
        finally
        {
            runtime.Metrics.Requests.WithLabels(source, status.ToString(System.Globalization.CultureInfo.InvariantCulture)).Inc();
            runtime.Metrics.Latency.WithLabels(source).Observe(Stopwatch.GetElapsedTime(started).TotalSeconds);
        }
    }

    private static async Task<Decision> StripeAsync(HttpContext http, ConnectorRuntime runtime, byte[] body, ILogger log)
    {
        if (!runtime.Stripe.Configured)
        {
            return new Decision(null, StatusCodes.Status503ServiceUnavailable, "Stripe webhook secrets are not configured (Connectors:Stripe:WebhookSecrets)");
        }

        var check = runtime.Stripe.Verify(http.Request.Headers["Stripe-Signature"].ToString(), body);
        if (check != SignatureCheck.Valid)
        {
            log.LogWarning("Stripe webhook rejected: signature {Check}", check);
            return new Decision(null, StatusCodes.Status401Unauthorized, $"signature {check}");
        }

        return await Task.FromResult(MapOrDeadLetter(runtime, log, "stripe", body, doc => StripeEventMapper.Map(doc.RootElement), doc => doc.RootElement.Str("id"))).ConfigureAwait(false);
    }

    private static async Task<Decision> HubSpotAsync(HttpContext http, ConnectorRuntime runtime, byte[] body, ILogger log)
    {
        if (!runtime.HubSpot.Configured)
        {
            return new Decision(null, StatusCodes.Status503ServiceUnavailable, "HubSpot client secret is not configured (Connectors:HubSpot:ClientSecret)");
        }

        var uri = HubSpotUri(http, runtime.Options.HubSpot.PublicBaseUrl);
        var check = runtime.HubSpot.Verify(http.Request.Method, uri, body, http.Request.Headers["X-HubSpot-Signature-v3"].ToString(),
            http.Request.Headers["X-HubSpot-Request-Timestamp"].ToString());
        if (check != SignatureCheck.Valid)
        {
            log.LogWarning("HubSpot webhook rejected: signature {Check}", check);
            return new Decision(null, StatusCodes.Status401Unauthorized, $"signature {check}");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return Dead(runtime, log, "hubspot", body, new VendorPayloadException("the body is not JSON"), null);
        }

        using (doc)
        {
            try
            {
                var batch = await HubSpotEventMapper.MapAsync(doc.RootElement, runtime, http.RequestAborted).ConfigureAwait(false);
                return new Decision(batch, Events: doc.RootElement.ValueKind == JsonValueKind.Array ? doc.RootElement.GetArrayLength() : 1);
            }
            catch (Exception ex) when (VendorPayloadException.IsMappingFailure(ex))
            {
                return Dead(runtime, log, "hubspot", body, ex, null);
            }
        }
    }

    private static async Task<Decision> SalesforceAsync(HttpContext http, ConnectorRuntime runtime, byte[] body, ILogger log)
    {
        var token = runtime.Options.Salesforce.RelayToken;
        if (string.IsNullOrEmpty(token))
        {
            return new Decision(null, StatusCodes.Status503ServiceUnavailable, "Salesforce relay token is not configured (Connectors:Salesforce:RelayToken)");
        }

        var given = http.Request.Headers.Authorization.ToString();
        var expected = "Bearer " + token;
        if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(given), System.Text.Encoding.UTF8.GetBytes(expected)))
        {
            log.LogWarning("Salesforce CDC delivery rejected: {Check}", string.IsNullOrEmpty(given) ? "no bearer token" : "wrong bearer token");
            return new Decision(null, StatusCodes.Status401Unauthorized, "missing or wrong bearer token");
        }

        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return Dead(runtime, log, "salesforce", body, new VendorPayloadException("the body is not JSON"), null);
        }

        using (doc)
        {
            try
            {
                var result = await SalesforceCdcMapper.MapAsync(doc.RootElement, runtime, http.RequestAborted).ConfigureAwait(false);
                return new Decision(result.Batch, Events: result.Events);
            }
            catch (Exception ex) when (VendorPayloadException.IsMappingFailure(ex))
            {
                return Dead(runtime, log, "salesforce", body, ex, null);
            }
        }
    }

    /// <summary>
    /// Where the relay resumes after a restart: the last replay id checkpointed for the channel (404 when none yet). Needs the
    /// same bearer token as deliveries.
    /// </summary>
    private static async Task<IResult> ReplayIdAsync(HttpContext http, ConnectorRuntime runtime)
    {
        var token = runtime.Options.Salesforce.RelayToken;
        if (string.IsNullOrEmpty(token))
        {
            return Results.Json(new { error = "Salesforce relay token is not configured (Connectors:Salesforce:RelayToken)" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        if (!CryptographicOperations.FixedTimeEquals(System.Text.Encoding.UTF8.GetBytes(http.Request.Headers.Authorization.ToString()), System.Text.Encoding.UTF8.GetBytes("Bearer " + token)))
        {
            return Results.Json(new { error = "missing or wrong bearer token" }, statusCode: StatusCodes.Status401Unauthorized);
        }

        if (runtime.ConsumerConfig is not { } consumer)
        {
            return Results.Json(new { error = "starting" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }

        var channel = runtime.Options.Salesforce.Channel;
        try
        {
            var checkpoint = await Edge.CheckpointReader.ReadLatestAsync(consumer, runtime.Registry, SalesforceCdcMapper.ReplayCheckpointId(channel), TimeSpan.FromSeconds(20), http.RequestAborted).ConfigureAwait(false);
            return checkpoint is null
                ? Results.Json(new { channel, error = "no replay id checkpointed yet" }, statusCode: StatusCodes.Status404NotFound)
                : Results.Json(new { channel, replayId = checkpoint.cursor, eventId = checkpoint.details.TryGetValue("eventId", out var e) ? e : null, updatedAt = checkpoint.updatedAt });
        }
        catch (Exception ex) when (ex is Confluent.Kafka.KafkaException or TimeoutException or InvalidOperationException)
        {
            return Results.Json(new { error = $"checkpoint unreadable ({ex.GetType().Name})" }, statusCode: StatusCodes.Status503ServiceUnavailable);
        }
    }

    private static Decision MapOrDeadLetter(ConnectorRuntime runtime, ILogger log, string source, byte[] body, Func<JsonDocument, EdgeBatch> map, Func<JsonDocument, string?> eventId)
    {
        JsonDocument doc;
        try
        {
            doc = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            return Dead(runtime, log, source, body, new VendorPayloadException("the body is not JSON"), null);
        }

        using (doc)
        {
            try
            {
                return new Decision(map(doc), Events: 1);
            }
            catch (Exception ex) when (VendorPayloadException.IsMappingFailure(ex))
            {
                return Dead(runtime, log, source, body, ex, eventId(doc));
            }
        }
    }

    /// <summary>An authentic event that cannot be mapped is stored whole in the DLQ (and acknowledged), never dropped or retried forever.</summary>
    private static Decision Dead(ConnectorRuntime runtime, ILogger log, string source, byte[] body, Exception error, string? eventId)
    {
        var id = eventId ?? "sha256:" + Convert.ToHexStringLower(SHA256.HashData(body));
        log.LogWarning("{Source} event {EventId} could not be mapped ({Reason}); stored in the dead-letter topic", source, id, error.Message);
        runtime.Metrics.DeadLettered.WithLabels(source).Inc();
        return new Decision(new EdgeBatch([runtime.DeadLetter(source, id, body, error)], 0), Events: 1);
    }

    /// <summary>Reads the body, or null when it is larger than <paramref name="limit"/> (checked on Content-Length and while reading).</summary>
    private static async Task<byte[]?> ReadBodyAsync(HttpContext http, int limit)
    {
        if (http.Request.ContentLength is { } length && length > limit)
        {
            return null;
        }

        using var buffer = new MemoryStream(http.Request.ContentLength is { } l ? (int)l : 4096);
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await http.Request.Body.ReadAsync(chunk, http.RequestAborted).ConfigureAwait(false)) > 0)
        {
            if (buffer.Length + read > limit)
            {
                return null;
            }

            buffer.Write(chunk, 0, read);
        }

        return buffer.ToArray();
    }

    private static async Task<int> AnswerAsync(HttpContext http, int status, object body)
    {
        http.Response.StatusCode = status;
        await http.Response.WriteAsJsonAsync(body, http.RequestAborted).ConfigureAwait(false);
        return status;
    }

    /// <summary>The caller's trace continued with a new span when it sent a valid <c>traceparent</c>; a new trace otherwise.</summary>
    private static string TraceParentFor(HttpContext http)
    {
        var incoming = http.Request.Headers["traceparent"].ToString();
        if (ActivityContext.TryParse(incoming, null, out var parent))
        {
            return $"00-{parent.TraceId.ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-{(parent.TraceFlags.HasFlag(ActivityTraceFlags.Recorded) ? "01" : "00")}";
        }

        return Platform.Serialization.TracingHeaders.NewTraceParent();
    }

    /// <summary>The URI HubSpot signed: the configured public base URL (or the request's scheme and host) plus path and query.</summary>
    private static string HubSpotUri(HttpContext http, string? publicBaseUrl)
    {
        var request = http.Request;
        var origin = string.IsNullOrWhiteSpace(publicBaseUrl) ? $"{request.Scheme}://{request.Host}" : publicBaseUrl.TrimEnd('/');
        return origin + request.PathBase + request.Path + request.QueryString;
    }
}
