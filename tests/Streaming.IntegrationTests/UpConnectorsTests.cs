using System.Net;
using System.Text;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;
using Streaming.Producers.Webhooks;

namespace Streaming.IntegrationTests;

/// <summary>
/// <c>up</c> (without <c>--demo</c>) serves the connector endpoints next to the pipeline: a signed Stripe webhook is stored and
/// answered 200, an unsigned one 401, a usage batch on <c>POST /ingest/usage</c> is accepted, health and metrics answer; secrets come from configuration keys in their environment form.
/// Runs its own embedded stack (as <c>up</c> does), not the shared fixture.
/// </summary>
public sealed partial class UpConnectorsTests
{
    [Fact]
    public async Task Up_serves_the_webhooks_health_and_metrics_until_stopped()
    {
        var ct = TestContext.Current.CancellationToken;
        var dir = Directory.CreateTempSubdirectory("up-connectors-");
        var inner = new StringWriter();
        var output = TextWriter.Synchronized(inner);
        var error = TextWriter.Synchronized(new StringWriter());
        const string secret = "whsec_up_test_secret";
        var configuration = new ConfigurationBuilder()
            .AddConnectorEnvironmentForTest(new Dictionary<string, string> { ["Connectors__Stripe__WebhookSecrets__0"] = secret })
            .Build();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = UpCommand.RunAsync(demo: false, Path.Combine(dir.FullName, "ledger.db"), 120, output, error, stop.Token, configuration, urls: "http://127.0.0.1:0");
        string? baseUrl = null;
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (baseUrl is null || !Snapshot(output, inner).Contains("Press Ctrl-C to stop.", StringComparison.Ordinal))
        {
            Assert.False(run.IsCompleted, $"up ended early: {error}\n{Snapshot(output, inner)}");
            Assert.True(DateTime.UtcNow < deadline, "up did not report its connector address within 120 s");
            baseUrl ??= ListeningOn().Match(Snapshot(output, inner)) is { Success: true } m ? m.Groups[1].Value : null;
            await Task.Delay(100, ct);
        }

        using var http = new HttpClient();
        const string body = """{"id":"evt_up_1","object":"event","created":1680893993,"type":"customer.created","data":{"object":{"id":"cus_up_1","object":"customer","created":1680893993,"name":"Up Test","metadata":{}}}}""";
        var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using (var signed = new HttpRequestMessage(HttpMethod.Post, baseUrl + "/webhooks/stripe") { Content = new StringContent(body, Encoding.UTF8, "application/json") })
        {
            signed.Headers.TryAddWithoutValidation("Stripe-Signature", $"t={t},v1={StripeSignatureVerifier.Sign(secret, t, Encoding.UTF8.GetBytes(body))}");
            using var response = await http.SendAsync(signed, ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var unsigned = await http.PostAsync(baseUrl + "/webhooks/stripe", new StringContent(body, Encoding.UTF8, "application/json"), ct))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unsigned.StatusCode);
        }

        // The usage ingestion endpoint is served by the same host.
        const string usage = "{\"usageEventId\":\"use_up_1\",\"subscriptionItemId\":\"si_up_1\",\"customerId\":\"cus_up_1\",\"meter\":\"api_calls\",\"quantity\":3,\"occurredAt\":\"2026-11-25T10:00:00Z\"}\n";
        using (var ingest = await http.PostAsync(baseUrl + "/ingest/usage", new StringContent(usage, Encoding.UTF8, "application/x-ndjson"), ct))
        {
            Assert.Equal(HttpStatusCode.OK, ingest.StatusCode);
            Assert.Contains("\"accepted\":1,\"rejected\":0", await ingest.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
        }

        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(baseUrl + "/health/live", ct)).StatusCode);
        Assert.Equal(HttpStatusCode.OK, (await http.GetAsync(baseUrl + "/health/ready", ct)).StatusCode);
        Assert.Contains("streaming_connector_records_total{source=\"stripe\",topic=\"billing.customers.v1\"} 1", await http.GetStringAsync(baseUrl + "/metrics", ct), StringComparison.Ordinal);
        Assert.DoesNotContain(secret, Snapshot(output, inner), StringComparison.Ordinal);

        await stop.CancelAsync();
        Assert.Equal(0, await run.WaitAsync(TimeSpan.FromSeconds(60), ct));
        dir.Delete(recursive: true);
    }

    [GeneratedRegex(@"Connectors: listening on (http://[^\s,]+)")]
    private static partial Regex ListeningOn();

    private static string Snapshot(TextWriter synchronizedWrapper, StringWriter inner)
    {
        lock (synchronizedWrapper)
        {
            return inner.ToString();
        }
    }
}

internal static class ConnectorConfigurationTestExtensions
{
    /// <summary>The environment-variable form (<c>Connectors__…</c>) read through the same source <c>up</c> uses.</summary>
    public static IConfigurationBuilder AddConnectorEnvironmentForTest(this IConfigurationBuilder builder, Dictionary<string, string> variables)
        => Streaming.Producers.Connectors.ConnectorConfiguration.AddConnectorEnvironment(builder, new System.Collections.Hashtable(variables));
}
