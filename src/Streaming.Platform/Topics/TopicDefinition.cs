using System.Collections.ObjectModel;

namespace Streaming.Platform.Topics;

/// <summary>One topic as declared in the manifest: layout, retention and who owns it.</summary>
public sealed record TopicDefinition
{
    public const string CleanupPolicyConfig = "cleanup.policy";
    public const string RetentionMsConfig = "retention.ms";
    public const string MinInsyncReplicasConfig = "min.insync.replicas";

    private static readonly IReadOnlyDictionary<string, string> NoConfigs =
        new ReadOnlyDictionary<string, string>(new Dictionary<string, string>());

    public required string Name { get; init; }

    /// <summary>What the record key is (documentation only).</summary>
    public string Key { get; init; } = "";

    public required int Partitions { get; init; }

    public required int ReplicationFactor { get; init; }

    public required CleanupPolicy CleanupPolicy { get; init; }

    /// <summary><c>retention.ms</c>; -1 keeps data forever (usual for compacted topics).</summary>
    public required long RetentionMs { get; init; }

    public required int MinInsyncReplicas { get; init; }

    /// <summary>Further topic configs (e.g. <c>segment.ms</c>), passed to Kafka as-is.</summary>
    public IReadOnlyDictionary<string, string> Configs { get; init; } = NoConfigs;

    /// <summary>The component that writes the topic.</summary>
    public string Owner { get; init; } = "";

    public string Description { get; init; } = "";

    /// <summary>
    /// Every topic config the manifest pins, typed fields first, then <see cref="Configs"/> in key order.
    /// These are the values written on create and compared for drift. <c>retention.ms</c> is left out for a purely
    /// compacted topic: Kafka ignores it there, and topics other tools create (the registry's <c>_schemas</c>) would
    /// otherwise always show drift on a setting with no effect.
    /// </summary>
    public IReadOnlyList<KeyValuePair<string, string>> EffectiveConfigs()
    {
        var result = new List<KeyValuePair<string, string>> { new(CleanupPolicyConfig, CleanupPolicy.ToKafkaValue()) };
        if (CleanupPolicy != CleanupPolicy.Compact)
        {
            result.Add(new(RetentionMsConfig, RetentionMs.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        }

        result.Add(new(MinInsyncReplicasConfig, MinInsyncReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        result.AddRange(Configs.OrderBy(c => c.Key, StringComparer.Ordinal));
        return result;
    }

    /// <summary>
    /// A Streamiz/Kafka Streams changelog topic (<c>&lt;applicationId&gt;-&lt;storeName&gt;-changelog</c>):
    /// compacted, kept forever. Not part of the declared manifest; add it with <see cref="TopicManifest.With"/>.
    /// </summary>
    public static TopicDefinition StreamsChangelog(string applicationId, string storeName, int partitions, int replicationFactor = 3, int minInsyncReplicas = 2) =>
        Internal($"{applicationId}-{storeName}-changelog", CleanupPolicy.Compact, partitions, replicationFactor, minInsyncReplicas,
            $"Changelog of state store '{storeName}' of application '{applicationId}'.");

    /// <summary>
    /// A Streamiz/Kafka Streams repartition topic (<c>&lt;applicationId&gt;-&lt;name&gt;-repartition</c>):
    /// delete policy with unlimited retention, as Kafka Streams purges consumed records itself.
    /// </summary>
    public static TopicDefinition StreamsRepartition(string applicationId, string name, int partitions, int replicationFactor = 3, int minInsyncReplicas = 2) =>
        Internal($"{applicationId}-{name}-repartition", CleanupPolicy.Delete, partitions, replicationFactor, minInsyncReplicas,
            $"Repartition topic '{name}' of application '{applicationId}'.");

    private static TopicDefinition Internal(string name, CleanupPolicy policy, int partitions, int replicationFactor, int minInsyncReplicas, string description) => new()
    {
        Name = name,
        Key = "as written by the topology",
        Partitions = partitions,
        ReplicationFactor = replicationFactor,
        CleanupPolicy = policy,
        RetentionMs = -1,
        MinInsyncReplicas = Math.Min(minInsyncReplicas, replicationFactor),
        Owner = "streams internal",
        Description = description,
    };
}
