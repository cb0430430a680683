using System.Collections.Concurrent;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.NetSuite;

/// <summary>
/// An <see cref="ILedger"/> that posts journals to NetSuite's REST record service by external id:
/// <c>GET …/journalEntry/eid:{id}</c> (already there? same content hash → <see cref="PostingStatus.Duplicate"/>, other content →
/// <see cref="PostingStatus.Conflict"/>), otherwise <c>PUT …/journalEntry/eid:{id}</c>, NetSuite's upsert, which creates the
/// record (204, <c>Location</c> names it) — and, repeated after a lost response, updates it with the same content, so a retry never
/// makes a second record. Requests are signed with OAuth 1.0a (HMAC-SHA256, realm = account id), at most
/// <see cref="NetSuiteOptions.MaxConcurrency"/> are in flight, 429 waits for <c>Retry-After</c>, 5xx and timeouts back off
/// exponentially; 4xx validation errors are permanent.
/// </summary>
/// <remarks>
/// A REST ERP has no batch transaction: <see cref="PostBatchAsync"/> posts each journal on its own, so a failed batch may have
/// posted some of its journals. That is safe because posting is idempotent by external id — retrying the batch returns them as
/// duplicates — or as <see cref="PostingStatus.Posted"/> when this instance's own earlier PUT created them (it remembers keys it
/// PUT until their outcome is returned). Failures surface as <see cref="ErpTransientException"/> (a <see cref="LedgerTransientException"/>:
/// the sink pauses and retries the batch) or <see cref="ErpPermanentException"/> (a <see cref="LedgerPartiallyRejectedException"/>:
/// the sink quarantines the named journals and reports the others' outcomes).
/// </remarks>
public sealed class NetSuiteLedger : ILedger
{
    /// <summary>Path of the journal entry record collection.</summary>
    public const string RecordPath = "/services/rest/record/v1/journalEntry";

    private readonly NetSuiteOptions _options;
    private readonly OAuth1Credentials _credentials;
    private readonly HttpClient _http;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _inFlight;
    private readonly Uri _base;
    private readonly string _root;
    private readonly HttpClient? _ownedHttp;

    // Keys this instance sent a PUT for (after a GET answered 404) whose outcome has not been returned yet: a later GET that finds
    // the record with the same content hash is this instance's own posting (its batch failed transiently), so it reports Posted.
    private readonly ConcurrentDictionary<string, string> _putNotReported = new(StringComparer.Ordinal);

