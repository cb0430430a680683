using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Producers.Edge;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Billing;

/// <summary>
/// Catches up on Stripe events through <c>GET /v1/events</c> — what webhooks missed (endpoint down, events older than Stripe's
/// retries). Stripe lists events newest first, so the poller walks forward in time: <c>ending_before={cursor}</c> returns the
/// page of events just newer than the cursor (still newest first, <c>has_more</c> when more newer ones exist); each page is
/// processed oldest first, every event's records acknowledged by Kafka before the next, and the page's newest id becomes the
/// cursor, checkpointed in <c>connect.checkpoints.v1</c> under <see cref="CheckpointId"/> only after all its records are stored.
/// A stop mid-page resumes from the previous checkpoint and re-reads that page: the events already stored are dropped by the
/// writer's duplicate filter (seeded from the topics on start), so nothing is lost and nothing is stored twice. Without a
/// checkpoint it starts from the oldest event Stripe still lists (30 days). 429 and 5xx answers are retried after
/// <c>Retry-After</c> (or an exponential backoff).
/// </summary>
public sealed class StripeEventsPoller
{
    /// <summary>Checkpoint key of the Events API cursor.</summary>
    public const string CheckpointId = "stripe-events";

    private readonly ConnectorRuntime _runtime;
    private readonly HttpClient _http;
    private readonly ConsumerConfig _consumer;
    private readonly ILogger _log;
    private readonly Func<string, CancellationToken, Task>? _onEventStored;

    /// <summary>Creates a poller; <paramref name="http"/> gets the base URL and key from the Stripe options.</summary>
    /// <param name="onEventStored">Called after each event's records are acknowledged (progress reporting; tests stop the poller mid-page with it).</param>
    public StripeEventsPoller(ConnectorRuntime runtime, HttpClient http, ConsumerConfig consumerConfig, Func<string, CancellationToken, Task>? onEventStored = null)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        ArgumentNullException.ThrowIfNull(http);
        _runtime = runtime;
        _http = http;
        _consumer = consumerConfig;
        _onEventStored = onEventStored;
        _log = runtime.LoggerFactory.CreateLogger<StripeEventsPoller>();
        var options = runtime.Options.Stripe;
        if (string.IsNullOrEmpty(options.ApiKey))
        {
            throw new InvalidOperationException("Connectors:Stripe:ApiKey (or ApiKeyFile) is required to poll the Events API.");
        }

