using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Streaming.Platform.Topics;

namespace Streaming.Platform.Tests;

/// <summary>
/// Manifest topic → Confluent <see cref="TopicSpecification"/>: every field, configs as Kafka strings. Also the
/// mapping of per-topic CreateTopics results. No broker involved.
/// </summary>
public class TopicSpecificationMappingTests
{
    private static readonly TopicDefinition Postings = new()
    {
        Name = "erp.postings.v1",
        Key = "posting key",
        Partitions = 6,
        ReplicationFactor = 3,
        CleanupPolicy = CleanupPolicy.Compact,
        RetentionMs = -1,
        MinInsyncReplicas = 2,
        Configs = new Dictionary<string, string> { ["segment.ms"] = "86400000", ["min.compaction.lag.ms"] = "3600000" },
    };

    [Fact]
    public void Name_partitions_and_replication_factor_are_copied()
    {
        var spec = Postings.ToTopicSpecification();
        Assert.Equal("erp.postings.v1", spec.Name);
        Assert.Equal(6, spec.NumPartitions);
        Assert.Equal((short)3, spec.ReplicationFactor);
        Assert.Null(spec.ReplicasAssignments);
    }

    [Fact]
    public void Cleanup_policy_retention_and_min_isr_become_kafka_config_strings()
    {
        var configs = (Postings with { CleanupPolicy = CleanupPolicy.CompactDelete }).ToTopicSpecification().Configs;
        Assert.Equal("compact,delete", configs["cleanup.policy"]);
        Assert.Equal("-1", configs["retention.ms"]);
        Assert.Equal("2", configs["min.insync.replicas"]);
    }

    [Fact]
    public void A_purely_compacted_topic_pins_no_retention_because_kafka_ignores_it()
    {
        var configs = Postings.ToTopicSpecification().Configs;
        Assert.Equal("compact", configs["cleanup.policy"]);
        Assert.False(configs.ContainsKey("retention.ms"));
    }

    [Fact]
    public void Extra_configs_are_passed_through_and_nothing_else_is_added()
    {
        var configs = Postings.ToTopicSpecification().Configs;
        Assert.Equal("86400000", configs["segment.ms"]);
        Assert.Equal("3600000", configs["min.compaction.lag.ms"]);
        Assert.Equal(4, configs.Count); // cleanup.policy, min.insync.replicas + the two extras
    }

    [Theory]
    [InlineData(CleanupPolicy.Delete, "delete")]
    [InlineData(CleanupPolicy.Compact, "compact")]
    [InlineData(CleanupPolicy.CompactDelete, "compact,delete")]
    public void Each_cleanup_policy_maps_to_its_kafka_value(CleanupPolicy policy, string expected)
    {
        Assert.Equal(expected, (Postings with { CleanupPolicy = policy }).ToTopicSpecification().Configs["cleanup.policy"]);
    }

    [Fact]
    public void Long_retention_is_written_without_grouping_or_exponent()
    {
        var spec = (Postings with { CleanupPolicy = CleanupPolicy.Delete, RetentionMs = 7_776_000_000 }).ToTopicSpecification();
        Assert.Equal("7776000000", spec.Configs["retention.ms"]);
    }

    [Fact]
    public void The_whole_manifest_maps_in_manifest_order()
    {
        var manifest = TopicManifest.LoadEmbedded();
        var specs = manifest.ToTopicSpecifications();
        Assert.Equal(manifest.Topics.Select(t => t.Name), specs.Select(s => s.Name));
        Assert.Equal(12, specs.Single(s => s.Name == "billing.usage.v1").NumPartitions);
    }

    [Theory]
    [InlineData(ErrorCode.NoError, TopicCreateStatus.Created)]
    [InlineData(ErrorCode.TopicAlreadyExists, TopicCreateStatus.AlreadyExists)]
    [InlineData(ErrorCode.PolicyViolation, TopicCreateStatus.Failed)]
    [InlineData(ErrorCode.InvalidReplicationFactor, TopicCreateStatus.Failed)]
    public void Create_topic_reports_map_already_exists_to_exists_and_other_errors_to_failed(ErrorCode code, TopicCreateStatus expected)
    {
        var outcome = KafkaTopicAdmin.ToOutcome(new CreateTopicReport { Topic = "billing.usage.v1", Error = new Error(code, "broker says no") });
        Assert.Equal(("billing.usage.v1", expected), (outcome.Topic, outcome.Status));
        if (expected == TopicCreateStatus.Failed)
        {
            Assert.Contains("broker says no", outcome.Error, StringComparison.Ordinal);
        }
        else
        {
            Assert.Null(outcome.Error);
        }
    }
}
