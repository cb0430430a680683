using System.Collections.Concurrent;
using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Streaming.Sinks.Tests.NetSuite;

/// <summary>Behaviour of <see cref="FakeNetSuiteServer"/>.</summary>
public sealed record FakeNetSuiteOptions
{
    public string AccountId { get; init; } = "1234567_SB1";
    public string ConsumerKey { get; init; } = "ck-test";
    public string ConsumerSecret { get; init; } = "cs-secret";
    public string TokenId { get; init; } = "tk-test";
    public string TokenSecret { get; init; } = "ts-secret";

    /// <summary>Requests in flight above this get 429 (NetSuite's per-account concurrency governance).</summary>
    public int MaxConcurrentRequests { get; init; } = 5;

    /// <summary>Seconds sent in <c>Retry-After</c> with a 429; null sends none.</summary>
    public int? RetryAfterSeconds { get; init; } = 1;

    /// <summary>How long each accepted request takes, so concurrent clients really overlap.</summary>
    public TimeSpan Latency { get; init; } = TimeSpan.FromMilliseconds(20);

    /// <summary>Share of accepted requests answered with a 5xx before anything is done.</summary>
    public double FaultRate { get; init; }

    /// <summary>Share of accepted PUTs that store the record and then answer 5xx anyway (a response lost after the commit).</summary>
    public double FaultAfterCommitRate { get; init; }

    /// <summary>Account internal ids that exist; empty accepts any.</summary>
    public IReadOnlySet<string> Accounts { get; init; } = new HashSet<string>(StringComparer.Ordinal);

    /// <summary>Seed of the fault dice, so a run can be repeated.</summary>
    public int Seed { get; init; } = 42;

    /// <summary>Name of the custom body field the adapter stores its content hash in.</summary>
    public string ContentHashField { get; init; } = "custbody_streaming_content_hash";
}

/// <summary>A journal entry as the fake stores it.</summary>
public sealed record FakeJournalEntry(string InternalId, string ExternalId, JsonObject Body, DateTimeOffset CreatedAt, int Updates)
{
    /// <summary>The lines as (account id, debit, credit), amounts exact.</summary>
    public IReadOnlyList<(string Account, decimal Debit, decimal Credit)> Lines =>
        Body["line"]!["items"]!.AsArray().Select(i => (i!["account"]!["id"]!.GetValue<string>(),
            i["debit"]?.GetValue<decimal>() ?? 0m, i["credit"]?.GetValue<decimal>() ?? 0m)).ToList();
}

