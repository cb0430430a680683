using Streaming.Contracts;

namespace Streaming.Processors.FinanceMapping;

/// <summary>One period of a revenue schedule: [<see cref="Start"/>, <see cref="End"/>) and the revenue it releases.</summary>
public sealed record RevenuePeriod(DateTime Start, DateTime End, decimal Amount)
{
    /// <summary>Calendar month of the period (<c>yyyy-MM</c>), part of its posting key.</summary>
    public string Month => Start.ToString("yyyy-MM", System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Days in the period.</summary>
    public int Days => (End - Start).Days;
}

/// <summary>
/// Straight-line revenue schedules per DOMAIN.md: a subscription line with a service period is recognized by day over
/// that period, one period per calendar month (or part month); every period is rounded to the currency's minor unit
/// and the rounding goes to the last period, so the schedule sums exactly to the line amount.
/// </summary>
public static class RevenueSchedule
{
    /// <summary>
    /// Splits <paramref name="amount"/> over [<paramref name="start"/>, <paramref name="end"/>) (dates; the end is
    /// exclusive, as billing systems state a service period) by calendar month, in proportion to the days.
    /// </summary>
    /// <exception cref="ArgumentException">The period is empty or reversed, or the amount has more decimals than the currency allows.</exception>
    public static IReadOnlyList<RevenuePeriod> Split(decimal amount, DateTime start, DateTime end, string currency)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(currency);
        var from = DateTime.SpecifyKind(start.Date, DateTimeKind.Utc);
        var to = DateTime.SpecifyKind(end.Date, DateTimeKind.Utc);
        if (to <= from)
        {
            throw new ArgumentException($"service period {start:yyyy-MM-dd}..{end:yyyy-MM-dd} is empty or reversed", nameof(end));
        }

        if (!Currencies.IsWholeMinorUnits(amount, currency))
        {
            throw new ArgumentException($"amount {amount} has more decimals than {currency} allows ({Currencies.MinorUnits(currency)})", nameof(amount));
        }

        var bounds = new List<(DateTime Start, DateTime End)>();
        for (var cursor = from; cursor < to;)
        {
            var monthEnd = new DateTime(cursor.Year, cursor.Month, 1, 0, 0, 0, DateTimeKind.Utc).AddMonths(1);
            var periodEnd = monthEnd < to ? monthEnd : to;
            bounds.Add((cursor, periodEnd));
            cursor = periodEnd;
        }

        return Spread(amount, bounds, currency);
    }

    /// <summary>
    /// Spreads <paramref name="amount"/> over given periods in proportion to their days, rounding each to the minor unit
    /// and the remainder to the last (used to re-spread what is left of a schedule after a credit).
    /// </summary>
    public static IReadOnlyList<RevenuePeriod> Spread(decimal amount, IReadOnlyList<(DateTime Start, DateTime End)> periods, string currency)
    {
        ArgumentNullException.ThrowIfNull(periods);
        if (periods.Count == 0)
        {
            throw new ArgumentException("no periods to spread over", nameof(periods));
        }

        var totalDays = periods.Sum(p => (p.End - p.Start).Days);
        var result = new List<RevenuePeriod>(periods.Count);
        var allocated = 0m;
        for (var i = 0; i < periods.Count; i++)
        {
            var (s, e) = periods[i];
            var share = i == periods.Count - 1
                ? amount - allocated
                : Currencies.RoundToMinorUnit(amount * (e - s).Days / totalDays, currency);
            allocated += share;
            result.Add(new RevenuePeriod(s, e, share));
        }

        return result;
    }
}
