namespace Streaming.SchemaRegistry.Evolution;

/// <summary>Compatibility levels with the meaning Confluent Schema Registry gives them.</summary>
public enum CompatibilityLevel
{
    /// <summary>No check.</summary>
    None,

    /// <summary>The new schema can read data written with the latest previous version.</summary>
    Backward,

    /// <summary>The new schema can read data written with every previous version.</summary>
    BackwardTransitive,

    /// <summary>The latest previous version can read data written with the new schema.</summary>
    Forward,

    /// <summary>Every previous version can read data written with the new schema.</summary>
    ForwardTransitive,

    /// <summary>Backward and forward against the latest previous version.</summary>
    Full,

    /// <summary>Backward and forward against every previous version.</summary>
    FullTransitive,
}

/// <summary>Conversions between <see cref="CompatibilityLevel"/> and Confluent's level names (<c>BACKWARD_TRANSITIVE</c>).</summary>
public static class CompatibilityLevelNames
{
    /// <summary>Parses a Confluent level name (case-insensitive); false when it is not one.</summary>
    public static bool TryParse(string? text, out CompatibilityLevel level)
    {
        level = CompatibilityLevel.None;
        switch (text?.Trim().ToUpperInvariant())
        {
            case "NONE": level = CompatibilityLevel.None; return true;
            case "BACKWARD": level = CompatibilityLevel.Backward; return true;
            case "BACKWARD_TRANSITIVE": level = CompatibilityLevel.BackwardTransitive; return true;
            case "FORWARD": level = CompatibilityLevel.Forward; return true;
            case "FORWARD_TRANSITIVE": level = CompatibilityLevel.ForwardTransitive; return true;
            case "FULL": level = CompatibilityLevel.Full; return true;
            case "FULL_TRANSITIVE": level = CompatibilityLevel.FullTransitive; return true;
            default: return false;
        }
    }

    /// <summary>Parses a Confluent level name; throws naming the bad value and the valid ones.</summary>
    public static CompatibilityLevel Parse(string? text) =>
        TryParse(text, out var level)
            ? level
            : throw new ArgumentException($"Unknown compatibility level '{text}'. Valid levels: {string.Join(", ", CompatibilityLevels.All)}.", nameof(text));

    /// <summary>The Confluent name, e.g. <c>FULL_TRANSITIVE</c>.</summary>
    public static string ToName(this CompatibilityLevel level) => level switch
    {
        CompatibilityLevel.None => "NONE",
        CompatibilityLevel.Backward => "BACKWARD",
        CompatibilityLevel.BackwardTransitive => "BACKWARD_TRANSITIVE",
        CompatibilityLevel.Forward => "FORWARD",
        CompatibilityLevel.ForwardTransitive => "FORWARD_TRANSITIVE",
        CompatibilityLevel.Full => "FULL",
        CompatibilityLevel.FullTransitive => "FULL_TRANSITIVE",
        _ => throw new ArgumentOutOfRangeException(nameof(level), level, null),
    };

    /// <summary>True for the levels that check against every previous version.</summary>
    public static bool IsTransitive(this CompatibilityLevel level) =>
        level is CompatibilityLevel.BackwardTransitive or CompatibilityLevel.ForwardTransitive or CompatibilityLevel.FullTransitive;

    /// <summary>True when the new schema must read old data.</summary>
    public static bool ChecksBackward(this CompatibilityLevel level) =>
        level is CompatibilityLevel.Backward or CompatibilityLevel.BackwardTransitive or CompatibilityLevel.Full or CompatibilityLevel.FullTransitive;

    /// <summary>True when old schemas must read new data.</summary>
    public static bool ChecksForward(this CompatibilityLevel level) =>
        level is CompatibilityLevel.Forward or CompatibilityLevel.ForwardTransitive or CompatibilityLevel.Full or CompatibilityLevel.FullTransitive;
}