/// <summary>
/// A local server that follows NetSuite REST web services' documented behaviour for journal entries, for tests: upsert by
/// external id (<c>PUT …/record/v1/journalEntry/eid:{id}</c> creates, or updates an existing record, 204 with the record's URL in
/// <c>Location</c>), <c>GET …/eid:{id}</c> (200 with the record, 404 <c>NONEXISTENT_ID</c>), OAuth 1.0a token-based
/// authentication checked on every request (realm, consumer key, token, HMAC-SHA256 signature recomputed here independently of
/// the client's signer, nonce never reused, timestamp within 5 minutes; 401 <c>INVALID_LOGIN</c> otherwise), 429 with
/// <c>Retry-After</c> when more than N requests are in flight, 400 <c>INVALID_CONTENT</c> / <c>INVALID_KEY_OR_REF</c> for an
/// unbalanced entry or unknown account, and injected 5xx faults (before, or after, the write). Error bodies use NetSuite's shape
/// (<c>status</c>, <c>o:errorDetails[].detail</c>, <c>o:errorDetails[].o:errorCode</c>). Not NetSuite: no other records, fields or
/// SuiteQL, no posting periods, no async (<c>Prefer: respond-async</c>) processing.
/// </summary>
public sealed class FakeNetSuiteServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly FakeNetSuiteOptions _options;
    private readonly ConcurrentDictionary<string, FakeJournalEntry> _records = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, byte> _nonces = new(StringComparer.Ordinal);
    private readonly ConcurrentQueue<(DateTimeOffset At, string Method, string ExternalId, int Status)> _log = new();
    private readonly Random _dice;
    private readonly object _diceGate = new();
    private int _inFlight;
    private int _maxInFlight;
    private int _nextId = 1000;
    private int _throttled;
    private int _faults;
    private int _rejectedAuth;

    private FakeNetSuiteServer(WebApplication app, FakeNetSuiteOptions options)
    {
        _app = app;
        _options = options;
        _dice = new Random(options.Seed);
    }

    public string BaseUrl { get; private set; } = "";
    public IReadOnlyDictionary<string, FakeJournalEntry> Records => _records;
    public int Throttled => _throttled;
    public int Faults => _faults;
    public int RejectedAuthentication => _rejectedAuth;
    public int MaxObservedConcurrency => _maxInFlight;
    public IReadOnlyList<(DateTimeOffset At, string Method, string ExternalId, int Status)> RequestLog => [.. _log];

    /// <summary>
    /// While true, the ERP is "down": every request is answered before anything is done, alternately 503 and 429 (with
    /// <c>Retry-After</c> when <see cref="FakeNetSuiteOptions.RetryAfterSeconds"/> is set). Counted in <see cref="OutageResponses"/>.
    /// </summary>
    public bool Down { get => Volatile.Read(ref _down); set => Volatile.Write(ref _down, value); }

    public int OutageResponses => _outageResponses;

    private bool _down;
    private int _outageResponses;

    public static async Task<FakeNetSuiteServer> StartAsync(FakeNetSuiteOptions? options = null, CancellationToken cancellationToken = default)
    {
        options ??= new FakeNetSuiteOptions();
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeNetSuiteServer(app, options);
        app.Run(server.HandleAsync);
        await app.StartAsync(cancellationToken);
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    private async Task HandleAsync(HttpContext context)
    {
        var path = context.Request.Path.Value ?? "";
        const string prefix = "/services/rest/record/v1/journalEntry/";
        if (!path.StartsWith(prefix, StringComparison.Ordinal))
        {
            await Error(context, 404, "NONEXISTENT_ID", $"Record type or path {path} does not exist.");
            return;
        }

        var idPart = Uri.UnescapeDataString(path[prefix.Length..]);
        var externalId = idPart.StartsWith("eid:", StringComparison.Ordinal) ? idPart[4..] : null;
        var now = Interlocked.Increment(ref _inFlight);
        InterlockedMax(ref _maxInFlight, now);
        var status = 0;
        try
        {
            if (Down)
            {
                var n = Interlocked.Increment(ref _outageResponses);
                if (n % 2 == 0)
                {
                    if (_options.RetryAfterSeconds is { } after)
                    {
                        context.Response.Headers.RetryAfter = after.ToString(CultureInfo.InvariantCulture);
                    }

                    status = 429;
                    await Error(context, 429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked (outage).");
                }
                else
                {
                    status = 503;
                    await Error(context, 503, "UNEXPECTED_ERROR", "Service unavailable (outage).");
                }

                return;
            }

            if (now > _options.MaxConcurrentRequests)
            {
                Interlocked.Increment(ref _throttled);
                if (_options.RetryAfterSeconds is { } s)
                {
                    context.Response.Headers.RetryAfter = s.ToString(CultureInfo.InvariantCulture);
                }

                status = 429;
                await Error(context, 429, "CONCURRENCY_LIMIT_EXCEEDED", "Concurrent request limit exceeded. Request blocked.");
                return;
            }

            if (Authenticate(context.Request) is { } authProblem)
            {
                Interlocked.Increment(ref _rejectedAuth);
                status = 401;
                await Error(context, 401, "INVALID_LOGIN", authProblem);
                return;
            }

            await Task.Delay(_options.Latency);
            if (Roll(_options.FaultRate))
            {
                Interlocked.Increment(ref _faults);
                status = 503;
                await Error(context, 503, "UNEXPECTED_ERROR", "An unexpected error occurred (injected).");
                return;
            }

            if (externalId is null || externalId.Length == 0 || !externalId.All(c => char.IsAsciiLetterOrDigit(c) || c is '_' or '-'))
            {
                status = 400;
                await Error(context, 400, "INVALID_ID", $"'{idPart}' is not a valid external id reference (eid: followed by letters, digits, _ or -).");
                return;
            }

            status = context.Request.Method switch
            {
                "GET" => await GetAsync(context, externalId),
                "PUT" => await UpsertAsync(context, externalId),
                _ => await Error(context, 405, "INVALID_METHOD", $"{context.Request.Method} is not supported here."),
            };
        }
        finally
        {
            Interlocked.Decrement(ref _inFlight);
            _log.Enqueue((DateTimeOffset.UtcNow, context.Request.Method, externalId ?? idPart, status == 0 ? context.Response.StatusCode : status));
        }
    }

    private async Task<int> GetAsync(HttpContext context, string externalId)
    {
        if (!_records.TryGetValue(externalId, out var record))
        {
            return await Error(context, 404, "NONEXISTENT_ID", "The record instance does not exist. Provide a valid record instance ID.");
        }

        var body = (JsonObject)record.Body.DeepClone();
        body["id"] = record.InternalId;
        body["externalId"] = record.ExternalId;
        body["createdDate"] = record.CreatedAt.ToString("yyyy-MM-ddTHH:mm:ss.fffZ", CultureInfo.InvariantCulture);
        context.Response.StatusCode = 200;
        context.Response.ContentType = "application/vnd.oracle.resource+json; type=singular";
        await context.Response.WriteAsync(body.ToJsonString());
        return 200;
    }

    private async Task<int> UpsertAsync(HttpContext context, string externalId)
    {
        JsonObject body;
        try
        {
            body = JsonNode.Parse(await new StreamReader(context.Request.Body).ReadToEndAsync()) as JsonObject
                ?? throw new JsonException("the body is not a JSON object");
        }
        catch (JsonException ex)
        {
            return await Error(context, 400, "INVALID_CONTENT", $"Invalid JSON: {ex.Message}");
        }

        if (Validate(body) is { } problem)
        {
            return await Error(context, 400, problem.Code, problem.Detail);
        }

        var stored = _records.AddOrUpdate(externalId,
            _ => new FakeJournalEntry(Interlocked.Increment(ref _nextId).ToString(CultureInfo.InvariantCulture), externalId, body, DateTimeOffset.UtcNow, 0),
            (_, existing) => existing with { Body = body, Updates = existing.Updates + 1 });
        if (Roll(_options.FaultAfterCommitRate))
        {
            Interlocked.Increment(ref _faults);
            return await Error(context, 502, "UNEXPECTED_ERROR", "Bad gateway (injected after the record was saved).");
        }

        context.Response.StatusCode = 204;
        context.Response.Headers.Location = $"{BaseUrl}/services/rest/record/v1/journalEntry/{stored.InternalId}";
        return 204;
    }

    private (string Code, string Detail)? Validate(JsonObject body)
    {
        if (body["subsidiary"]?["id"] is null)
        {
            return ("USER_ERROR", "Please enter value(s) for: Subsidiary");
        }

        if (body["line"]?["items"] is not JsonArray items || items.Count < 2)
        {
            return ("USER_ERROR", "A journal entry needs at least two lines.");
        }

        decimal debits = 0m, credits = 0m;
        foreach (var item in items)
        {
            var account = item?["account"]?["id"]?.GetValue<string>();
            if (account is null)
            {
                return ("USER_ERROR", "Please enter value(s) for: Account");
            }

            if (_options.Accounts.Count > 0 && !_options.Accounts.Contains(account))
            {
                return ("INVALID_KEY_OR_REF", $"Invalid account reference key {account}.");
            }

            var debit = item!["debit"]?.GetValue<decimal>() ?? 0m;
            var credit = item["credit"]?.GetValue<decimal>() ?? 0m;
            if ((debit == 0m) == (credit == 0m) || debit < 0m || credit < 0m)
            {
                return ("INVALID_CONTENT", $"Line for account {account} must have exactly one positive debit or credit.");
            }

            debits += debit;
            credits += credit;
        }

        return debits == credits ? null : ("INVALID_CONTENT", $"The transaction is out of balance: debits {debits}, credits {credits}.");
    }

    /// <summary>Checks the OAuth 1.0a header; returns the problem, or null when it is valid. Computed without the client's signer.</summary>
    private string? Authenticate(HttpRequest request)
    {
        var header = request.Headers.Authorization.ToString();
        if (!header.StartsWith("OAuth ", StringComparison.Ordinal))
        {
            return "Invalid login attempt: no OAuth authorization header.";
        }

        var p = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var part in header[6..].Split(','))
        {
            var kv = part.Trim().Split('=', 2);
            if (kv.Length == 2)
            {
                p[Uri.UnescapeDataString(kv[0])] = Uri.UnescapeDataString(kv[1].Trim('"'));
            }
        }

        string Get(string k) => p.TryGetValue(k, out var v) ? v : "";
        if (Get("realm") != _options.AccountId || Get("oauth_consumer_key") != _options.ConsumerKey || Get("oauth_token") != _options.TokenId)
        {
            return "Invalid login attempt: unknown realm, consumer key or token.";
        }

        if (Get("oauth_signature_method") != "HMAC-SHA256" || Get("oauth_version") != "1.0")
        {
            return "Invalid login attempt: signature method must be HMAC-SHA256, version 1.0.";
        }

        if (!long.TryParse(Get("oauth_timestamp"), NumberStyles.None, CultureInfo.InvariantCulture, out var ts)
            || Math.Abs(DateTimeOffset.UtcNow.ToUnixTimeSeconds() - ts) > 300)
        {
            return "Invalid login attempt: timestamp missing or more than 5 minutes off.";
        }

        var signed = p.Where(kv => kv.Key.StartsWith("oauth_", StringComparison.Ordinal) && kv.Key != "oauth_signature")
            .Concat(request.Query.SelectMany(q => q.Value.Select(v => KeyValuePair.Create(q.Key, v ?? ""))))
            .Select(kv => Uri.EscapeDataString(kv.Key) + "=" + Uri.EscapeDataString(kv.Value))
            .Order(StringComparer.Ordinal);
        var url = $"{request.Scheme}://{request.Host.Value!.ToLowerInvariant()}{request.PathBase}{request.Path}";
        var baseString = $"{request.Method}&{Uri.EscapeDataString(url)}&{Uri.EscapeDataString(string.Join("&", signed))}";
        var key = Encoding.UTF8.GetBytes($"{Uri.EscapeDataString(_options.ConsumerSecret)}&{Uri.EscapeDataString(_options.TokenSecret)}");
        var expected = Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.UTF8.GetBytes(baseString)));
        if (!CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(expected), Encoding.ASCII.GetBytes(Get("oauth_signature"))))
        {
            return "Invalid login attempt: signature mismatch.";
        }

        return _nonces.TryAdd(Get("oauth_nonce"), 0) ? null : "Invalid login attempt: nonce already used.";
    }

    private static async Task<int> Error(HttpContext context, int status, string code, string detail)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/vnd.oracle.resource+json; type=error";
        var body = new JsonObject
        {
            ["type"] = "https://www.rfc-editor.org/rfc/rfc9110.html#section-15",
            ["title"] = status switch { 400 => "Bad Request", 401 => "Unauthorized", 404 => "Not Found", 429 => "Too Many Requests", _ => "Error" },
            ["status"] = status,
            ["o:errorDetails"] = new JsonArray(new JsonObject { ["detail"] = detail, ["o:errorCode"] = code }),
        };
        await context.Response.WriteAsync(body.ToJsonString());
        return status;
    }

    private bool Roll(double rate)
    {
        if (rate <= 0)
        {
            return false;
        }

        lock (_diceGate)
        {
            return _dice.NextDouble() < rate;
        }
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while (value > (current = Volatile.Read(ref target)) && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
