using System.Net;
using System.Text;
using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Ops;
using Streaming.Producers.Hosting;
using Streaming.Producers.Webhooks;

namespace Streaming.Producers.Tests;

/// <summary>
/// The Stripe webhook over HTTP on the embedded broker: authentic events stored (2xx after the delivery report), every
/// tampered / expired / unsigned / wrongly-signed variant refused with 4xx and nothing stored, redeliveries stored once,
/// oversized bodies refused, a broker outage answered 503. Does not cover HubSpot and Salesforce (see <see cref="CrmWebhookTests"/>).
/// </summary>
public sealed class WebhookEndpointTests
{
    private static readonly string[] StripeFixtures =
    [
        "invoice.finalized.json", "invoice.paid.jpy.json", "customer.created.json", "customer.subscription.created.json",
        "payment_intent.succeeded.json", "charge.refunded.json", "credit_note.created.json",
    ];

    [Fact]
    public async Task Authentic_events_are_stored_with_event_id_correlation_and_traceparent_headers()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        foreach (var fixture in StripeFixtures)
        {
            using var response = await stack.PostStripeAsync(ConnectorTestStack.Fixture("stripe/" + fixture), ct);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
            Assert.Equal(1, answer.RootElement.GetProperty("produced").GetInt32());
        }

        var invoices = stack.Read(Topics.BillingInvoices);
        Assert.Equal(2, invoices.Count);
        var finalized = Assert.Single(invoices, r => r.Key == "in_1MtHbELkdIwHu7ixl4OzzPMv");
        Assert.Equal(("evt_1NG8Du2eZvKYlo2CUI79vXWy", "q2c-acme-2026-11"), (finalized.EventId, finalized.CorrelationId));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-01$", finalized.TraceParent);
        Assert.Equal(10.85m, Money.ToDecimal(stack.Value<Invoice>(finalized).total));
        Assert.Equal(2, stack.Read(Topics.BillingPayments).Count);
        Assert.Single(stack.Read(Topics.BillingCustomers));
        Assert.Single(stack.Read(Topics.BillingSubscriptions));
        Assert.Single(stack.Read(Topics.BillingCreditNotes));
    }

    [Fact]
    public async Task A_caller_traceparent_is_continued_with_a_new_span()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        var body = ConnectorTestStack.Fixture("stripe/customer.created.json");
        using var request = new HttpRequestMessage(HttpMethod.Post, stack.BaseUrl + "/webhooks/stripe") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", ConnectorTestStack.SignStripe(body));
        request.Headers.TryAddWithoutValidation("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        using var response = await stack.Http.SendAsync(request, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var stored = Assert.Single(stack.Read(Topics.BillingCustomers));
        Assert.StartsWith("00-4bf92f3577b34da6a3ce929d0e0e4736-", stored.TraceParent, StringComparison.Ordinal);
        Assert.DoesNotContain("00f067aa0ba902b7", stored.TraceParent, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Over_a_thousand_tampered_expired_unsigned_or_wrongly_signed_deliveries_are_refused_and_store_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        var variants = BadVariants().ToList();
        Assert.True(variants.Count >= 1000, $"only {variants.Count} variants");
        var statuses = new Dictionary<HttpStatusCode, int>();
        var refused = 0;
        await Parallel.ForEachAsync(variants, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (v, token) =>
        {
            using var response = await stack.PostStripeAsync(v.Body, v.Signature, token);
            lock (statuses)
            {
                statuses[response.StatusCode] = statuses.GetValueOrDefault(response.StatusCode) + 1;
                if ((int)response.StatusCode is >= 400 and < 500)
                {
                    refused++;
                }
            }
        });

        Assert.True(refused == variants.Count, "answers: " + string.Join(", ", statuses.Select(s => $"{(int)s.Key}×{s.Value}")));
        Assert.Equal(0, stack.StoredRecords());

        // The same events, signed properly, are all accepted.
        foreach (var fixture in StripeFixtures)
        {
            using var ok = await stack.PostStripeAsync(ConnectorTestStack.Fixture("stripe/" + fixture), ct);
            Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        }

        Assert.Equal(StripeFixtures.Length, stack.StoredRecords());
    }

    private sealed record Variant(byte[] Body, string? Signature);

    private static IEnumerable<Variant> BadVariants()
    {
        var now = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        var random = new Random(20261125);
        foreach (var fixture in StripeFixtures)
        {
            var text = ConnectorTestStack.Fixture("stripe/" + fixture);
            var body = Encoding.UTF8.GetBytes(text);
            var good = ConnectorTestStack.SignStripe(text, now);
            var v1 = good[(good.IndexOf("v1=", StringComparison.Ordinal) + 3)..];

            // Tampered: one byte changed anywhere in the body, original signature.
            for (var i = 0; i < 60; i++)
            {
                var copy = (byte[])body.Clone();
                var at = random.Next(copy.Length);
                copy[at] = (byte)(copy[at] == (byte)'1' ? '2' : '1');
                yield return new Variant(copy, good);
            }

            // Tampered: appended whitespace or a field (still valid JSON for a lenient parser).
            yield return new Variant([.. body, (byte)' '], good);
            yield return new Variant(Encoding.UTF8.GetBytes(text.Replace("\"livemode\": false", "\"livemode\": true", StringComparison.Ordinal)), good);

            // Expired or from the future beyond 300 s, correctly signed for that time (future ones with a margin: the server's
            // clock moves on while the variants are sent, which brings a future timestamp closer).
            foreach (var offset in new[] { -301, -302, -600, -3600, -86_400, -31_536_000, 420, 900, 7200, 86_400 })
            {
                yield return new Variant(body, ConnectorTestStack.SignStripe(text, now + offset));
            }

            // Signature made for another timestamp than the one in the header (replay with a fresh t).
            foreach (var delta in new[] { 1, -1, 10, -10, 60, -60, 299, -299 })
            {
                yield return new Variant(body, $"t={now + delta},v1={v1}");
            }

            // Unsigned or empty headers.
            yield return new Variant(body, null);
            yield return new Variant(body, "");
            yield return new Variant(body, " ");
            yield return new Variant(body, $"t={now}");
            yield return new Variant(body, $"v1={v1}");

            // Wrong secrets, including near misses of the configured ones and the test-mode v0 scheme only.
            foreach (var secret in new[] { "whsec_wrong", ConnectorTestStack.StripeSecret + "x", ConnectorTestStack.StripeSecret[..^1], ConnectorTestStack.StripeSecret.ToUpperInvariant(), "" })
            {
                yield return new Variant(body, ConnectorTestStack.SignStripe(text, now, secret));
            }

            for (var i = 0; i < 40; i++)
            {
                yield return new Variant(body, ConnectorTestStack.SignStripe(text, now, $"whsec_random_{random.Next()}"));
            }

            yield return new Variant(body, $"t={now},v0={v1}");

            // Malformed: bad hex, wrong length, flipped digit, duplicate t, non-numeric t, garbage.
            yield return new Variant(body, $"t={now},v1={v1[..^1]}");
            yield return new Variant(body, $"t={now},v1={v1}00");
            yield return new Variant(body, $"t={now},v1=zz{v1[2..]}");
            yield return new Variant(body, $"t=now,v1={v1}");
            yield return new Variant(body, $"t={now},t={now},v1={v1}");
            yield return new Variant(body, "garbage");
            for (var i = 0; i < v1.Length; i += 4)
            {
                var flipped = v1.ToCharArray();
                flipped[i] = flipped[i] == '0' ? '1' : '0';
                yield return new Variant(body, $"t={now},v1={new string(flipped)}");
            }

            // Body of another event under this event's signature.
            foreach (var other in StripeFixtures.Where(f => f != fixture))
            {
                yield return new Variant(Encoding.UTF8.GetBytes(ConnectorTestStack.Fixture("stripe/" + other)), good);
            }
        }
    }

    [Fact]
    public async Task Every_event_delivered_three_times_in_shuffled_order_is_stored_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        var events = Enumerable.Range(0, 40).Select(i => CustomerEvent($"evt_dup_{i:D3}", $"cus_dup_{i % 10:D2}")).ToList();
        var deliveries = events.Concat(events).Concat(events).OrderBy(_ => Random.Shared.Next()).ToList();
        var produced = 0;
        var duplicates = 0;
        await Parallel.ForEachAsync(deliveries, new ParallelOptions { MaxDegreeOfParallelism = 6, CancellationToken = ct }, async (body, token) =>
        {
            using var response = await stack.PostStripeAsync(body, token);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(token));
            Interlocked.Add(ref produced, answer.RootElement.GetProperty("produced").GetInt32());
            Interlocked.Add(ref duplicates, answer.RootElement.GetProperty("duplicates").GetInt32());
        });

        var stored = stack.Read(Topics.BillingCustomers);
        Assert.Equal(40, stored.Count);
        Assert.Equal(events.Count, stored.Select(r => r.EventId).Distinct().Count());
        Assert.Equal((40, 80), (produced, duplicates));

        // After a restart the filter is seeded from the topic: a fourth delivery still stores nothing.
        await stack.StopHostAsync();
        await stack.StartHostAsync(ct);
        foreach (var body in events.Take(10))
        {
            using var again = await stack.PostStripeAsync(body, ct);
            Assert.Equal(HttpStatusCode.OK, again.StatusCode);
        }

        Assert.Equal(40, stack.Read(Topics.BillingCustomers).Count);
    }

    internal static string CustomerEvent(string eventId, string customerId) => $$$"""
        {"id":"{{{eventId}}}","object":"event","api_version":"2024-11-20.acacia","created":1680893993,"type":"customer.updated",
         "data":{"object":{"id":"{{{customerId}}}","object":"customer","created":1680893993,"email":null,"name":"Customer {{{customerId}}}","metadata":{},"address":null,"currency":"eur"}},
         "livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null}}
        """;

    [Fact]
    public async Task A_body_over_the_limit_is_refused_with_413()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, o => o.MaxBodyBytes = 4096);
        var big = "{\"id\":\"evt_big\",\"pad\":\"" + new string('x', 5000) + "\"}";
        using var response = await stack.PostStripeAsync(big, ct);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Equal(0, stack.StoredRecords());
    }

    [Fact]
    public async Task An_authentic_event_that_cannot_be_mapped_is_kept_whole_in_the_dead_letter_topic()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        const string body = "{\"id\":\"evt_broken\",\"type\":\"invoice.paid\",\"created\":1,\"data\":{\"object\":{\"id\":\"in_1\",\"currency\":\"usd\",\"customer\":\"cus_1\",\"status\":\"paid\",\"total\":1}}}";
        using var response = await stack.PostStripeAsync(body, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var dead = Assert.Single(stack.Read(Topics.DeadLetters));
        var record = stack.Value<DeadLetterRecord>(dead);
        Assert.Equal(("evt_broken", "webhook:stripe", body), (dead.Key, record.originalTopic, Encoding.UTF8.GetString(record.originalValue)));
        Assert.Contains("invoice.subtotal", record.errorMessage, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_broker_outage_is_answered_503_and_the_retry_after_recovery_stores_the_event_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, o => o.ProduceTimeoutMs = 1500);
        using (var warm = await stack.PostStripeAsync(CustomerEvent("evt_warm", "cus_warm"), ct))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        for (var broker = 1; broker <= stack.Cluster.BrokerCount; broker++)
        {
            stack.Cluster.SetBrokerDown(broker);
        }

        var body = CustomerEvent("evt_outage", "cus_outage");
        using (var down = await stack.PostStripeAsync(body, ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
            Assert.Equal("5", down.Headers.RetryAfter?.Delta?.TotalSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }

        using (var ready = await stack.Http.GetAsync(stack.BaseUrl + "/health/ready", ct))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, ready.StatusCode);
        }

        for (var broker = 1; broker <= stack.Cluster.BrokerCount; broker++)
        {
            stack.Cluster.SetBrokerUp(broker);
        }

        HttpStatusCode status = 0;
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (status != HttpStatusCode.OK && DateTime.UtcNow < deadline)
        {
            using var retry = await stack.PostStripeAsync(body, ct);
            status = retry.StatusCode;
        }

        Assert.Equal(HttpStatusCode.OK, status);
        var stored = stack.Read(Topics.BillingCustomers);
        Assert.Single(stored, r => r.EventId == "evt_outage");
    }

    [Fact]
    public async Task Request_errors_from_the_broker_are_answered_503_not_accepted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, o => o.ProduceTimeoutMs = 1500);
        // ProduceRequest (API key 0) fails with a non-retriable error for the next attempts.
        stack.Cluster.PushRequestErrors(0, Enumerable.Repeat(Confluent.Kafka.ErrorCode.TopicAuthorizationFailed, 20).ToArray());
        using var response = await stack.PostStripeAsync(CustomerEvent("evt_err", "cus_err"), ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Empty(stack.Read(Topics.BillingCustomers));
    }

    [Fact]
    public async Task Health_and_metrics_answer()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        using (var live = await stack.Http.GetAsync(stack.BaseUrl + "/health/live", ct))
        {
            Assert.Equal(HttpStatusCode.OK, live.StatusCode);
        }

        using (var ready = await stack.Http.GetAsync(stack.BaseUrl + "/health/ready", ct))
        {
            Assert.Equal(HttpStatusCode.OK, ready.StatusCode);
        }

        using (await stack.PostStripeAsync(CustomerEvent("evt_m", "cus_m"), ct))
        {
        }

        var metrics = await stack.Http.GetStringAsync(stack.BaseUrl + "/metrics", ct);
        Assert.Contains("streaming_connector_records_total{source=\"stripe\",topic=\"billing.customers.v1\"} 1", metrics, StringComparison.Ordinal);
        Assert.Contains("streaming_connector_requests_total{source=\"stripe\",status=\"200\"} 1", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Without_secrets_the_endpoint_refuses_with_503_instead_of_accepting_unverified_events()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, o => o.Stripe.WebhookSecrets = []);
        using var response = await stack.PostStripeAsync(CustomerEvent("evt_nosecret", "cus_1"), ct);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(0, stack.StoredRecords());
    }
}
