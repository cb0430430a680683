using System.Text;

namespace Streaming.Platform.Topics;

/// <summary>What applying the manifest found or did for one topic.</summary>
public enum TopicApplyStatus
{
    /// <summary>Created by this run.</summary>
    Created,

    /// <summary>Exists and matches the manifest (as far as the target can tell).</summary>
    Exists,

    /// <summary>Missing; a dry run would create it.</summary>
    WouldCreate,

    /// <summary>Exists but differs from the manifest; nothing was changed.</summary>
    Drift,

    /// <summary>Could not be created or inspected.</summary>
    Failed,
}

/// <summary>One manifest topic in a <see cref="TopicApplyReport"/>.</summary>
/// <param name="Details">Drift items or the error (Drift/Failed), or notes (e.g. configs not checked).</param>
public sealed record TopicApplyResult(string Topic, TopicApplyStatus Status, IReadOnlyList<string> Details)
{
    public static TopicApplyResult Of(string topic, TopicApplyStatus status, params IEnumerable<string> details) =>
        new(topic, status, details.ToList());
}

/// <summary>The outcome of <see cref="TopicApplier.ApplyAsync"/>: per-topic status and topics the manifest does not manage.</summary>
public sealed class TopicApplyReport
{
    public TopicApplyReport(string target, bool dryRun, IReadOnlyList<TopicApplyResult> topics, IReadOnlyList<string> unmanagedTopics)
    {
        Target = target;
        DryRun = dryRun;
        Topics = topics;
        UnmanagedTopics = unmanagedTopics;
    }

    public string Target { get; }

    public bool DryRun { get; }

    /// <summary>One entry per manifest topic, in manifest order.</summary>
    public IReadOnlyList<TopicApplyResult> Topics { get; }

    /// <summary>Topics on the cluster that the manifest does not declare (broker-internal <c>__*</c> topics excluded). Never deleted.</summary>
    public IReadOnlyList<string> UnmanagedTopics { get; }

    public bool HasErrors => Topics.Any(t => t.Status == TopicApplyStatus.Failed);

    public bool HasDrift => Topics.Any(t => t.Status == TopicApplyStatus.Drift);

    /// <summary>Topics this run created (empty on a dry run).</summary>
    public IReadOnlyList<string> CreatedTopics => Topics.Where(t => t.Status == TopicApplyStatus.Created).Select(t => t.Topic).ToList();

    public TopicApplyResult this[string topic] =>
        Topics.FirstOrDefault(t => t.Topic == topic) ?? throw new KeyNotFoundException($"Topic '{topic}' is not in this report.");

    /// <summary>A fixed-width table: topic, status, details; then unmanaged topics and a summary line.</summary>
    public string Render()
    {
        var sb = new StringBuilder();
        sb.Append("Topics on ").Append(Target).AppendLine(DryRun ? " (dry run: nothing changed)" : "");
        var rows = Topics.Select(t => (t.Topic, Status: StatusText(t.Status), Details: t.Details)).ToList();
        var nameWidth = Math.Max("TOPIC".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Topic.Length));
        var statusWidth = Math.Max("STATUS".Length, rows.Count == 0 ? 0 : rows.Max(r => r.Status.Length));
        sb.Append("TOPIC".PadRight(nameWidth)).Append("  ").Append("STATUS".PadRight(statusWidth)).AppendLine("  DETAILS");
        foreach (var (topic, status, details) in rows)
        {
            var first = true;
            foreach (var line in details.Count == 0 ? [""] : details)
            {
                sb.Append((first ? topic : "").PadRight(nameWidth)).Append("  ")
                    .Append((first ? status : "").PadRight(statusWidth)).Append("  ")
                    .AppendLine(line);
                first = false;
            }
        }

        if (UnmanagedTopics.Count > 0)
        {
            sb.AppendLine().Append("Unmanaged (on the cluster, not in the manifest; left alone): ")
                .AppendLine(string.Join(", ", UnmanagedTopics));
        }

        sb.AppendLine().AppendLine(string.Join(", ",
            Enum.GetValues<TopicApplyStatus>()
                .Select(s => (s, n: Topics.Count(t => t.Status == s)))
                .Where(x => x.n > 0)
                .Select(x => $"{x.n} {StatusText(x.s).ToLowerInvariant()}")
                .Append($"{UnmanagedTopics.Count} unmanaged")));
        return sb.ToString().TrimEnd() + Environment.NewLine;
    }

    public override string ToString() => Render();

    private static string StatusText(TopicApplyStatus status) => status switch
    {
        TopicApplyStatus.WouldCreate => "WOULD CREATE",
        _ => status.ToString().ToUpperInvariant(),
    };
}
