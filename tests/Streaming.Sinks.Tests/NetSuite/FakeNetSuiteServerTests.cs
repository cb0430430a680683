using System.Net;
using System.Text;
using Streaming.Sinks.NetSuite;

namespace Streaming.Sinks.Tests.NetSuite;

/// <summary>
/// The fake server itself, spoken to with raw signed requests: the upsert contract (create 204, update 204, both with the record's
/// <c>Location</c>; GET by external id), and its refusals (unsigned, a reused nonce, a bad signature, an unbalanced entry).
/// </summary>
public sealed class FakeNetSuiteServerTests
{
    private const string Body = """
        {"subsidiary":{"id":"1"},"line":{"items":[{"account":{"id":"111"},"debit":10.05},{"account":{"id":"420"},"credit":10.05}]}}
        """;

    private static HttpRequestMessage Signed(HttpMethod method, Uri uri, FakeNetSuiteOptions o, string nonce, string? body = null, string? tokenSecret = null)
    {
        var request = new HttpRequestMessage(method, uri);
        request.Headers.TryAddWithoutValidation("Authorization", OAuth1Signer.AuthorizationHeader(method.Method, uri,
            new OAuth1Credentials(o.AccountId, o.ConsumerKey, o.ConsumerSecret, o.TokenId, tokenSecret ?? o.TokenSecret), nonce, DateTimeOffset.UtcNow.ToUnixTimeSeconds()));
        if (body is not null)
        {
            request.Content = new StringContent(body, Encoding.UTF8, "application/json");
        }

        return request;
    }

    [Fact]
    public async Task Upsert_by_external_id_creates_then_updates_the_same_record()
    {
        var ct = TestContext.Current.CancellationToken;
        var o = new FakeNetSuiteOptions { Latency = TimeSpan.Zero };
        await using var server = await FakeNetSuiteServer.StartAsync(o, ct);
        using var http = new HttpClient();
        var uri = new Uri($"{server.BaseUrl}/services/rest/record/v1/journalEntry/eid:JE-1");

        using var missing = await http.SendAsync(Signed(HttpMethod.Get, uri, o, "n1"), ct);
        using var created = await http.SendAsync(Signed(HttpMethod.Put, uri, o, "n2", Body), ct);
        using var updated = await http.SendAsync(Signed(HttpMethod.Put, uri, o, "n3", Body), ct);
        using var read = await http.SendAsync(Signed(HttpMethod.Get, uri, o, "n4"), ct);

        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("NONEXISTENT_ID", await missing.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode.NoContent, HttpStatusCode.NoContent), (created.StatusCode, updated.StatusCode));
        Assert.Equal(created.Headers.Location, updated.Headers.Location);
        Assert.EndsWith("/services/rest/record/v1/journalEntry/1001", created.Headers.Location!.ToString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.Contains("\"id\":\"1001\"", await read.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        var record = Assert.Single(server.Records).Value;
        Assert.Equal((1, 10.05m), (record.Updates, record.Lines[0].Debit));
    }

    [Fact]
    public async Task Unsigned_replayed_wrongly_signed_and_unbalanced_requests_are_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        var o = new FakeNetSuiteOptions { Latency = TimeSpan.Zero };
        await using var server = await FakeNetSuiteServer.StartAsync(o, ct);
        using var http = new HttpClient();
        var uri = new Uri($"{server.BaseUrl}/services/rest/record/v1/journalEntry/eid:JE-2");

        using var unsigned = await http.SendAsync(new HttpRequestMessage(HttpMethod.Get, uri), ct);
        using var first = await http.SendAsync(Signed(HttpMethod.Get, uri, o, "same-nonce"), ct);
        using var replayed = await http.SendAsync(Signed(HttpMethod.Get, uri, o, "same-nonce"), ct);
        using var badSignature = await http.SendAsync(Signed(HttpMethod.Get, uri, o, "n5", tokenSecret: "wrong"), ct);
        using var unbalanced = await http.SendAsync(Signed(HttpMethod.Put, uri, o, "n6", Body.Replace("\"credit\":10.05", "\"credit\":10.04", StringComparison.Ordinal)), ct);

        Assert.Equal(
            [HttpStatusCode.Unauthorized, HttpStatusCode.NotFound, HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.BadRequest],
            new[] { unsigned, first, replayed, badSignature, unbalanced }.Select(r => r.StatusCode));
        Assert.Contains("nonce already used", await replayed.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Contains("signature mismatch", await badSignature.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Contains("out of balance: debits 10.05, credits 10.04", await unbalanced.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        Assert.Empty(server.Records);
    }
}
