using Streaming.Platform.Topics;

namespace Streaming.Platform.Tests;

/// <summary>
/// The embedded topic manifest and its loader: which topics it declares, their layout rules, and the validation
/// messages for broken manifests. Does not talk to a broker (see <see cref="TopicApplierTests"/>).
/// </summary>
public class TopicManifestTests
{
    /// <summary>The topic table of DESIGN.md §2, verbatim.</summary>
    private static readonly string[] DesignTopics =
    [
        "crm.accounts.v1", "crm.opportunities.v1",
        "billing.customers.v1", "billing.subscriptions.v1", "billing.invoices.v1", "billing.payments.v1",
        "billing.credit-notes.v1", "billing.usage.v1",
        "md.legal-entities.v1", "md.products.v1", "md.tax-rules.v1", "md.gl-mappings.v1", "md.account-links.v1",
        "finance.orders.v1", "finance.events.v1", "erp.postings.v1",
        "ops.quarantine.v1", "ops.dlq.v1", "connect.checkpoints.v1", "_schemas",
    ];

    /// <summary>Topics added after DESIGN.md §2 (issue 6: HubSpot contacts), all compacted.</summary>
    private static readonly string[] Additions = ["crm.contacts.v1"];

    private static readonly string[] CompactedInDesign =
    [
        "crm.accounts.v1", "billing.customers.v1",
        "md.legal-entities.v1", "md.products.v1", "md.tax-rules.v1", "md.gl-mappings.v1", "md.account-links.v1",
        "erp.postings.v1", "connect.checkpoints.v1", "_schemas",
    ];

    private static readonly TopicManifest Manifest = TopicManifest.LoadEmbedded();

