namespace Streaming.Platform.Topics;

/// <summary>Kafka <c>cleanup.policy</c> of a topic.</summary>
public enum CleanupPolicy
{
    Delete,
    Compact,
    CompactDelete,
}

/// <summary>Conversions between <see cref="CleanupPolicy"/> and the Kafka config string.</summary>
public static class CleanupPolicies
{
    /// <summary>The value Kafka expects for <c>cleanup.policy</c>.</summary>
    public static string ToKafkaValue(this CleanupPolicy policy) => policy switch
    {
        CleanupPolicy.Delete => "delete",
        CleanupPolicy.Compact => "compact",
        CleanupPolicy.CompactDelete => "compact,delete",
        _ => throw new ArgumentOutOfRangeException(nameof(policy), policy, "Unknown cleanup policy."),
    };

    /// <summary>Parses "delete", "compact" or "compact,delete" (either order, any spacing).</summary>
    public static bool TryParse(string? value, out CleanupPolicy policy)
    {
        policy = CleanupPolicy.Delete;
        if (string.IsNullOrWhiteSpace(value))
        {
            return false;
        }

        var parts = value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(p => p.ToLowerInvariant())
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToArray();
        switch (string.Join(',', parts))
        {
            case "delete":
                policy = CleanupPolicy.Delete;
                return true;
            case "compact":
                policy = CleanupPolicy.Compact;
                return true;
            case "compact,delete":
                policy = CleanupPolicy.CompactDelete;
                return true;
            default:
                return false;
        }
    }
}
