using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Ops;
using Streaming.Producers.Billing;
using Streaming.Producers.Connectors;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Tests;

/// <summary>
/// The Events API poller against <see cref="FakeStripeServer"/> on the embedded broker: catch-up from the oldest event, a stop in
/// the middle of a page and a restart (new process state, checkpoint and duplicate filter read back from Kafka) storing every
/// event exactly once, later events picked up from the cursor, 429 with Retry-After honoured.
/// </summary>
public sealed class StripeEventsPollerTests
{
    private static ConnectorOptions Options(string baseUrl)
    {
        var options = new ConnectorOptions { ProduceTimeoutMs = 5000 };
        options.Stripe.ApiKey = FakeStripeServer.ApiKey;
        options.Stripe.ApiBaseUrl = baseUrl;
        options.Stripe.PageSize = 10;
        return options;
    }

    private static async Task<(ConnectorRuntime Runtime, StripeEventsPoller Poller, HttpClient Http)> StartPollerAsync(
        ConnectorTestStack stack, FakeStripeServer stripe, CancellationToken ct, Func<string, CancellationToken, Task>? onStored = null)
    {
        var consumer = new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers };
        var runtime = new ConnectorRuntime(Options(stripe.BaseUrl), new ProducerConfig { BootstrapServers = stack.Cluster.BootstrapServers, LingerMs = 1 },
            stack.Client, NullLoggerFactory.Instance);
        await runtime.StartAsync(consumer, ct);
        var http = new HttpClient();
        return (runtime, new StripeEventsPoller(runtime, http, consumer, onStored), http);
    }

    private static string EventJson(int i) => WebhookEndpointTests.CustomerEvent($"evt_poll_{i:D3}", $"cus_poll_{i:D3}");

    [Fact]
    public async Task A_poller_stopped_mid_page_and_restarted_stores_every_event_exactly_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, startHost: false);
        await using var stripe = await FakeStripeServer.StartAsync(ct);
        for (var i = 0; i < 35; i++)
        {
            stripe.Add(EventJson(i)); // evt_poll_000 is the oldest
        }

        // First run: stopped after the 15th event, i.e. in the middle of the second page of 10.
        using var kill = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var seen = 0;
        var (runtime1, poller1, http1) = await StartPollerAsync(stack, stripe, ct, (_, _) =>
        {
            if (++seen == 15)
            {
                kill.Cancel();
            }

            return Task.CompletedTask;
        });
        using (http1)
        using (runtime1)
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => poller1.CatchUpAsync(kill.Token));
        }

        Assert.Equal(15, stack.Read(Topics.BillingCustomers).Count);
        var checkpoint = Checkpoint(stack);
        Assert.Equal("evt_poll_010", checkpoint.cursor); // the oldest event alone, then the first page of 10: evt_poll_001..010

        // Second run: a fresh process state resumes from the checkpoint.
        var (runtime2, poller2, http2) = await StartPollerAsync(stack, stripe, ct);
        using (http2)
        using (runtime2)
        {
            Assert.Equal(20, await poller2.CatchUpAsync(ct));
            var stored = stack.Read(Topics.BillingCustomers);
            Assert.Equal(35, stored.Count);
            Assert.Equal(Enumerable.Range(0, 35).Select(i => $"evt_poll_{i:D3}").Order(), stored.Select(r => r.EventId!).Order());
            Assert.Equal("evt_poll_034", Checkpoint(stack).cursor);

            // Later events are picked up from the cursor; nothing before it is read again.
            for (var i = 35; i < 42; i++)
            {
                stripe.Add(EventJson(i));
            }

            Assert.Equal(7, await poller2.CatchUpAsync(ct));
            Assert.Equal(0, await poller2.CatchUpAsync(ct));
            Assert.Equal(42, stack.Read(Topics.BillingCustomers).Select(r => r.EventId).Distinct().Count());
            Assert.Equal(42, stack.Read(Topics.BillingCustomers).Count);
        }
    }

    [Fact]
    public async Task Rate_limited_requests_are_retried_after_retry_after()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, startHost: false);
        await using var stripe = await FakeStripeServer.StartAsync(ct);
        for (var i = 0; i < 12; i++)
        {
            stripe.Add(EventJson(i));
        }

        stripe.ThrottleNext(2);
        var (runtime, poller, http) = await StartPollerAsync(stack, stripe, ct);
        using (http)
        using (runtime)
        {
            var started = DateTime.UtcNow;
            Assert.Equal(12, await poller.CatchUpAsync(ct));
            Assert.Equal(2, stripe.Throttled);
            Assert.True(DateTime.UtcNow - started >= TimeSpan.FromSeconds(1.9), "the two Retry-After: 1 waits were not honoured");
        }

        Assert.Equal(12, stack.Read(Topics.BillingCustomers).Count);
    }

    private static ConnectorCheckpoint Checkpoint(ConnectorTestStack stack)
        => stack.Read(Topics.ConnectorCheckpoints).Where(r => r.Key == StripeEventsPoller.CheckpointId).Select(stack.Value<ConnectorCheckpoint>).Last();
}
