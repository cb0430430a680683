using System.Globalization;
using System.Text;

namespace Streaming.Cli.Replay;

/// <summary>Where a replay moves a consumer group's offsets on one topic.</summary>
public abstract record ReplayTarget
{
    /// <summary>Every partition to its low watermark (the oldest record the broker still holds).</summary>
    public sealed record Earliest : ReplayTarget
    {
        /// <inheritdoc />
        public override string ToString() => "--to-earliest";
    }

    /// <summary>The listed partitions to the given offsets; partitions not listed keep their committed offset.</summary>
    public sealed record Offsets(IReadOnlyDictionary<int, long> ByPartition) : ReplayTarget
    {
        /// <inheritdoc />
        public override string ToString() => "--to-offset " + string.Join(",", ByPartition.OrderBy(p => p.Key).Select(p => $"{p.Key}:{p.Value}"));
    }

    /// <summary>Every partition to the first record whose timestamp is at or after <paramref name="At"/> (its end when none is).</summary>
    public sealed record AtTime(DateTimeOffset At) : ReplayTarget
    {
        /// <inheritdoc />
        public override string ToString() => "--to-datetime " + At.ToString("O", CultureInfo.InvariantCulture);
    }

    /// <summary>Parses <c>p:o,p:o,…</c>; throws <see cref="ReplayInputException"/> naming the bad entry.</summary>
    public static Offsets ParseOffsets(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var byPartition = new SortedDictionary<int, long>();
        foreach (var raw in text.Split(',', StringSplitOptions.TrimEntries))
        {
            var parts = raw.Split(':');
            if (parts.Length != 2
                || !int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var partition)
                || !long.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out var offset))
            {
                throw new ReplayInputException($"--to-offset entry '{raw}' is not partition:offset (two non-negative integers, e.g. 0:42).");
            }

            if (!byPartition.TryAdd(partition, offset))
            {
                throw new ReplayInputException($"--to-offset names partition {partition} twice.");
            }
        }

        return new Offsets(byPartition);
    }

    /// <summary>Parses an ISO 8601 date-time; one without an offset is taken as UTC.</summary>
    public static AtTime ParseDateTime(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var at)
            ? new AtTime(at)
            : throw new ReplayInputException($"--to-datetime '{text}' is not an ISO 8601 date-time (e.g. 2026-11-01T00:00:00Z).");
    }
}

/// <summary>Bad replay input (unknown topic, malformed or out-of-range offset, conflicting options): exit code 2.</summary>
public sealed class ReplayInputException(string message) : Exception(message);

/// <summary>The group may not be reset now (it has active members): exit code 1.</summary>
public sealed class ReplayRefusedException(string message) : Exception(message);

/// <summary>One partition of a replay: committed offset now, target, the partition's watermarks and what the group would read again.</summary>
public sealed record ReplayPartitionPlan(int Partition, long? Current, long Target, long Low, long High, string? Note = null)
{
    /// <summary>
    /// Records the group reads a second time: those between the target and the committed offset. With no committed offset the
    /// group has read nothing yet, so nothing is re-read (it starts at the target instead of its auto.offset.reset position).
    /// </summary>
    public long Reread => Current is { } c && c > Target ? c - Target : 0;

    /// <summary>Records the group skips because the target is past its committed offset (a forward reset).</summary>
    public long Skipped => Current is { } c && Target > c ? Target - c : 0;
}

/// <summary>What a replay does (or, with <c>--dry-run</c>, would do) to one group on one topic.</summary>
/// <param name="ActiveMembers">Members the group has now; null when the broker cannot say (it does not answer DescribeGroups).</param>
public sealed record ReplayPlan(string Group, string Topic, ReplayTarget Target, IReadOnlyList<ReplayPartitionPlan> Partitions, int? ActiveMembers, string MembershipCheck)
{
    /// <summary>Σ records re-read over all partitions.</summary>
    public long TotalReread => Partitions.Sum(p => p.Reread);

    /// <summary>The plan as a table plus totals.</summary>
    public string Render()
    {
        string[] header = ["PARTITION", "CURRENT", "TARGET", "LOW", "HIGH", "RE-READ", "NOTE"];
        var rows = Partitions.Select(p => new[]
        {
            p.Partition.ToString(CultureInfo.InvariantCulture),
            p.Current?.ToString(CultureInfo.InvariantCulture) ?? "none",
            p.Target.ToString(CultureInfo.InvariantCulture),
            p.Low.ToString(CultureInfo.InvariantCulture),
            p.High.ToString(CultureInfo.InvariantCulture),
            p.Reread.ToString(CultureInfo.InvariantCulture),
            string.Join("; ", new[] { p.Skipped > 0 ? $"skips {p.Skipped}" : null, p.Note }.OfType<string>()),
        }).ToList();
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Group {Group}, topic {Topic}, {Target}");
        sb.AppendLine(CultureInfo.InvariantCulture, $"Members: {MembershipCheck}");
        foreach (var row in rows.Prepend(header))
        {
            sb.AppendLine(string.Join("  ", row.Select((cell, i) => cell.PadRight(widths[i]))).TrimEnd());
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"Records re-read: {TotalReread}");
        return sb.ToString();
    }
}
