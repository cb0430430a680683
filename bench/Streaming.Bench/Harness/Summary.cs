namespace Streaming.Bench.Harness;

/// <summary>Median, minimum and maximum of a set of repetitions.</summary>
public sealed record Summary(double Median, double Min, double Max)
{
    /// <summary>Summarises the values (at least one).</summary>
    public static Summary Of(IEnumerable<double> values)
    {
        var sorted = values.Order().ToArray();
        if (sorted.Length == 0)
        {
            throw new ArgumentException("No values to summarise.", nameof(values));
        }

        var mid = sorted.Length / 2;
        var median = sorted.Length % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
        return new Summary(median, sorted[0], sorted[^1]);
    }
}
