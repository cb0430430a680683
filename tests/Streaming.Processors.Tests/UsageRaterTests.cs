using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Processors.Usage;

namespace Streaming.Processors.Tests;

/// <summary>Usage rating to the minor unit: flat and graduated prices, zero- and three-decimal currencies, midpoint rounding. The topology is covered by <see cref="UsageAccrualTopologyTests"/>.</summary>
public sealed class UsageRaterTests
{
    private static Price Flat(decimal unit, string currency = "USD") => new()
    {
        priceId = "price_flat", currency = currency, unitAmount = Money.ToAvro(unit), billingInterval = BillingInterval.MONTH, meter = "api_calls", tiers = [],
    };

    private static PriceTier Tier(decimal? upTo, decimal unit, decimal? flat = null) => new()
    {
        upTo = upTo is { } u ? Money.Quantity(u) : null, unitAmount = Money.ToAvro(unit), flatAmount = Money.ToAvro(flat),
    };

    private static Price Tiered(string currency, params PriceTier[] tiers) => new()
    {
        priceId = "price_tiered", currency = currency, unitAmount = null, billingInterval = BillingInterval.MONTH, meter = "api_calls", tiers = tiers,
    };

    [Fact]
    public void Flat_price_is_quantity_times_unit_amount()
        => Assert.Equal(12.50m, UsageRater.Rate(1250m, Flat(0.01m)));

    [Fact]
    public void Flat_price_rounds_midpoints_away_from_zero_not_to_even()
    {
        Assert.Equal(0.01m, UsageRater.Rate(3.5m, Flat(0.0015m))); // 0.00525
        Assert.Equal(0.03m, UsageRater.Rate(1m, Flat(0.025m)));    // banker's rounding would give 0.02
        Assert.Equal(0.13m, UsageRater.Rate(1m, Flat(0.125m)));    // banker's rounding would give 0.12
        Assert.Equal(0.00m, UsageRater.Rate(1m, Flat(0.0049m)));
    }

    [Fact]
    public void Tiered_price_crossing_a_boundary_charges_each_unit_at_its_tier_and_each_entered_tier_flat_once()
    {
        var price = Tiered("USD", Tier(1000m, 0.0100m, flat: 5m), Tier(10000m, 0.0080m, flat: 2m), Tier(null, 0.0050m));

        // 1000 × 0.01 + 5 = 15; next 500 × 0.008 + 2 = 6 → 21.00
        Assert.Equal(21.00m, UsageRater.Rate(1500m, price));
        // exactly on the bound stays in the first tier (upTo is inclusive): 1000 × 0.01 + 5
        Assert.Equal(15.00m, UsageRater.Rate(1000m, price));
        // into the open tier: 15 + 9000 × 0.008 + 2 + 2000 × 0.005 = 15 + 74 + 10 = 99
        Assert.Equal(99.00m, UsageRater.Rate(12000m, price));
        Assert.Equal(0m, UsageRater.Rate(0m, price));
    }

    [Fact]
    public void Tiers_out_of_order_are_rated_in_ascending_upTo_with_the_open_tier_last()
    {
        var price = Tiered("EUR", Tier(null, 1m), Tier(10m, 2m));
        Assert.Equal(25.00m, UsageRater.Rate(15m, price)); // 10 × 2 + 5 × 1
    }

    [Fact]
    public void Zero_decimal_currency_rounds_to_whole_units()
    {
        Assert.Equal(0, UsageRater.MinorUnits("JPY"));
        Assert.Equal(13m, UsageRater.Rate(1000m, Flat(0.0125m, "JPY"))); // 12.5 → 13
        Assert.Equal(12m, UsageRater.Rate(1000m, Flat(0.0124m, "jpy")));
    }

    [Fact]
    public void Three_decimal_currency_keeps_fils()
    {
        Assert.Equal(3, UsageRater.MinorUnits("KWD"));
        Assert.Equal(1.235m, UsageRater.Rate(1m, Flat(1.2345m, "KWD")));
        Assert.Equal(2, UsageRater.MinorUnits("EUR"));
    }

    [Fact]
    public void Tiered_amount_is_rounded_once_at_the_end_not_per_tier()
    {
        // 4 × 0.001 + 2 × 0.002 = 0.008 → 0.01; rounding each tier first would give 0.00 + 0.00
        var price = Tiered("USD", Tier(4m, 0.001m), Tier(null, 0.002m));
        Assert.Equal(0.01m, UsageRater.Rate(6m, price));
    }

    [Fact]
    public void Negative_quantity_and_a_quantity_above_every_bounded_tier_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => UsageRater.Rate(-1m, Flat(1m)));
        Assert.Throws<ArgumentException>(() => UsageRater.Rate(11m, Tiered("USD", Tier(10m, 1m))));
        Assert.Throws<ArgumentException>(() => UsageRater.Rate(1m, Tiered("USD")));
    }
}