        _http.BaseAddress = new Uri(options.ApiBaseUrl.TrimEnd('/') + "/");
        _http.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", options.ApiKey);
    }

    /// <summary>Events stored by this poller (acknowledged, duplicates not counted).</summary>
    public long EventsStored { get; private set; }

    /// <summary>Polls until cancelled: catches up, then waits <c>PollIntervalSeconds</c> between polls.</summary>
    public async Task RunAsync(CancellationToken ct)
    {
        while (true)
        {
            await CatchUpAsync(ct).ConfigureAwait(false);
            await Task.Delay(TimeSpan.FromSeconds(_runtime.Options.Stripe.PollIntervalSeconds), ct).ConfigureAwait(false);
        }
    }

    /// <summary>Processes every event newer than the checkpoint; returns how many were stored.</summary>
    public async Task<int> CatchUpAsync(CancellationToken ct)
    {
        var checkpoint = await CheckpointReader.ReadLatestAsync(_consumer, _runtime.Registry, CheckpointId, TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        var cursor = checkpoint?.cursor;
        var stored = 0;
        if (cursor is null)
        {
            // No checkpoint: begin with the oldest event Stripe still lists.
            var oldest = await FindOldestAsync(ct).ConfigureAwait(false);
            if (oldest is null)
            {
                return 0;
            }

            stored += await StorePageAsync([oldest.Value], ct).ConfigureAwait(false);
            cursor = oldest.Value.GetProperty("id").GetString()!;
        }

        while (true)
        {
            using var page = await GetAsync($"v1/events?limit={_runtime.Options.Stripe.PageSize}&ending_before={Uri.EscapeDataString(cursor)}", ct).ConfigureAwait(false);
            var data = page.RootElement.GetProperty("data").EnumerateArray().Select(e => e.Clone()).ToList();
            if (data.Count == 0)
            {
                return stored;
            }

            data.Reverse(); // oldest first
            stored += await StorePageAsync(data, ct).ConfigureAwait(false);
            cursor = data[^1].GetProperty("id").GetString()!;
            if (!page.RootElement.GetProperty("has_more").GetBoolean())
            {
                return stored;
            }
        }
    }

    /// <summary>Stores the events of a page in order, then checkpoints its newest id.</summary>
    private async Task<int> StorePageAsync(IReadOnlyList<JsonElement> events, CancellationToken ct)
    {
        var stored = 0;
        foreach (var evt in events)
        {
            ct.ThrowIfCancellationRequested();
            var id = evt.GetProperty("id").GetString()!;
            EdgeBatch batch;
            try
            {
                batch = StripeEventMapper.Map(evt);
            }
            catch (Exception ex) when (VendorPayloadException.IsMappingFailure(ex))
            {
                _log.LogWarning("Stripe event {EventId} could not be mapped ({Reason}); stored in the dead-letter topic", id, ex.Message);
                batch = new EdgeBatch([_runtime.DeadLetter("stripe", id, JsonSerializer.SerializeToUtf8Bytes(evt), ex)], 0);
            }

            var written = await _runtime.Writer.WriteAsync(batch, null, ct).ConfigureAwait(false);
            if (written.Produced > 0)
            {
                stored++;
                EventsStored++;
            }

            if (_onEventStored is not null)
            {
                await _onEventStored(id, ct).ConfigureAwait(false);
            }
        }

        ct.ThrowIfCancellationRequested();
        var newest = events[^1];
        var newestId = newest.GetProperty("id").GetString()!;
        await _runtime.Writer.WriteAsync(new EdgeBatch([_runtime.Checkpoint(CheckpointId, newestId, newestId, new Dictionary<string, string>
        {
            ["created"] = newest.GetProperty("created").GetInt64().ToString(CultureInfo.InvariantCulture),
            ["type"] = newest.GetProperty("type").GetString() ?? "",
        })], 0), null, ct).ConfigureAwait(false);
        return stored;
    }

    /// <summary>Walks the list back (<c>starting_after</c>) to the oldest event still listed.</summary>
    private async Task<JsonElement?> FindOldestAsync(CancellationToken ct)
    {
        JsonElement? oldest = null;
        var query = $"v1/events?limit={_runtime.Options.Stripe.PageSize}";
        while (true)
        {
            using var page = await GetAsync(query, ct).ConfigureAwait(false);
            var data = page.RootElement.GetProperty("data");
            if (data.GetArrayLength() == 0)
            {
                return oldest;
            }

            oldest = data[data.GetArrayLength() - 1].Clone();
            if (!page.RootElement.GetProperty("has_more").GetBoolean())
            {
                return oldest;
            }

            query = $"v1/events?limit={_runtime.Options.Stripe.PageSize}&starting_after={Uri.EscapeDataString(oldest.Value.GetProperty("id").GetString()!)}";
        }
    }

    /// <summary>GET with retries on 429 (after <c>Retry-After</c>) and 5xx / network errors (exponential backoff, at most 8 tries).</summary>
    private async Task<JsonDocument> GetAsync(string relative, CancellationToken ct)
    {
        var backoff = TimeSpan.FromMilliseconds(500);
        for (var attempt = 1; ; attempt++)
        {
            HttpResponseMessage response;
            try
            {
                response = await _http.GetAsync(relative, ct).ConfigureAwait(false);
            }
            catch (HttpRequestException ex) when (attempt < 8)
            {
                _log.LogWarning("Stripe Events API unreachable ({Reason}); retrying in {Delay}", ex.Message, backoff);
                await Task.Delay(backoff, ct).ConfigureAwait(false);
                backoff *= 2;
                continue;
            }

            using (response)
            {
                if (response.StatusCode == HttpStatusCode.TooManyRequests || (int)response.StatusCode >= 500)
                {
                    if (attempt >= 8)
                    {
                        throw new HttpRequestException($"Stripe Events API answered {(int)response.StatusCode} {attempt} times in a row.", null, response.StatusCode);
                    }

                    var wait = response.Headers.RetryAfter?.Delta ?? (response.Headers.RetryAfter?.Date is { } date ? date - DateTimeOffset.UtcNow : backoff);
                    wait = wait < TimeSpan.Zero ? TimeSpan.Zero : wait;
                    _log.LogInformation("Stripe Events API answered {Status}; retrying in {Delay}", (int)response.StatusCode, wait);
                    await Task.Delay(wait, ct).ConfigureAwait(false);
                    backoff *= 2;
                    continue;
                }

                if (!response.IsSuccessStatusCode)
                {
                    // The body may name the parameter (e.g. an unknown cursor); it holds no secret.
                    var detail = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                    throw new HttpRequestException($"Stripe Events API answered {(int)response.StatusCode} to GET /{relative.Split('?')[0]}: {Truncate(detail)}", null, response.StatusCode);
                }

                var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                await using (stream.ConfigureAwait(false))
                {
                    return await JsonDocument.ParseAsync(stream, cancellationToken: ct).ConfigureAwait(false);
                }
            }
        }
    }

    private static string Truncate(string s) => s.Length <= 300 ? s : s[..300] + "…";
}
