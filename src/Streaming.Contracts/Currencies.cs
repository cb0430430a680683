namespace Streaming.Contracts;

/// <summary>ISO 4217 minor units: how many digits after the point an amount in a currency may have.</summary>
public static class Currencies
{
    private static readonly Dictionary<string, int> MinorUnitExceptions = new(StringComparer.Ordinal)
    {
        ["BIF"] = 0, ["CLP"] = 0, ["DJF"] = 0, ["GNF"] = 0, ["ISK"] = 0, ["JPY"] = 0, ["KMF"] = 0, ["KRW"] = 0, ["PYG"] = 0,
        ["RWF"] = 0, ["UGX"] = 0, ["UYI"] = 0, ["VND"] = 0, ["VUV"] = 0, ["XAF"] = 0, ["XOF"] = 0, ["XPF"] = 0,
        ["BHD"] = 3, ["IQD"] = 3, ["JOD"] = 3, ["KWD"] = 3, ["LYD"] = 3, ["OMR"] = 3, ["TND"] = 3,
        ["CLF"] = 4, ["UYW"] = 4,
    };

    /// <summary>Digits after the point of the currency's minor unit (ISO 4217 exponent): 0 for JPY, 3 for KWD, 2 otherwise.</summary>
    public static int MinorUnits(string currency)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(currency);
        return MinorUnitExceptions.TryGetValue(currency.Trim().ToUpperInvariant(), out var digits) ? digits : 2;
    }

    /// <summary>Rounds an amount to the currency's minor unit, midpoint away from zero.</summary>
    public static decimal RoundToMinorUnit(decimal amount, string currency)
        => decimal.Round(amount, MinorUnits(currency), MidpointRounding.AwayFromZero);

    /// <summary>True when <paramref name="amount"/> is a whole number of the currency's minor units (JPY 1500, not JPY 0.5).</summary>
    public static bool IsWholeMinorUnits(decimal amount, string currency) => RoundToMinorUnit(amount, currency) == amount;
}
