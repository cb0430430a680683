using System.Buffers;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Platform.Serialization;

namespace Streaming.Producers.Usage;

/// <summary>Settings of <c>POST /ingest/usage</c> (configuration section <c>Usage:Http</c>).</summary>
public sealed class UsageEndpointOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Usage:Http";

    /// <summary>Largest request body accepted; larger ones get 413 and nothing is produced.</summary>
    [Range(1, 1L << 30)]
    public long MaxBodyBytes { get; set; } = 8 * 1024 * 1024;

    /// <summary>
    /// Requests processed at once; more get 429. With <see cref="MaxBodyBytes"/> this bounds the memory the endpoint
    /// can hold (bodies are buffered whole, so a batch is admitted, produced and answered as one).
    /// </summary>
    [Range(1, 10_000)]
    public int MaxConcurrentRequests { get; set; } = 32;

    /// <summary>Value of the <c>Retry-After</c> header on 429 and 503 answers.</summary>
    [Range(typeof(TimeSpan), "00:00:01", "01:00:00")]
    public TimeSpan RetryAfter { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>Most line errors listed in a response (the counts are always complete).</summary>
    [Range(1, 100_000)]
    public int MaxReportedErrors { get; set; } = 1000;

    /// <summary><c>source</c> of lines that have none.</summary>
    [Required]
    public string DefaultSource { get; set; } = "ingest-http";

    /// <summary>Per-line limits.</summary>
    public UsageLineRules Rules { get; set; } = new();
}

/// <summary>
/// <c>POST /ingest/usage</c>: an <c>application/x-ndjson</c> batch of usage events, one JSON object per line. Each line
/// is validated on its own; the valid ones are produced to <c>billing.usage.v1</c> through a <see cref="UsageIngestor"/>
/// and the answer comes only after Kafka acknowledged them. Status codes: 200 (report: accepted, rejected, per-line
/// errors), 400 (no valid line), 413 (body over the limit, or more valid lines than the ingestor can ever hold), 415
/// (not NDJSON), 429 + <c>Retry-After</c> (producer queue full or too many concurrent requests: nothing was produced),
/// 503 + <c>Retry-After</c> (Kafka did not acknowledge some lines; resending the batch is safe, usageEventId makes
/// repeats harmless downstream).
/// </summary>
public static class UsageIngestionEndpoint
{
    /// <summary>The route.</summary>
    public const string Route = "/ingest/usage";

    /// <summary>The accepted media type.</summary>
    public const string ContentType = "application/x-ndjson";

    /// <summary>Request header carrying the caller's correlation id (echoed in the response; a new one is made when absent).</summary>
    public const string CorrelationHeader = "X-Correlation-Id";

