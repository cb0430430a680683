using Streamiz.Kafka.Net.Stream;
using Streaming.Platform.Topics;

namespace Streaming.Processors.Hosting;

/// <summary>
/// Derives the internal topics a Streamiz topology needs (state-store changelogs and repartition topics) from its
/// description, so they are created with the manifest before the application starts. On the embedded broker this is
/// required: the mock cluster has no CreateTopics, and a topology whose changelog topic is missing hangs in
/// REBALANCING. On a real cluster it keeps internal topics under the same replication and ISR rules as the rest.
/// </summary>
public static class StreamizInternalTopics
{
    /// <summary>
    /// Internal topics for <paramref name="topology"/> run as <paramref name="applicationId"/>. Partition counts follow
    /// Streamiz: a sub-topology's changelogs and the repartition topics it writes get the largest partition count of
    /// its input topics. Global stores read their source topic directly and need none.
    /// </summary>
    public static IReadOnlyList<TopicDefinition> For(Streamiz.Kafka.Net.Stream.Topology topology, string applicationId, TopicManifest manifest,
        int replicationFactor = 3, int minInsyncReplicas = 2)
    {
        ArgumentNullException.ThrowIfNull(topology);
        ArgumentException.ThrowIfNullOrWhiteSpace(applicationId);
        ArgumentNullException.ThrowIfNull(manifest);
        var description = topology.Describe();
        var globalStores = description.GlobalStores.SelectMany(g => g.Processor.Stores).ToHashSet(StringComparer.Ordinal);
        var repartitionPartitions = new Dictionary<string, int>(StringComparer.Ordinal);
        var changelogs = new Dictionary<string, int>(StringComparer.Ordinal);

        // A repartition topic's partition count comes from the sub-topology that writes it, which may be numbered
        // after the one that reads it: resolve sub-topologies until every source is known.
        var pending = description.SubTopologies.OrderBy(s => s.Id).ToList();
        while (pending.Count > 0)
        {
            var progressed = false;
            foreach (var sub in pending.ToList())
            {
                var topics = sub.Nodes.OfType<ISourceNodeDescription>().SelectMany(s => s.Topics).ToList();
                if (topics.Any(t => !manifest.Contains(t) && !repartitionPartitions.ContainsKey(InternalName(applicationId, t))))
                {
                    continue;
                }

                var partitions = topics.Select(t => manifest.TryGet(t, out var def) ? def.Partitions : repartitionPartitions[InternalName(applicationId, t)]).DefaultIfEmpty(0).Max();
                foreach (var sink in sub.Nodes.OfType<ISinkNodeDescription>())
                {
                    if (sink.Topic is { } topic && IsRepartition(topic) && !manifest.Contains(topic))
                    {
                        var name = InternalName(applicationId, topic);
                        repartitionPartitions[name] = Math.Max(repartitionPartitions.GetValueOrDefault(name), partitions);
                    }
                }

                foreach (var store in sub.Nodes.OfType<IProcessorNodeDescription>().SelectMany(p => p.Stores).Where(s => !globalStores.Contains(s)))
                {
                    changelogs[store] = Math.Max(changelogs.GetValueOrDefault(store), partitions);
                }

                pending.Remove(sub);
                progressed = true;
            }

            if (!progressed)
            {
                var unknown = pending.SelectMany(s => s.Nodes.OfType<ISourceNodeDescription>()).SelectMany(s => s.Topics)
                    .First(t => !manifest.Contains(t) && !repartitionPartitions.ContainsKey(InternalName(applicationId, t)));
                throw new InvalidOperationException($"Topology {applicationId} reads topic '{unknown}', which is neither in the topic manifest nor an internal topic of the topology.");
            }
        }

        return repartitionPartitions
            .Select(kv => TopicDefinition.StreamsRepartition(applicationId, StripSuffix(kv.Key[(applicationId.Length + 1)..], "-repartition"), kv.Value, replicationFactor, minInsyncReplicas))
            .Concat(changelogs.Select(kv => TopicDefinition.StreamsChangelog(applicationId, kv.Key, kv.Value, replicationFactor, minInsyncReplicas)))
            .OrderBy(t => t.Name, StringComparer.Ordinal)
            .ToList();
    }

    private static bool IsRepartition(string topic) => topic.EndsWith("-repartition", StringComparison.Ordinal);

    private static string InternalName(string applicationId, string topic)
        => topic.StartsWith(applicationId + "-", StringComparison.Ordinal) ? topic : $"{applicationId}-{topic}";

    private static string StripSuffix(string value, string suffix)
        => value.EndsWith(suffix, StringComparison.Ordinal) ? value[..^suffix.Length] : value;
}
