using System.Collections.Concurrent;
using System.Globalization;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Streaming.Producers.Tests;

/// <summary>
/// A local stand-in for the Salesforce REST query resource, following its documented shape: <c>GET
/// /services/data/{version}/query?q=SOQL</c> answers <c>{"totalSize","done","nextRecordsUrl"?,"records":[{"attributes":{"type","url"},…}]}</c>
/// with at most <see cref="PageSize"/> rows, and <c>GET {nextRecordsUrl}</c> (<c>/services/data/{version}/query/{locator}-{offset}</c>)
/// the following ones; a bearer session id is required (401 <c>INVALID_SESSION_ID</c> otherwise), a SOQL text it does not
/// understand is 400 <c>MALFORMED_QUERY</c>. It understands what the connector sends: <c>SELECT FIELDS(STANDARD) FROM {entity}
/// [WHERE Id &gt; '{id}'] ORDER BY Id</c>. Chosen requests can be failed with 503.
/// </summary>
internal sealed partial class FakeSalesforceServer : IAsyncDisposable
{
    public const string Version = "v62.0";

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, List<JsonObject>> _locators = new(StringComparer.Ordinal);
    private int _queryRequests;

    private FakeSalesforceServer(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    /// <summary>Rows per entity (<c>Account</c>, <c>Opportunity</c>), each with an <c>Id</c>.</summary>
    public ConcurrentDictionary<string, List<JsonObject>> Rows { get; } = new(StringComparer.Ordinal);

    public int PageSize { get; set; } = 2000;

    /// <summary>Session ids (access tokens) accepted.</summary>
    public ConcurrentDictionary<string, bool> ValidTokens { get; } = new(StringComparer.Ordinal);

    /// <summary>Query requests (1-based, counting <c>query</c> and <c>query/{locator}</c>) answered 503.</summary>
    public ConcurrentDictionary<int, bool> FailingRequests { get; } = new();

    /// <summary>Every query request: decoded SOQL text (<c>q</c>) or the locator path.</summary>
    public ConcurrentQueue<string> Queries { get; } = new();

    public static async Task<FakeSalesforceServer> StartAsync(CancellationToken ct, params string[] tokens)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeSalesforceServer(app);
        foreach (var token in tokens)
        {
            server.ValidTokens[token] = true;
        }

        app.MapPost("/services/oauth2/token", (Delegate)((HttpContext http) => server.Token(http)));
        app.MapGet("/services/data/{version}/query", (HttpContext http) => server.Query(http));
        app.MapGet("/services/data/{version}/query/{locator}", (HttpContext http, string locator) => server.QueryMore(http, locator));
        await app.StartAsync(ct);
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    /// <summary>The connected app's consumer key, consumer secret and the refresh token the token endpoint accepts.</summary>
    public (string ClientId, string ClientSecret, string RefreshToken) App { get; set; } = ("3MVG9-test-consumer-key", "consumer-secret-5566", "5Aep861-refresh-token");

    /// <summary>Refresh requests received, and how many were granted.</summary>
    public int TokenRequests;

    public int TokensIssued;

    /// <summary>Requests refused with 401 (expired or unknown session id).</summary>
    public int Unauthorized;

    /// <summary>
    /// <c>POST /services/oauth2/token</c>, the refresh-token flow as documented: a form with <c>grant_type=refresh_token</c>,
    /// <c>client_id</c>, <c>client_secret</c>, <c>refresh_token</c>; answers <c>{"access_token","signature","scope","instance_url","id",
    /// "token_type","issued_at"}</c> (no lifetime), or 400 <c>{"error":"invalid_grant","error_description"}</c>.
    /// </summary>
    private async Task<IResult> Token(HttpContext http)
    {
        Interlocked.Increment(ref TokenRequests);
        var form = await http.Request.ReadFormAsync();
        if (form["grant_type"] != "refresh_token")
        {
            return Results.Json(new { error = "unsupported_grant_type", error_description = "grant type not supported" }, statusCode: 400);
        }

        if (form["client_id"] != App.ClientId || form["client_secret"] != App.ClientSecret)
        {
            return Results.Json(new { error = "invalid_client", error_description = "invalid client credentials" }, statusCode: 400);
        }

        if (form["refresh_token"] != App.RefreshToken)
        {
            return Results.Json(new { error = "invalid_grant", error_description = "expired access/refresh token" }, statusCode: 400);
        }

        var n = Interlocked.Increment(ref TokensIssued);
        var token = $"00DRM000000abcd!AQ0AQ.refreshed.{n}";
        ValidTokens[token] = true;
        return Results.Json(new
        {
            access_token = token,
            signature = "CMJ4l+CCaPQiKjoOEwEig9H4wqhpuLSk4J2urAe+fVg=",
            scope = "refresh_token api",
            instance_url = BaseUrl,
            id = "https://login.salesforce.com/id/00DRM000000abcdAAA/005RM000001hv4SYAQ",
            token_type = "Bearer",
            issued_at = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(CultureInfo.InvariantCulture),
        });
    }

    /// <summary>Adds a row of <paramref name="entity"/> from JSON (its attributes are added when answered).</summary>
    public void Add(string entity, string json) => Rows.GetOrAdd(entity, _ => []).Add(JsonNode.Parse(json)!.AsObject());

    [GeneratedRegex(@"^SELECT FIELDS\(STANDARD\) FROM (?<entity>[A-Za-z]+)(?: WHERE Id > '(?<after>[A-Za-z0-9]+)')? ORDER BY Id$")]
    private static partial Regex Soql();

    private IResult Query(HttpContext http)
    {
        var q = http.Request.Query["q"].ToString();
        Queries.Enqueue(q);
        if (Refuse(http) is { } refused)
        {
            return refused;
        }

        var match = Soql().Match(q);
        if (!match.Success)
        {
            return Results.Json(new[] { new { message = "unexpected token", errorCode = "MALFORMED_QUERY" } }, statusCode: 400);
        }

        var after = match.Groups["after"].Success ? match.Groups["after"].Value : null;
        var rows = Rows.GetOrAdd(match.Groups["entity"].Value, _ => [])
            .Where(r => after is null || string.CompareOrdinal(r["Id"]!.GetValue<string>(), after) > 0)
            .OrderBy(r => r["Id"]!.GetValue<string>(), StringComparer.Ordinal)
            .Select(r =>
            {
                var row = r.DeepClone().AsObject();
                var id = r["Id"]!.GetValue<string>();
                row.Insert(0, "attributes", new JsonObject { ["type"] = match.Groups["entity"].Value, ["url"] = $"/services/data/{Version}/sobjects/{match.Groups["entity"].Value}/{id}" });
                return row;
            })
            .ToList();
        var locator = "01gD0000002HU6K" + _locators.Count.ToString("D3", CultureInfo.InvariantCulture);
        _locators[locator] = rows;
        return Page(locator, 0);
    }

    private IResult QueryMore(HttpContext http, string locatorAndOffset)
    {
        Queries.Enqueue(http.Request.Path.ToString());
        if (Refuse(http) is { } refused)
        {
            return refused;
        }

        var dash = locatorAndOffset.LastIndexOf('-');
        return dash > 0 && _locators.ContainsKey(locatorAndOffset[..dash]) && int.TryParse(locatorAndOffset[(dash + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out var offset)
            ? Page(locatorAndOffset[..dash], offset)
            : Results.Json(new[] { new { message = "invalid query locator", errorCode = "INVALID_QUERY_LOCATOR" } }, statusCode: 400);
    }

    private IResult? Refuse(HttpContext http)
    {
        var number = Interlocked.Increment(ref _queryRequests);
        var auth = http.Request.Headers.Authorization.ToString();
        if (!auth.StartsWith("Bearer ", StringComparison.Ordinal) || !ValidTokens.ContainsKey(auth["Bearer ".Length..]))
        {
            Interlocked.Increment(ref Unauthorized);
            return Results.Json(new[] { new { message = "Session expired or invalid", errorCode = "INVALID_SESSION_ID" } }, statusCode: 401);
        }

        return FailingRequests.ContainsKey(number)
            ? Results.Json(new[] { new { message = "Server temporarily unavailable", errorCode = "SERVER_UNAVAILABLE" } }, statusCode: 503)
            : null;
    }

    private IResult Page(string locator, int offset)
    {
        var rows = _locators[locator];
        var page = rows.Skip(offset).Take(PageSize).ToList();
        var done = offset + page.Count >= rows.Count;
        var body = new JsonObject { ["totalSize"] = rows.Count, ["done"] = done };
        if (!done)
        {
            body["nextRecordsUrl"] = $"/services/data/{Version}/query/{locator}-{offset + page.Count}";
        }

        body["records"] = new JsonArray([.. page.Select(r => (JsonNode)r.DeepClone())]);
        return Results.Text(body.ToJsonString(), "application/json");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