    [Fact]
    public void Embedded_manifest_declares_exactly_the_design_topics_and_the_additions()
    {
        Assert.Equal(DesignTopics.Concat(Additions).Order(StringComparer.Ordinal), Manifest.Topics.Select(t => t.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Compacted_topics_are_exactly_those_the_design_marks_compact_and_keep_data_forever()
    {
        var compacted = Manifest.Topics.Where(t => t.CleanupPolicy == CleanupPolicy.Compact).ToList();
        Assert.Equal(CompactedInDesign.Concat(Additions).Order(StringComparer.Ordinal), compacted.Select(t => t.Name).Order(StringComparer.Ordinal));
        Assert.All(compacted, t => Assert.Equal(-1, t.RetentionMs));
        Assert.All(Manifest.Topics.Except(compacted), t =>
        {
            Assert.Equal(CleanupPolicy.Delete, t.CleanupPolicy);
            Assert.True(t.RetentionMs > 0, $"{t.Name} needs an explicit retention");
        });
    }

    [Fact]
    public void Usage_has_the_most_partitions_master_data_has_one_to_three_and_schemas_has_one()
    {
        var usage = Manifest.Get("billing.usage.v1");
        Assert.Equal(12, usage.Partitions);
        Assert.All(Manifest.Topics.Where(t => t.Name != usage.Name), t => Assert.True(t.Partitions < usage.Partitions, t.Name));
        Assert.All(Manifest.Topics.Where(t => t.Name.StartsWith("md.", StringComparison.Ordinal)), t => Assert.InRange(t.Partitions, 1, 3));
        Assert.Equal(1, Manifest.Get("_schemas").Partitions);
        Assert.Equal(6, Manifest.Get("billing.invoices.v1").Partitions);
    }

    [Fact]
    public void Every_topic_is_replicated_three_times_with_two_in_sync_and_has_an_owner_key_and_description()
    {
        Assert.All(Manifest.Topics, t =>
        {
            Assert.Equal(3, t.ReplicationFactor);
            Assert.Equal(2, t.MinInsyncReplicas);
            Assert.False(string.IsNullOrWhiteSpace(t.Owner), t.Name);
            Assert.False(string.IsNullOrWhiteSpace(t.Key), t.Name);
            Assert.False(string.IsNullOrWhiteSpace(t.Description), t.Name);
        });
    }

    [Fact]
    public void Extra_configs_are_read_as_kafka_strings()
    {
        var postings = Manifest.Get("erp.postings.v1");
        Assert.Equal("86400000", postings.Configs["min.compaction.lag.ms"]);
        Assert.Equal("21600000", Manifest.Get("billing.usage.v1").Configs["segment.ms"]);
    }

    [Fact]
    public void Manifest_file_in_the_repo_loads_from_its_path_the_same_as_the_embedded_resource()
    {
        var path = Path.Combine(RepoRoot.Find(), "src", "Streaming.Platform", "Topics", "topics.manifest.json");
        var fromFile = TopicManifest.Load(path);
        Assert.Equal(Manifest.Topics, fromFile.Topics, (a, b) =>
            a.Name == b.Name && a.Partitions == b.Partitions && a.EffectiveConfigs().SequenceEqual(b.EffectiveConfigs()));
    }

    [Fact]
    public void Getting_an_undeclared_topic_names_it_in_the_error()
    {
        var ex = Assert.Throws<KeyNotFoundException>(() => Manifest.Get("billing.invoice.v1"));
        Assert.Contains("'billing.invoice.v1'", ex.Message, StringComparison.Ordinal);
        Assert.Contains("not declared", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Get_returns_the_declared_topic()
    {
        var invoices = Manifest.Get("billing.invoices.v1");
        Assert.Equal("invoice id", invoices.Key);
        Assert.Equal("billing connector", invoices.Owner);
        Assert.Equal(2_592_000_000, invoices.RetentionMs);
    }

    [Theory]
    [InlineData("cleanupPolicy", "\"shred\"", "topic 'a.v1': cleanupPolicy 'shred' is unknown")]
    [InlineData("partitions", "0", "topic 'a.v1': partitions must be at least 1 (was 0)")]
    [InlineData("replicationFactor", "0", "topic 'a.v1': replicationFactor must be at least 1 (was 0)")]
    [InlineData("minInsyncReplicas", "4", "topic 'a.v1': minInsyncReplicas (4) must not exceed replicationFactor (3)")]
    [InlineData("retentionMs", "-2", "topic 'a.v1': retentionMs must be -1")]
    [InlineData("partitions", "\"six\"", "topic 'a.v1': partitions must be a whole number")]
    [InlineData("configs", "{ \"cleanup.policy\": \"delete\" }", "topic 'a.v1': configs.cleanup.policy duplicates a typed field")]
    [InlineData("colour", "\"blue\"", "topic 'a.v1': colour is not a known field")]
    public void A_bad_field_fails_with_a_message_naming_the_topic_and_the_field(string field, string json, string expected)
    {
        var ex = Assert.Throws<TopicManifestException>(() => TopicManifest.Parse(ManifestJson(Topic("a.v1", (field, json)))));
        Assert.Contains(expected, ex.Message, StringComparison.Ordinal);
        Assert.Single(ex.Errors);
    }

    [Theory]
    [InlineData("bad name")]
    [InlineData("orders/v1")]
    [InlineData("..")]
    [InlineData("ünicode")]
    public void An_illegal_kafka_topic_name_fails_naming_the_topic_and_the_name_field(string name)
    {
        var ex = Assert.Throws<TopicManifestException>(() => TopicManifest.Parse(ManifestJson(Topic(name))));
        Assert.Contains($"topic '{name}': name is not a legal Kafka topic name", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_topic_name_longer_than_249_characters_is_illegal()
    {
        Assert.True(TopicManifest.IsLegalTopicName(new string('a', 249)));
        Assert.False(TopicManifest.IsLegalTopicName(new string('a', 250)));
    }

    [Fact]
    public void A_duplicate_topic_name_fails_naming_the_topic()
    {
        var ex = Assert.Throws<TopicManifestException>(() => TopicManifest.Parse(ManifestJson(Topic("a.v1"), Topic("b.v1"), Topic("a.v1"))));
        Assert.Equal(["topic 'a.v1': name is declared more than once"], ex.Errors);
    }

    [Fact]
    public void A_missing_required_field_fails_naming_the_topic_and_the_field()
    {
        var json = ManifestJson(Topic("a.v1").Replace("\"retentionMs\": 1000,", "", StringComparison.Ordinal));
        var ex = Assert.Throws<TopicManifestException>(() => TopicManifest.Parse(json));
        Assert.Equal(["topic 'a.v1': retentionMs is required"], ex.Errors);
    }

    [Fact]
    public void Every_problem_in_a_manifest_is_reported_at_once()
    {
        var json = ManifestJson(Topic("a.v1", ("partitions", "0")), Topic("b.v1", ("replicationFactor", "0")));
        var ex = Assert.Throws<TopicManifestException>(() => TopicManifest.Parse(json));
        Assert.Equal(2, ex.Errors.Count);
        Assert.Contains("topic 'a.v1': partitions", ex.Message, StringComparison.Ordinal);
        Assert.Contains("topic 'b.v1': replicationFactor", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Malformed_json_and_a_missing_file_fail_as_manifest_errors()
    {
        Assert.Throws<TopicManifestException>(() => TopicManifest.Parse("{ \"topics\": [ "));
        Assert.Throws<TopicManifestException>(() => TopicManifest.Parse("[]"));
        var missing = Path.Combine(Path.GetTempPath(), $"no-such-manifest-{Guid.NewGuid():N}.json");
        var ex = Assert.Throws<TopicManifestException>(() => TopicManifest.Load(missing));
        Assert.Contains(missing, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("compact", CleanupPolicy.Compact)]
    [InlineData("delete", CleanupPolicy.Delete)]
    [InlineData("delete, compact", CleanupPolicy.CompactDelete)]
    public void Cleanup_policy_reads_every_kafka_spelling(string text, CleanupPolicy expected)
    {
        var manifest = TopicManifest.Parse(ManifestJson(Topic("a.v1", ("cleanupPolicy", $"\"{text}\""))));
        Assert.Equal(expected, manifest.Get("a.v1").CleanupPolicy);
    }

    [Fact]
    public void Streams_internal_topics_are_added_to_a_copy_of_the_manifest_with_given_partitions()
    {
        var extended = Manifest.With(
            TopicDefinition.StreamsChangelog("finance-processor", "orders-store", partitions: 6),
            TopicDefinition.StreamsRepartition("finance-processor", "by-customer", partitions: 6));

        var changelog = extended.Get("finance-processor-orders-store-changelog");
        Assert.Equal((6, CleanupPolicy.Compact, -1L), (changelog.Partitions, changelog.CleanupPolicy, changelog.RetentionMs));
        var repartition = extended.Get("finance-processor-by-customer-repartition");
        Assert.Equal((6, CleanupPolicy.Delete), (repartition.Partitions, repartition.CleanupPolicy));
        Assert.Equal(Manifest.Topics.Count + 2, extended.Topics.Count);
        Assert.False(Manifest.Contains(changelog.Name));
    }

    [Fact]
    public void Adding_a_topic_that_is_already_declared_fails_as_a_duplicate()
    {
        var clash = Manifest.Get("erp.postings.v1") with { Description = "again" };
        var ex = Assert.Throws<TopicManifestException>(() => Manifest.With(clash));
        Assert.Contains("topic 'erp.postings.v1': name is declared more than once", ex.Message, StringComparison.Ordinal);
    }

    internal static string ManifestJson(params string[] topics) => $"{{ \"topics\": [ {string.Join(", ", topics)} ] }}";

    /// <summary>A valid topic object; each override replaces (or adds) one field's raw JSON.</summary>
    internal static string Topic(string name, params (string Field, string Json)[] overrides)
    {
        var fields = new List<(string Field, string Json)>
        {
            ("name", System.Text.Json.JsonSerializer.Serialize(name)),
            ("key", "\"id\""),
            ("partitions", "3"),
            ("replicationFactor", "3"),
            ("cleanupPolicy", "\"delete\""),
            ("retentionMs", "1000"),
            ("minInsyncReplicas", "2"),
            ("owner", "\"test\""),
        };
        foreach (var (field, json) in overrides)
        {
            var i = fields.FindIndex(f => f.Field == field);
            if (i >= 0)
            {
                fields[i] = (field, json);
            }
            else
            {
                fields.Add((field, json));
            }
        }

        return "{ " + string.Join(", ", fields.Select(f => $"\"{f.Field}\": {f.Json}")) + " }";
    }
}
