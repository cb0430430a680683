using System.Text;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Usage;
using static Streaming.Processors.Tests.Md;

namespace Streaming.Processors.Tests;

/// <summary>
/// Usage rating in hourly tumbling windows with grace under the test driver: one accrual per closed window (tiers
/// per window), events within grace counted, late events as adjusting accruals, quiet streams closed by the wall clock,
/// events past retention and unrated usage quarantined, redelivered events not counted twice.
/// </summary>
public sealed class UsageWindowTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly DateTime Ten = new(2026, 11, 15, 10, 0, 0, DateTimeKind.Utc);

    private FinanceTopologyDriver Driver(TimeSpan? retention = null) => new(registry.Serdes, new FinanceMappingOptions
    {
        ReadinessTimeout = TimeSpan.Zero, PunctuationInterval = TimeSpan.FromSeconds(1), UsageWindow = TimeSpan.FromHours(1),
        UsageGrace = TimeSpan.FromMinutes(10), UsageIdleClose = TimeSpan.FromSeconds(30), UsageRetention = retention ?? TimeSpan.FromDays(35),
    });

    private static UsageEvent Use(string id, DateTime at, decimal quantity, string customer = "cus_acme", string item = "si_api", string meter = "api_calls") => new()
    {
        usageEventId = id, subscriptionItemId = item, customerId = customer, meter = meter, quantity = Money.Quantity(quantity),
        occurredAt = at, receivedAt = at.AddSeconds(1), source = "gateway", attributes = new Dictionary<string, string>(),
    };

    [Fact]
    public void Window_closes_when_stream_time_passes_end_plus_grace_counts_events_within_grace_and_emits_one_accrual()
    {
        using var d = Driver();
        Load(d);
        var headers = new Headers { { "correlation-id", Encoding.UTF8.GetBytes("q2c-acme") } };
        d.Usage.PipeInput("si_api", Use("u1", Ten.AddMinutes(5), 1000m), headers);
        d.Usage.PipeInput("si_api", Use("u2", Ten.AddMinutes(50), 2000m), headers);
        d.Usage.PipeInput("si_api", Use("u3", Ten.AddMinutes(65), 10m), headers);  // next window; stream time 11:05 < 11:10
        d.Usage.PipeInput("si_api", Use("u4", Ten.AddMinutes(59), 3000m), headers); // within grace: still counted
        Assert.Empty(d.Events().Select(e => e.Value.postingKey));

        d.Usage.PipeInput("si_api", Use("u5", Ten.AddMinutes(75), 10m), headers);  // stream time 11:15: the 10:00 window closes

        var e = Assert.Single(d.Events());
        Assert.Equal(("C-1001", FinanceEventType.USAGE_ACCRUED, "usage:si_api:api_calls:2026-11-15T10:00Z", 12.00m, Ten),
            (e.Key, e.Value.eventType, e.Value.postingKey, Money.ToDecimal(e.Value.totalAmount), e.Value.effectiveDate));
        Assert.Equal(("US01", "USD", "prod_api", "q2c-acme"), (e.Value.legalEntityId, e.Value.currency, e.Value.lines[0].productId, e.Value.correlationId));
        Assert.Equal("q2c-acme", Encoding.UTF8.GetString(e.Headers.GetLastBytes("correlation-id")));
    }

    [Fact]
    public void Event_later_than_grace_makes_an_adjusting_accrual_for_its_window_never_a_silent_drop()
    {
        using var d = Driver();
        Load(d);
        d.Usage.PipeInput("si_api", Use("u1", Ten.AddMinutes(5), 1000m));
        d.Usage.PipeInput("si_api", Use("u2", Ten.AddMinutes(75), 10m));
        Assert.Equal(2.00m, Money.ToDecimal(Assert.Single(d.Events()).Value.totalAmount));

        d.Usage.PipeInput("si_api", Use("u_late", Ten.AddMinutes(30), 500m));

        var adj = Assert.Single(d.Events()).Value;
        Assert.Equal(("usage:si_api:api_calls:2026-11-15T10:00Z:late:u_late", FinanceEventType.USAGE_ACCRUED, 1.00m),
            (adj.postingKey, adj.eventType, Money.ToDecimal(adj.totalAmount)));
    }

    [Fact]
    public void Graduated_tiers_apply_to_the_window_total_not_per_event()
    {
        using var d = Driver();
        Load(d);
        d.Products.PipeInput("prod_api", new Product
        {
            productId = "prod_api", name = "API", kind = ProductKind.USAGE, active = true, updatedAt = At,
            prices = [new Price { priceId = "price_api_usd", currency = "USD", billingInterval = BillingInterval.MONTH, meter = "api_calls",
                tiers = [Tier(1000m, 0.01m, 5m), Tier(10000m, 0.008m, 2m), Tier(null, 0.005m)] }],
        });
        d.Usage.PipeInput("si_api", Use("u1", Ten.AddMinutes(1), 600m));
        d.Usage.PipeInput("si_api", Use("u2", Ten.AddMinutes(2), 900m));
        d.Usage.PipeInput("si_api", Use("u3", Ten.AddHours(2), 1m));

        // 1500 calls in the window: 1000 × 0.01 + 5 + 500 × 0.008 + 2 = 21.00 (per event it would be 11.00 + 14.00).
        Assert.Equal(21.00m, Money.ToDecimal(Assert.Single(d.Events()).Value.totalAmount));
    }

    private static PriceTier Tier(decimal? upTo, decimal unit, decimal? flat = null) => new()
    {
        upTo = upTo is { } u ? Money.Quantity(u) : null, unitAmount = Money.ToAvro(unit), flatAmount = Money.ToAvro(flat),
    };

    [Fact]
    public void Last_window_of_a_quiet_stream_closes_on_the_wall_clock_after_the_idle_time()
    {
        using var d = Driver();
        Load(d);
        d.Usage.PipeInput("si_eu", Use("u1", Ten.AddMinutes(5), 10000m, customer: "cus_initech", item: "si_eu"));
        Assert.Empty(d.Events().Select(e => e.Value.postingKey));

        d.Advance(TimeSpan.FromSeconds(35));

        var e = Assert.Single(d.Events()).Value;
        Assert.Equal(("C-2001", "DE01", "EUR", 18.00m), (e.customerId, e.legalEntityId, e.currency, Money.ToDecimal(e.totalAmount)));
    }

    [Fact]
    public void Zero_decimal_currency_rates_to_whole_yen()
    {
        using var d = Driver();
        Load(d);
        d.Usage.PipeInput("si_jp", Use("u1", Ten, 1001m, customer: "cus_tokyo", item: "si_jp"));     // 1001 × 0.3 = 300.3 → 300
        d.Usage.PipeInput("si_jp", Use("u2", Ten.AddHours(3), 1m, customer: "cus_tokyo", item: "si_jp"));

        var e = Assert.Single(d.Events()).Value;
        Assert.Equal(("JPY", 300m), (e.currency, Money.ToDecimal(e.totalAmount)));
    }

    [Fact]
    public void Event_past_retention_and_usage_without_a_price_go_to_quarantine()
    {
        using var d = Driver(retention: TimeSpan.FromDays(1));
        Load(d);
        d.Usage.PipeInput("si_api", Use("u1", Ten, 100m));
        d.Usage.PipeInput("si_api", Use("u2", Ten.AddDays(3), 100m));
        d.Usage.PipeInput("si_api", Use("u_old", Ten.AddMinutes(1), 100m));
        d.Usage.PipeInput("si_x", Use("u_nometer", Ten.AddDays(3), 5m, item: "si_x", meter: "gb_stored"));

        var q = d.Quarantined().Select(x => x.Value).ToList();
        Assert.Equal(["LATE_BEYOND_RETENTION", "MISSING_PRICE"], q.Select(x => x.reasonCode));
        Assert.Equal(UsageAccrualTopology.Stage, q[0].stage);
        Assert.Equal(["price meter=gb_stored currency=USD"], q[1].missing);
        Assert.Equal(("si_x", "gb_stored", "5.000000"), (q[1].businessContext["subscription_item"], q[1].businessContext["meter"], q[1].businessContext["quantity"]));
        Assert.Single(d.Events()); // the 10:00 window, closed by the second event
    }
}
