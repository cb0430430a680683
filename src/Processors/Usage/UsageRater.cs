using Streaming.Contracts;
using Streaming.Contracts.MasterData;

namespace Streaming.Processors.Usage;

/// <summary>
/// Pure usage rating: quantity × price (graduated tiers where the price has them, a flat unit amount otherwise),
/// in <see cref="decimal"/> only, rounded once at the end to the currency's ISO 4217 minor unit (midpoint away from zero).
/// </summary>
public static class UsageRater
{
    // ISO 4217 currencies whose minor unit is not 2 (the default). Funds codes with 4 decimals are kept exact.
    /// <summary>Digits after the point of the currency's minor unit (ISO 4217 exponent): 0 for JPY, 3 for KWD, 2 otherwise.</summary>
    public static int MinorUnits(string currency) => Currencies.MinorUnits(currency);

    /// <summary>Rounds an amount to the currency's minor unit, midpoint away from zero.</summary>
    public static decimal RoundToMinorUnit(decimal amount, string currency) => Currencies.RoundToMinorUnit(amount, currency);

    /// <summary>True when the price can rate usage: it has tiers or a unit amount.</summary>
    public static bool CanRate(Price price)
    {
        ArgumentNullException.ThrowIfNull(price);
        return price.tiers is { Count: > 0 } || price.unitAmount is not null;
    }

    /// <summary>
    /// Rates <paramref name="quantity"/> with <paramref name="price"/> and rounds to the price currency's minor unit.
    /// Tiers are graduated: each unit is charged at the tier it falls in, and a tier's flat amount is charged once when
    /// the quantity enters that tier. Tier bounds (<c>upTo</c>) are inclusive; a null bound is infinity.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException">The quantity is negative (a correction is not a rating input).</exception>
    /// <exception cref="ArgumentException">The price has neither tiers nor a unit amount, or the quantity is above every bounded tier.</exception>
    public static decimal Rate(decimal quantity, Price price)
    {
        ArgumentNullException.ThrowIfNull(price);
        ArgumentOutOfRangeException.ThrowIfNegative(quantity);
        decimal amount;
        if (price.tiers is { Count: > 0 } tiers)
        {
            amount = Graduated(quantity, tiers);
        }
        else if (price.unitAmount is { } unit)
        {
            amount = quantity * Money.ToDecimal(unit);
        }
        else
        {
            throw new ArgumentException($"price {price.priceId} has neither tiers nor a unit amount", nameof(price));
        }

        return RoundToMinorUnit(amount, price.currency);
    }

    private static decimal Graduated(decimal quantity, IList<PriceTier> tiers)
    {
        // Sorted defensively (the contract says ascending): null upTo = infinity goes last.
        var ordered = tiers
            .Select(t => (UpTo: Money.ToDecimal(t.upTo), Unit: Money.ToDecimal(t.unitAmount), Flat: Money.ToDecimal(t.flatAmount)))
            .OrderBy(t => t.UpTo is null ? 1 : 0).ThenBy(t => t.UpTo ?? 0m)
            .ToList();

        var amount = 0m;
        var lower = 0m;
        foreach (var tier in ordered)
        {
            if (quantity <= lower)
            {
                break;
            }

            var upper = tier.UpTo is { } upTo ? Math.Min(quantity, upTo) : quantity;
            amount += ((upper - lower) * tier.Unit) + (tier.Flat ?? 0m);
            if (tier.UpTo is null)
            {
                break;
            }

            lower = tier.UpTo.Value;
        }

        if (quantity > lower && ordered[^1].UpTo is not null)
        {
            throw new ArgumentException($"quantity {quantity} exceeds the last tier bound {lower} and no tier is open-ended", nameof(quantity));
        }

        return amount;
    }
}
