using System.Globalization;
namespace Streaming.Platform.Topics;

/// <summary>
/// Brings a cluster up to the manifest by creating missing topics only. Existing topics are compared and any
/// difference is reported as drift; nothing is ever altered or deleted.
/// </summary>
public static class TopicApplier
{
    /// <summary>Applies <paramref name="manifest"/> to <paramref name="target"/>; with <paramref name="dryRun"/> only reports.</summary>
    public static async Task<TopicApplyReport> ApplyAsync(TopicManifest manifest, ITopicAdmin target, bool dryRun, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentNullException.ThrowIfNull(target);

        var existing = (await target.ListTopicsAsync(cancellationToken).ConfigureAwait(false))
            .GroupBy(t => t.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);

        var results = new Dictionary<string, TopicApplyResult>(StringComparer.Ordinal);
        var missing = manifest.Topics.Where(t => !existing.ContainsKey(t.Name)).ToList();
        var present = manifest.Topics.Where(t => existing.ContainsKey(t.Name)).ToList();

        if (dryRun)
        {
            foreach (var topic in missing)
            {
                results[topic.Name] = TopicApplyResult.Of(topic.Name, TopicApplyStatus.WouldCreate,
                    Layout(topic));
            }
        }
        else if (missing.Count > 0)
        {
            foreach (var result in await CreateAsync(missing, target, cancellationToken).ConfigureAwait(false))
            {
                results[result.Topic] = result;
            }
        }

        foreach (var result in await CompareAsync(present, existing, target, cancellationToken).ConfigureAwait(false))
        {
            results[result.Topic] = result;
        }

        var unmanaged = existing.Keys
            .Where(name => !manifest.Contains(name) && !name.StartsWith("__", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)
            .ToList();
        return new TopicApplyReport(target.Target, dryRun, manifest.Topics.Select(t => results[t.Name]).ToList(), unmanaged);
    }

    private static async Task<IEnumerable<TopicApplyResult>> CreateAsync(List<TopicDefinition> missing, ITopicAdmin target, CancellationToken cancellationToken)
    {
        IReadOnlyList<TopicCreateOutcome> outcomes;
        try
        {
            outcomes = await target.CreateTopicsAsync(missing.Select(t => t.ToTopicSpecification()).ToList(), cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            // The whole request failed: none of these topics can be assumed to exist.
            return missing.Select(t => TopicApplyResult.Of(t.Name, TopicApplyStatus.Failed, $"create topic '{t.Name}' failed: {ex.Message}"));
        }

        var byTopic = outcomes.GroupBy(o => o.Topic, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
        return missing.Select(t =>
        {
            if (!byTopic.TryGetValue(t.Name, out var outcome))
            {
                return TopicApplyResult.Of(t.Name, TopicApplyStatus.Failed, $"create topic '{t.Name}': the broker returned no result for it");
            }

            return outcome.Status switch
            {
                TopicCreateStatus.Created => TopicApplyResult.Of(t.Name, TopicApplyStatus.Created,
                    Layout(t)),
                // Someone else created it between our listing and our create; its layout was not compared.
                TopicCreateStatus.AlreadyExists => TopicApplyResult.Of(t.Name, TopicApplyStatus.Exists,
                    "already existed (created concurrently); not compared this run"),
                _ => TopicApplyResult.Of(t.Name, TopicApplyStatus.Failed,
                    $"create topic '{t.Name}' failed: {outcome.Error ?? "unknown error"}"),
            };
        });
    }

    private static async Task<IEnumerable<TopicApplyResult>> CompareAsync(
        List<TopicDefinition> present, Dictionary<string, ExistingTopic> existing, ITopicAdmin target, CancellationToken cancellationToken)
    {
        if (present.Count == 0)
        {
            return [];
        }

        Dictionary<string, TopicConfigs>? configs = null;
        string? configsError = null;
        if (target.ConfigsNotCheckedReason is null)
        {
            try
            {
                configs = (await target.DescribeConfigsAsync(present.Select(t => t.Name).ToList(), cancellationToken).ConfigureAwait(false))
                    .GroupBy(c => c.Topic, StringComparer.Ordinal)
                    .ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                configsError = ex.Message;
            }
        }

        return present.Select(topic =>
        {
            var actual = existing[topic.Name];
            var drift = new List<string>();
            if (actual.Partitions < topic.Partitions)
            {
                drift.Add($"partitions: cluster has {actual.Partitions}, manifest wants {topic.Partitions} (fewer; add partitions deliberately, keys will move)");
            }
            else if (actual.Partitions > topic.Partitions)
            {
                drift.Add($"partitions: cluster has {actual.Partitions}, manifest wants {topic.Partitions} (more; Kafka cannot reduce partitions, update the manifest)");
            }

            if (actual.ReplicationFactor is { } rf && rf != topic.ReplicationFactor)
            {
                drift.Add($"replication factor: cluster has {rf}, manifest wants {topic.ReplicationFactor}");
            }

            var notes = new List<string>();
            if (target.ConfigsNotCheckedReason is { } reason)
            {
                notes.Add($"configs not checked ({reason})");
            }
            else
            {
                var error = configsError;
                TopicConfigs? topicConfigs = null;
                if (error is null && !configs!.TryGetValue(topic.Name, out topicConfigs))
                {
                    error = "the broker returned no configs for it";
                }

                error ??= topicConfigs!.Error;
                if (error is not null)
                {
                    return TopicApplyResult.Of(topic.Name, TopicApplyStatus.Failed, [.. drift, $"describe configs of topic '{topic.Name}' failed: {error}"]);
                }

                foreach (var (key, wanted) in topic.EffectiveConfigs())
                {
                    if (!topicConfigs!.Values.TryGetValue(key, out var value))
                    {
                        drift.Add($"{key}: not reported by the cluster, manifest wants {wanted}");
                    }
                    else if (!ConfigEquals(key, value, wanted))
                    {
                        drift.Add($"{key}: cluster has {value ?? "(null)"}, manifest wants {wanted}");
                    }
                }
            }

            return drift.Count > 0
                ? TopicApplyResult.Of(topic.Name, TopicApplyStatus.Drift, drift)
                : TopicApplyResult.Of(topic.Name, TopicApplyStatus.Exists, notes);
        });
    }

    private static bool ConfigEquals(string key, string? actual, string wanted)
    {
        if (actual is null)
        {
            return false;
        }

        if (key == TopicDefinition.CleanupPolicyConfig)
        {
            return CleanupPolicies.TryParse(actual, out var a) && CleanupPolicies.TryParse(wanted, out var w) && a == w;
        }

        // Numbers compare by value so "604800000" and "6.048E8"-style renderings do not count as drift.
        if (decimal.TryParse(actual, NumberStyles.Float, CultureInfo.InvariantCulture, out var an)
            && decimal.TryParse(wanted, NumberStyles.Float, CultureInfo.InvariantCulture, out var wn))
        {
            return an == wn;
        }

        return string.Equals(actual.Trim(), wanted.Trim(), StringComparison.OrdinalIgnoreCase);
    }

    private static string Layout(TopicDefinition topic) =>
        $"{topic.Partitions} partition{(topic.Partitions == 1 ? "" : "s")}, RF {topic.ReplicationFactor}, {topic.CleanupPolicy.ToKafkaValue()}";
}