    /// <summary>
    /// Maps the endpoint with the <see cref="UsageIngestor"/> from the host's services, and the <see cref="UsageEndpointOptions"/>
    /// registered as a singleton or through the options pattern (<c>IOptions&lt;UsageEndpointOptions&gt;</c>), else the defaults.
    /// </summary>
    public static IEndpointConventionBuilder MapUsageIngestion(this IEndpointRouteBuilder endpoints, string pattern = Route)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var services = endpoints.ServiceProvider;
        var options = services.GetService<UsageEndpointOptions>() ?? services.GetService<Microsoft.Extensions.Options.IOptions<UsageEndpointOptions>>()?.Value;
        return endpoints.MapUsageIngestion(services.GetRequiredService<UsageIngestor>(), options, services.GetService<ILoggerFactory>(), pattern);
    }

    /// <summary>Maps the endpoint over <paramref name="ingestor"/>.</summary>
    public static IEndpointConventionBuilder MapUsageIngestion(this IEndpointRouteBuilder endpoints, UsageIngestor ingestor, UsageEndpointOptions? options = null,
        ILoggerFactory? loggerFactory = null, string pattern = Route)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        ArgumentNullException.ThrowIfNull(ingestor);
        options ??= new UsageEndpointOptions();
        var errors = new List<ValidationResult>();
        if (!Validator.TryValidateObject(options, new ValidationContext(options), errors, validateAllProperties: true))
        {
            throw new ArgumentException($"{UsageEndpointOptions.Section}: " + string.Join("; ", errors.Select(e => e.ErrorMessage)), nameof(options));
        }

        var handler = new Handler(ingestor, options, (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger(typeof(UsageIngestionEndpoint).FullName!));
        return endpoints.MapPost(pattern, handler.HandleAsync);
    }

    private sealed class Handler(UsageIngestor ingestor, UsageEndpointOptions options, ILogger log)
    {
        private readonly SemaphoreSlim _gate = new(options.MaxConcurrentRequests, options.MaxConcurrentRequests);
        private readonly string _retryAfter = Math.Ceiling(options.RetryAfter.TotalSeconds).ToString(CultureInfo.InvariantCulture);

        public async Task HandleAsync(HttpContext http)
        {
            var request = http.Request;
            var response = http.Response;
            if (!IsNdjson(request.ContentType))
            {
                await Problem(response, StatusCodes.Status415UnsupportedMediaType, $"Content-Type must be {ContentType}.").ConfigureAwait(false);
                return;
            }

            var encoding = request.Headers.ContentEncoding.ToString();
            if (encoding.Length > 0 && !encoding.Equals("identity", StringComparison.OrdinalIgnoreCase))
            {
                // A compressed body would be parsed as garbage lines; refuse it as a whole instead.
                await Problem(response, StatusCodes.Status415UnsupportedMediaType, "Content-Encoding is not supported; send the NDJSON uncompressed.").ConfigureAwait(false);
                return;
            }

            if (request.ContentLength > options.MaxBodyBytes)
            {
                await Problem(response, StatusCodes.Status413PayloadTooLarge, $"The body is larger than {options.MaxBodyBytes} bytes; split the batch.").ConfigureAwait(false);
                return;
            }

            if (!_gate.Wait(0))
            {
                response.Headers.RetryAfter = _retryAfter;
                await Problem(response, StatusCodes.Status429TooManyRequests, "Too many ingest requests in progress; retry after the Retry-After delay.").ConfigureAwait(false);
                return;
            }

            byte[]? body = null;
            try
            {
                if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } limit)
                {
                    limit.MaxRequestBodySize = options.MaxBodyBytes;
                }

                int length;
                try
                {
                    (body, length) = await ReadBodyAsync(request, options.MaxBodyBytes, http.RequestAborted).ConfigureAwait(false);
                }
                catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
                {
                    length = -1;
                }

                if (length < 0)
                {
                    await Problem(response, StatusCodes.Status413PayloadTooLarge, $"The body is larger than {options.MaxBodyBytes} bytes; split the batch.").ConfigureAwait(false);
                    return;
                }

                await ProcessAsync(http, body!.AsMemory(0, length)).ConfigureAwait(false);
            }
            finally
            {
                if (body is not null)
                {
                    ArrayPool<byte>.Shared.Return(body);
                }

                _gate.Release();
            }
        }

        private async Task ProcessAsync(HttpContext http, ReadOnlyMemory<byte> body)
        {
            var response = http.Response;
            var context = ContextFor(http.Request);
            response.Headers[CorrelationHeader] = context.CorrelationId;
            var source = options.DefaultSource;
            var parser = new UsageLineParser(DateTimeOffset.UtcNow, source, options.Rules);
            var records = new List<UsageRecord>();
            var errors = new List<UsageLineError>();
            var lines = parser.ParseAll(body.Span, records, errors);
            if (records.Count == 0)
            {
                if (lines == 0)
                {
                    errors.Add(new UsageLineError(0, null, "the body holds no usage lines"));
                }

                await Report(response, StatusCodes.Status400BadRequest, 0, errors, null).ConfigureAwait(false);
                return;
            }

            if (records.Count > ingestor.Capacity)
            {
                await Problem(response, StatusCodes.Status413PayloadTooLarge,
                    $"The batch has {records.Count} valid lines; at most {ingestor.Capacity} fit the ingest queue at once. Split the batch.").ConfigureAwait(false);
                return;
            }

            if (!ingestor.TryBeginBatch(records.Count, context, out var batch))
            {
                // Admission is all or nothing: nothing of this request was produced, so the whole batch can be resent.
                log.LogInformation("Usage batch {CorrelationId} refused: ingest queue full ({InFlight}/{Capacity})", context.CorrelationId, ingestor.InFlight, ingestor.Capacity);
                response.Headers.RetryAfter = _retryAfter;
                await Problem(response, StatusCodes.Status429TooManyRequests, "The ingest queue is full; nothing was stored. Retry after the Retry-After delay.").ConfigureAwait(false);
                return;
            }

            foreach (var record in System.Runtime.InteropServices.CollectionsMarshal.AsSpan(records))
            {
                batch.Add(record);
            }

            // Deliberately not bound to RequestAborted: once produced, the records are acknowledged or failed by Kafka
            // whether or not the client is still there.
            var result = await batch.CompleteAsync().ConfigureAwait(false);
            if (result.Failed > 0)
            {
                log.LogWarning("Usage batch {CorrelationId}: {Failed} of {Count} records not acknowledged by Kafka: {Code}",
                    context.CorrelationId, result.Failed, records.Count, result.FirstError?.Code);
                response.Headers.RetryAfter = _retryAfter;
                await Report(response, StatusCodes.Status503ServiceUnavailable, result.Delivered, errors,
                    $"{result.Failed} of {records.Count} valid lines were not acknowledged by Kafka ({result.FirstError?.Code}); resend the batch (repeated usageEventIds are dropped downstream).")
                    .ConfigureAwait(false);
                return;
            }

            log.LogDebug("Usage batch {CorrelationId}: {Accepted} accepted, {Rejected} rejected", context.CorrelationId, result.Delivered, errors.Count);
            await Report(response, StatusCodes.Status200OK, result.Delivered, errors, null).ConfigureAwait(false);
        }

        private static UsageContext ContextFor(HttpRequest request)
        {
            var correlation = request.Headers[CorrelationHeader].ToString();
            if (correlation.Length is 0 or > 128 || correlation.AsSpan().ContainsAnyExceptInRange('\u0021', '\u007e'))
            {
                correlation = "usage-" + Guid.NewGuid().ToString("N");
            }

            var traceParent = request.Headers[TracingHeaders.TraceParent].ToString();
            return UsageContext.Create(correlation, IsTraceParent(traceParent) ? traceParent : null);
        }

        private static bool IsTraceParent(string value) =>
            value.Length == 55 && value[2] == '-' && value[35] == '-' && value[52] == '-'
            && value.AsSpan(0, 2).IndexOfAnyExcept("0123456789abcdef") < 0 && value.AsSpan(3, 32).IndexOfAnyExcept("0123456789abcdef") < 0
            && value.AsSpan(36, 16).IndexOfAnyExcept("0123456789abcdef") < 0 && value.AsSpan(53, 2).IndexOfAnyExcept("0123456789abcdef") < 0;

        private static bool IsNdjson(string? contentType)
        {
            if (string.IsNullOrEmpty(contentType))
            {
                return false;
            }

            var semicolon = contentType.IndexOf(';', StringComparison.Ordinal);
            var media = (semicolon < 0 ? contentType : contentType[..semicolon]).Trim();
            return media.Equals(ContentType, StringComparison.OrdinalIgnoreCase);
        }

        private async Task Report(HttpResponse response, int status, int accepted, List<UsageLineError> errors, string? message)
        {
            response.StatusCode = status;
            response.ContentType = "application/json; charset=utf-8";
            await using var json = new Utf8JsonWriter(response.BodyWriter.AsStream());
            json.WriteStartObject();
            json.WriteNumber("accepted", accepted);
            json.WriteNumber("rejected", errors.Count(e => e.Line > 0));
            if (message is not null)
            {
                json.WriteString("message", message);
            }

            json.WriteStartArray("errors");
            foreach (var e in errors.Take(options.MaxReportedErrors))
            {
                json.WriteStartObject();
                json.WriteNumber("line", e.Line);
                if (e.Field is null)
                {
                    json.WriteNull("field");
                }
                else
                {
                    json.WriteString("field", e.Field);
                }

                json.WriteString("reason", e.Reason);
                json.WriteEndObject();
            }

            json.WriteEndArray();
            json.WriteBoolean("errorsTruncated", errors.Count > options.MaxReportedErrors);
            json.WriteEndObject();
            await json.FlushAsync().ConfigureAwait(false);
        }

        private static async Task Problem(HttpResponse response, int status, string message)
        {
            response.StatusCode = status;
            response.ContentType = "application/json; charset=utf-8";
            await using var json = new Utf8JsonWriter(response.BodyWriter.AsStream());
            json.WriteStartObject();
            json.WriteString("error", message);
            json.WriteEndObject();
            await json.FlushAsync().ConfigureAwait(false);
        }

        /// <summary>The whole body in a pooled buffer, or length -1 when it exceeds <paramref name="max"/>.</summary>
        private static async Task<(byte[] Buffer, int Length)> ReadBodyAsync(HttpRequest request, long max, CancellationToken ct)
        {
            var buffer = ArrayPool<byte>.Shared.Rent((int)Math.Min(max + 1, request.ContentLength is { } n ? n + 1 : 64 * 1024));
            var length = 0;
            try
            {
                while (true)
                {
                    if (length == buffer.Length)
                    {
                        if (length > max)
                        {
                            return (buffer, -1);
                        }

                        var bigger = ArrayPool<byte>.Shared.Rent((int)Math.Min(max + 1, (long)buffer.Length * 2));
                        buffer.AsSpan(0, length).CopyTo(bigger);
                        ArrayPool<byte>.Shared.Return(buffer);
                        buffer = bigger;
                    }

                    var read = await request.Body.ReadAsync(buffer.AsMemory(length), ct).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return (buffer, length > max ? -1 : length);
                    }

                    length += read;
                    if (length > max)
                    {
                        return (buffer, -1);
                    }
                }
            }
            catch
            {
                ArrayPool<byte>.Shared.Return(buffer);
                throw;
            }
        }
    }
}
