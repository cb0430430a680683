namespace Streaming.SchemaRegistry.Evolution;

/// <summary>Which way data flows in a failed check.</summary>
public enum CompatibilityDirection
{
    /// <summary>The new schema (reader) cannot read data written with an older version (writer).</summary>
    Backward,

    /// <summary>An older version (reader) cannot read data written with the new schema (writer).</summary>
    Forward,
}

/// <summary>One incompatibility between a new schema and one previous version.</summary>
/// <param name="Direction">Backward (new reads old) or forward (old reads new).</param>
/// <param name="PreviousIndex">Zero-based index of the previous version in the list checked against (oldest first).</param>
/// <param name="PreviousLabel">How to name that version in messages, e.g. <c>version 3</c>.</param>
/// <param name="Path">Where, e.g. <c>Invoice.lines[].amount</c>.</param>
/// <param name="Reason">Why.</param>
public sealed record Incompatibility(CompatibilityDirection Direction, int PreviousIndex, string PreviousLabel, string Path, string Reason)
{
    /// <summary>A one-line message: path, reason, and which check failed.</summary>
    public string Message => Direction == CompatibilityDirection.Backward
        ? $"{Path}: {Reason} (BACKWARD: the new schema cannot read data written with {PreviousLabel})"
        : $"{Path}: {Reason} (FORWARD: {PreviousLabel} cannot read data written with the new schema)";

    /// <inheritdoc />
    public override string ToString() => Message;
}

/// <summary>Applies a <see cref="CompatibilityLevel"/> to a new schema and the previous versions of its subject, as Confluent does.</summary>
public static class CompatibilityChecker
{
    /// <summary>
    /// Every incompatibility of <paramref name="candidate"/> with <paramref name="previous"/> (oldest first) under
    /// <paramref name="level"/>; empty when compatible. Non-transitive levels check only the latest previous version.
    /// </summary>
    /// <param name="labels">Optional names for the previous versions (same order), e.g. <c>version 1</c>; defaults to <c>version N</c> by position.</param>
    public static IReadOnlyList<Incompatibility> Check(
        CompatibilityLevel level, IReadOnlyList<AvroSchemaDocument> previous, AvroSchemaDocument candidate, IReadOnlyList<string>? labels = null)
    {
        ArgumentNullException.ThrowIfNull(previous);
        ArgumentNullException.ThrowIfNull(candidate);
        if (level == CompatibilityLevel.None || previous.Count == 0)
        {
            return [];
        }

        var from = level.IsTransitive() ? 0 : previous.Count - 1;
        var result = new List<Incompatibility>();
        // Newest first: the most relevant failure is listed first.
        for (var i = previous.Count - 1; i >= from; i--)
        {
            var label = labels is not null && i < labels.Count ? labels[i] : $"version {i + 1}";
            if (level.ChecksBackward())
            {
                result.AddRange(AvroResolution.Check(candidate, previous[i])
                    .Select(issue => new Incompatibility(CompatibilityDirection.Backward, i, label, issue.Path, issue.Reason)));
            }

            if (level.ChecksForward())
            {
                result.AddRange(AvroResolution.Check(previous[i], candidate)
                    .Select(issue => new Incompatibility(CompatibilityDirection.Forward, i, label, issue.Path, issue.Reason)));
            }
        }

        return result;
    }
}