    /// <summary>Creates the adapter; <paramref name="http"/> is not disposed here.</summary>
    public NetSuiteLedger(NetSuiteOptions options, HttpClient http, ILogger<NetSuiteLedger> logger, TimeProvider? time = null)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _http = http ?? throw new ArgumentNullException(nameof(http));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _time = time ?? TimeProvider.System;
        _credentials = new OAuth1Credentials(options.AccountId, options.ConsumerKey, options.ConsumerSecret, options.TokenId, options.TokenSecret);
        _inFlight = new SemaphoreSlim(options.MaxConcurrency, options.MaxConcurrency);
        _root = options.BaseUrl.TrimEnd('/');
        _base = new Uri(_root + "/");
    }

    /// <summary>Creates the adapter with its own <see cref="HttpClient"/>, disposed with the adapter (what <see cref="LedgerFactory"/> uses).</summary>
    public static NetSuiteLedger Create(NetSuiteOptions options, ILogger<NetSuiteLedger> logger)
    {
        // The adapter applies RequestTimeoutSeconds per request itself.
        var http = new HttpClient { Timeout = Timeout.InfiniteTimeSpan };
        try
        {
            return new NetSuiteLedger(options, http, logger, ownedHttp: http);
        }
        catch
        {
            http.Dispose();
            throw;
        }
    }

    private NetSuiteLedger(NetSuiteOptions options, HttpClient http, ILogger<NetSuiteLedger> logger, HttpClient ownedHttp)
        : this(options, http, logger) => _ownedHttp = ownedHttp;

    /// <inheritdoc />
    public string Location => $"NetSuite {_root} (account {_options.AccountId})";

    /// <summary>Requests that were answered 429 (for metrics and tests).</summary>
    public long ThrottledResponses => Interlocked.Read(ref _throttled);

    /// <summary>Requests that failed with 5xx, a timeout or a connection error and were retried.</summary>
    public long RetriedFailures => Interlocked.Read(ref _retried);

    private long _throttled;
    private long _retried;

    /// <summary>Nothing to migrate: the journal entry record and the content-hash custom field are set up in NetSuite itself.</summary>
    public Task MigrateAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    /// <inheritdoc />
    public async Task<IReadOnlyList<PostingOutcome>> PostBatchAsync(IReadOnlyList<Journal> journals, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journals);
        // One request chain per posting key: two concurrent upserts of one key would both report Posted. A repeat within the
        // batch is answered from the first, as the SQL ledgers do (same content → duplicate, other content → conflict).
        var firsts = journals.DistinctBy(j => j.PostingKey, StringComparer.Ordinal).ToList();
        var posted = await Task.WhenAll(firsts.Select(j => PostGuardedAsync(j, cancellationToken))).ConfigureAwait(false);
        var byKey = firsts.Select((j, i) => (j, r: posted[i])).ToDictionary(x => x.j.PostingKey, x => (Journal: x.j, Result: x.r), StringComparer.Ordinal);
        var results = journals.Select(j =>
        {
            var (first, result) = byKey[j.PostingKey];
            if (ReferenceEquals(first, j) || result.Outcome is not { } o)
            {
                return result;
            }

            var hash = j.ContentHash();
            return new Result(o with { Status = o.Status == PostingStatus.Conflict || o.ContentHash != hash ? PostingStatus.Conflict : PostingStatus.Duplicate });
        }).ToList();
        var transient = results.Select(r => r.Transient).OfType<ErpTransientException>().ToList();
        if (transient.Count > 0)
        {
            // Keys PUT by this batch stay remembered: the retry finds them and reports them as Posted.
            var reached = results.Count(r => r.Outcome is not null);
            throw new ErpTransientException($"{transient.Count} of {journals.Count} journals could not reach NetSuite now ({reached} did; retrying the batch "
                + $"finds them as duplicates): {transient[0].Message}", transient.Max(t => t.RetryAfter), transient[0]);
        }

        foreach (var j in firsts)
        {
            _putNotReported.TryRemove(j.PostingKey, out _);
        }

        var outcomes = results.Select(r => r.Outcome).OfType<PostingOutcome>().ToList();
        var rejected = results.Select(r => r.Rejection).OfType<ErpRejection>().ToList();
        return rejected.Count > 0 ? throw new ErpPermanentException(rejected, outcomes) : outcomes;
    }

    /// <summary>Not offered by this adapter: NetSuite's own trial balance report is the source of truth for balances.</summary>
    public Task<IReadOnlyList<TrialBalanceRow>> TrialBalanceAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException("The NetSuite adapter does not read balances back; use NetSuite's trial balance report (or `streaming reconcile` on a SQL ledger).");

    /// <summary>Not offered by this adapter (it would need a SuiteQL query over every journal entry).</summary>
    public Task<long> CountJournalsAsync(CancellationToken cancellationToken) =>
        throw new NotSupportedException("The NetSuite adapter does not count journals; use a saved search in NetSuite.");

    /// <inheritdoc />
    public ValueTask DisposeAsync()
    {
        _inFlight.Dispose();
        _ownedHttp?.Dispose();
        return ValueTask.CompletedTask;
    }

    /// <summary>The JSON body of the journal entry record (amounts as exact decimal numbers).</summary>
    public string RecordBody(Journal journal)
    {
        ArgumentNullException.ThrowIfNull(journal);
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteString("externalId", NetSuiteExternalId.FromPostingKey(journal.PostingKey));
            w.WriteString("tranDate", journal.EffectiveDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
            Reference(w, "subsidiary", Map(_options.Subsidiaries, journal.LegalEntityId, "subsidiary", "NetSuite:Subsidiaries"));
            Reference(w, "currency", Map(_options.Currencies, journal.Currency, "currency", "NetSuite:Currencies"));
            w.WriteString("memo", $"{journal.EventKind} {journal.DocumentNumber} ({journal.PostingKey}, correlation {journal.CorrelationId})".Trim());
            w.WriteString(_options.ContentHashField, journal.ContentHash());
            w.WriteStartObject("line");
            w.WriteStartArray("items");
            foreach (var line in journal.Lines)
            {
                w.WriteStartObject();
                Reference(w, "account", Map(_options.Accounts, line.Account, "account", "NetSuite:Accounts"));
                if (line.Debit != 0m)
                {
                    w.WriteNumber("debit", line.Debit);
                }
                else
                {
                    w.WriteNumber("credit", line.Credit);
                }

                w.WriteString("memo", line.Memo);
                w.WriteEndObject();
            }

            w.WriteEndArray();
            w.WriteEndObject();
            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void Reference(Utf8JsonWriter w, string name, string id)
    {
        w.WriteStartObject(name);
        w.WriteString("id", id);
        w.WriteEndObject();
    }

    private static string Map(Dictionary<string, string> map, string key, string what, string setting) =>
        map.Count == 0 ? key
        : map.TryGetValue(key, out var id) ? id
        : throw new UnmappedReferenceException($"no NetSuite {what} is mapped for '{key}' ({setting})");

    private sealed class UnmappedReferenceException(string message) : Exception(message);

    private sealed record Result(PostingOutcome? Outcome = null, ErpRejection? Rejection = null, ErpTransientException? Transient = null);

    private async Task<Result> PostGuardedAsync(Journal journal, CancellationToken ct)
    {
        try
        {
            return await PostAsync(journal, ct).ConfigureAwait(false);
        }
        catch (ErpTransientException ex)
        {
            return new Result(Transient: ex);
        }
    }

    private async Task<Result> PostAsync(Journal journal, CancellationToken ct)
    {
        var externalId = NetSuiteExternalId.FromPostingKey(journal.PostingKey);
        var uri = new Uri($"{_root}{RecordPath}/eid:{externalId}");
        var hash = journal.ContentHash();
        string body;
        try
        {
            body = RecordBody(journal);
        }
        catch (UnmappedReferenceException ex)
        {
            return new Result(Rejection: new ErpRejection(journal.PostingKey, 0, "UNMAPPED_REFERENCE", ex.Message));
        }

        var existing = await SendAsync(HttpMethod.Get, uri, null, journal.PostingKey, ct).ConfigureAwait(false);
        if (existing.Status == HttpStatusCode.OK)
        {
            using var doc = JsonDocument.Parse(existing.Body);
            var root = doc.RootElement;
            var id = root.TryGetProperty("id", out var idElement) ? idElement.ToString() : externalId;
            var existingHash = root.TryGetProperty(_options.ContentHashField, out var h) ? h.GetString() ?? "" : "";
            var createdAt = root.TryGetProperty("createdDate", out var c) && DateTimeOffset.TryParse(c.GetString(), CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var created)
                ? created : _time.GetUtcNow();
            var status = existingHash != hash ? PostingStatus.Conflict
                : _putNotReported.TryGetValue(journal.PostingKey, out var putHash) && putHash == hash ? PostingStatus.Posted
                : PostingStatus.Duplicate;
            return new Result(new PostingOutcome(journal.PostingKey, status, id, existingHash, createdAt));
        }

        if (existing.Status != HttpStatusCode.NotFound)
        {
            return new Result(Rejection: Rejection(journal.PostingKey, existing));
        }

        _putNotReported[journal.PostingKey] = hash;
        var put = await SendAsync(HttpMethod.Put, uri, body, journal.PostingKey, ct).ConfigureAwait(false);
        if (put.Status is not (HttpStatusCode.NoContent or HttpStatusCode.OK or HttpStatusCode.Created))
        {
            return new Result(Rejection: Rejection(journal.PostingKey, put));
        }

        // NetSuite answers an upsert with 204 and the record's URL in Location: its last segment is the internal id.
        var documentId = put.Location?.AbsolutePath.Split('/', StringSplitOptions.RemoveEmptyEntries).LastOrDefault() ?? externalId;
        return new Result(new PostingOutcome(journal.PostingKey, PostingStatus.Posted, documentId, hash, _time.GetUtcNow()));
    }

    private static ErpRejection Rejection(string postingKey, Response response)
    {
        var (code, detail) = ErrorDetail(response.Body);
        return new ErpRejection(postingKey, (int)response.Status, code, detail);
    }

    /// <summary>NetSuite's error body: <c>{"status":400,"o:errorDetails":[{"detail":"…","o:errorCode":"…"}]}</c>.</summary>
    private static (string Code, string Detail) ErrorDetail(string body)
    {
        try
        {
            using var doc = JsonDocument.Parse(body);
            if (doc.RootElement.TryGetProperty("o:errorDetails", out var details) && details.ValueKind == JsonValueKind.Array && details.GetArrayLength() > 0)
            {
                var first = details[0];
                return (first.TryGetProperty("o:errorCode", out var c) ? c.GetString() ?? "UNKNOWN" : "UNKNOWN",
                    first.TryGetProperty("detail", out var d) ? d.GetString() ?? "" : "");
            }
        }
        catch (JsonException)
        {
        }

        return ("UNKNOWN", body.Length > 300 ? body[..300] : body);
    }

    private sealed record Response(HttpStatusCode Status, string Body, Uri? Location);

    /// <summary>
    /// One request with retries: 429 waits for <c>Retry-After</c> (else backoff), 5xx / 408 / 409 / timeouts / connection errors back
    /// off exponentially with jitter, 401/403 fail at once as transient (credentials are an operator's fix, never a journal's fault);
    /// other statuses return to the caller.
    /// </summary>
    private async Task<Response> SendAsync(HttpMethod method, Uri uri, string? body, string postingKey, CancellationToken ct)
    {
        string last = "";
        TimeSpan? lastRetryAfter = null;
        for (var attempt = 1; ; attempt++)
        {
            TimeSpan delay;
            await _inFlight.WaitAsync(ct).ConfigureAwait(false);
            try
            {
                using var request = new HttpRequestMessage(method, uri);
                // A fresh nonce and timestamp on every attempt: NetSuite rejects a reused nonce.
                request.Headers.TryAddWithoutValidation("Authorization",
                    OAuth1Signer.AuthorizationHeader(method.Method, uri, _credentials, Nonce(), _time.GetUtcNow().ToUnixTimeSeconds()));
                request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
                if (body is not null)
                {
                    request.Content = new StringContent(body, Encoding.UTF8, "application/json");
                }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
                timeout.CancelAfter(TimeSpan.FromSeconds(_options.RequestTimeoutSeconds));
                using var response = await _http.SendAsync(request, timeout.Token).ConfigureAwait(false);
                var text = await response.Content.ReadAsStringAsync(timeout.Token).ConfigureAwait(false);
                var status = response.StatusCode;
                if (status is HttpStatusCode.Unauthorized or HttpStatusCode.Forbidden)
                {
                    var (code, detail) = ErrorDetail(text);
                    throw new ErpTransientException($"NetSuite refused the credentials for {method.Method} {postingKey}: {(int)status} {code} {detail} "
                        + "(check NetSuite:AccountId, ConsumerKey/ConsumerSecret, TokenId/TokenSecret and the role's permissions; nothing was posted by this request)");
                }

                if (status == HttpStatusCode.TooManyRequests)
                {
                    Interlocked.Increment(ref _throttled);
                    lastRetryAfter = RetryAfter(response.Headers.RetryAfter);
                    delay = lastRetryAfter ?? Backoff(attempt);
                    last = $"429 Too Many Requests (NetSuite concurrency limit){(lastRetryAfter is null ? "" : $", Retry-After {lastRetryAfter.Value.TotalSeconds:0.###} s")}";
                }
                else if ((int)status >= 500 || status is HttpStatusCode.RequestTimeout or HttpStatusCode.Conflict)
                {
                    Interlocked.Increment(ref _retried);
                    delay = Backoff(attempt);
                    last = $"{(int)status} {ErrorDetail(text).Code}";
                }
                else
                {
                    return new Response(status, text, response.Headers.Location is { } loc ? (loc.IsAbsoluteUri ? loc : new Uri(_base, loc)) : null);
                }
            }
            catch (HttpRequestException ex)
            {
                Interlocked.Increment(ref _retried);
                delay = Backoff(attempt);
                last = $"connection failed: {ex.Message}";
            }
            catch (OperationCanceledException) when (!ct.IsCancellationRequested)
            {
                Interlocked.Increment(ref _retried);
                delay = Backoff(attempt);
                last = $"no answer within {_options.RequestTimeoutSeconds} s";
            }
            finally
            {
                _inFlight.Release();
            }

            if (attempt >= _options.MaxAttempts)
            {
                throw new ErpTransientException($"{method.Method} {postingKey}: gave up after {attempt} attempts; last: {last}", lastRetryAfter);
            }

            _logger.LogWarning("NetSuite {Method} {PostingKey} attempt {Attempt}/{Max}: {Failure}; retrying in {Delay} ms",
                method.Method, postingKey, attempt, _options.MaxAttempts, last, (int)delay.TotalMilliseconds);
            await Task.Delay(delay, _time, ct).ConfigureAwait(false);
        }
    }

    private TimeSpan? RetryAfter(RetryConditionHeaderValue? header)
    {
        var wait = header?.Delta ?? (header?.Date is { } at ? at - _time.GetUtcNow() : null);
        return wait is null ? null : TimeSpan.FromMilliseconds(Math.Clamp(wait.Value.TotalMilliseconds, 0, _options.MaxBackoffMs));
    }

    private TimeSpan Backoff(int attempt)
    {
        var ceiling = Math.Min(_options.MaxBackoffMs, _options.InitialBackoffMs * Math.Pow(2, attempt - 1));
        return TimeSpan.FromMilliseconds(ceiling * (0.5 + Random.Shared.NextDouble() / 2));
    }

    private static string Nonce() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));
}
