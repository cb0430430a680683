using System.Globalization;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Streaming.Producers.Tests;

/// <summary>
/// A local stand-in for Stripe's <c>GET /v1/events</c>, following the documented list API: newest first; <c>limit</c> 1–100
/// (default 10); <c>starting_after</c> returns the older objects after the given one, <c>ending_before</c> the newer ones just
/// before it (the page adjacent to it); both at once is an error; <c>has_more</c>; <c>{"object":"list","url","data"}</c>;
/// bearer-key authentication; an unknown cursor is <c>404 resource_missing</c>. It can answer 429 with <c>Retry-After</c>.
/// </summary>
internal sealed class FakeStripeServer : IAsyncDisposable
{
    public const string ApiKey = "sk_test_fake_4eC39HqLyjWDarjtT1zdp7dc";

    private readonly WebApplication _app;
    private readonly List<JsonObject> _newestFirst = [];
    private readonly Lock _gate = new();
    private int _throttleNext;

    private FakeStripeServer(WebApplication app) => _app = app;

    public string BaseUrl { get; private set; } = "";

    public int Requests;

    public int Throttled;

    public static async Task<FakeStripeServer> StartAsync(CancellationToken ct)
    {
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        var server = new FakeStripeServer(app);
        app.MapGet("/v1/events", server.List);
        await app.StartAsync(ct);
        server.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return server;
    }

    /// <summary>Adds an event as the newest.</summary>
    public void Add(string json)
    {
        lock (_gate)
        {
            _newestFirst.Insert(0, JsonNode.Parse(json)!.AsObject());
        }
    }

    /// <summary>The next <paramref name="count"/> requests are answered 429 with <c>Retry-After: 1</c>.</summary>
    public void ThrottleNext(int count) => Interlocked.Exchange(ref _throttleNext, count);

    private IResult List(HttpContext http)
    {
        Interlocked.Increment(ref Requests);
        if (http.Request.Headers.Authorization.ToString() != "Bearer " + ApiKey)
        {
            return Error(401, "invalid_request_error", null, "Invalid API Key provided.");
        }

        if (Interlocked.Decrement(ref _throttleNext) >= 0)
        {
            Interlocked.Increment(ref Throttled);
            http.Response.Headers.RetryAfter = "1";
            return Error(429, "rate_limit_error", null, "Too many requests hit the API too quickly.");
        }

        var query = http.Request.Query;
        var limit = 10;
        if (query.TryGetValue("limit", out var l) && (!int.TryParse(l, NumberStyles.None, CultureInfo.InvariantCulture, out limit) || limit is < 1 or > 100))
        {
            return Error(400, "invalid_request_error", "limit", "This value must be between 1 and 100.");
        }

        string? after = query["starting_after"];
        string? before = query["ending_before"];
        if (after is not null && before is not null)
        {
            return Error(400, "invalid_request_error", "ending_before", "You may only specify one of these parameters: ending_before, starting_after.");
        }

        List<JsonObject> snapshot;
        lock (_gate)
        {
            snapshot = [.. _newestFirst];
        }

        int from, to;
        bool hasMore;
        if (before is not null)
        {
            var i = snapshot.FindIndex(e => (string?)e["id"] == before);
            if (i < 0)
            {
                return Error(404, "invalid_request_error", "ending_before", $"No such event: '{before}'", "resource_missing");
            }

            from = Math.Max(0, i - limit);
            to = i;
            hasMore = from > 0;
        }
        else
        {
            var start = 0;
            if (after is not null)
            {
                var i = snapshot.FindIndex(e => (string?)e["id"] == after);
                if (i < 0)
                {
                    return Error(404, "invalid_request_error", "starting_after", $"No such event: '{after}'", "resource_missing");
                }

                start = i + 1;
            }

            from = start;
            to = Math.Min(snapshot.Count, start + limit);
            hasMore = to < snapshot.Count;
        }

        var data = new JsonArray(snapshot.Skip(from).Take(to - from).Select(e => (JsonNode)e.DeepClone()).ToArray());
        return Results.Json(new JsonObject { ["object"] = "list", ["url"] = "/v1/events", ["has_more"] = hasMore, ["data"] = data });
    }

    private static IResult Error(int status, string type, string? param, string message, string? code = null)
        => Results.Json(new JsonObject { ["error"] = new JsonObject { ["type"] = type, ["param"] = param, ["message"] = message, ["code"] = code } }, statusCode: status);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
