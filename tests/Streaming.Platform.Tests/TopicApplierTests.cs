using Confluent.Kafka.Admin;
using Streaming.Platform.Topics;

namespace Streaming.Platform.Tests;

/// <summary>
/// <see cref="TopicApplier"/> decisions against an in-memory <see cref="ITopicAdmin"/>: create missing, report drift
/// and unmanaged topics, change nothing else. The Kafka and embedded admins themselves need a broker and are not
/// covered here.
/// </summary>
public class TopicApplierTests
{
    private static readonly TopicManifest Manifest = TopicManifest.Create(
    [
        Topic("billing.invoices.v1", 6, CleanupPolicy.Delete, 2_592_000_000),
        Topic("billing.usage.v1", 12, CleanupPolicy.Delete, 604_800_000, ("segment.ms", "21600000")),
        Topic("md.products.v1", 3, CleanupPolicy.Compact, -1),
    ]);

    [Fact]
    public async Task Missing_topics_are_created_with_the_manifest_layout()
    {
        var admin = new FakeTopicAdmin();

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.All(report.Topics, t => Assert.Equal(TopicApplyStatus.Created, t.Status));
        Assert.Equal(["billing.invoices.v1", "billing.usage.v1", "md.products.v1"], report.CreatedTopics);
        var usage = admin.CreateRequests.Single(s => s.Name == "billing.usage.v1");
        Assert.Equal((12, (short)3, "21600000"), (usage.NumPartitions, usage.ReplicationFactor, usage.Configs["segment.ms"]));
        Assert.Equal(12, admin.Topics["billing.usage.v1"].Partitions);
        Assert.False(report.HasErrors || report.HasDrift);
    }

    [Fact]
    public async Task A_second_apply_finds_everything_existing_and_creates_nothing()
    {
        var admin = new FakeTopicAdmin();
        await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);
        admin.CreateRequests.Clear();

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.All(report.Topics, t => Assert.Equal(TopicApplyStatus.Exists, t.Status));
        Assert.Empty(admin.CreateRequests);
        Assert.Empty(report.CreatedTopics);
    }

    [Fact]
    public async Task An_existing_topic_with_fewer_partitions_is_drift_and_is_left_alone()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Topics["billing.usage.v1"] = admin.Topics["billing.usage.v1"] with { Partitions = 8 };

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        var usage = report["billing.usage.v1"];
        Assert.Equal(TopicApplyStatus.Drift, usage.Status);
        Assert.Contains("partitions: cluster has 8, manifest wants 12 (fewer", Assert.Single(usage.Details), StringComparison.Ordinal);
        Assert.Equal(8, admin.Topics["billing.usage.v1"].Partitions);
        Assert.Empty(admin.CreateRequests);
        Assert.Equal(TopicApplyStatus.Exists, report["billing.invoices.v1"].Status);
        Assert.True(report.HasDrift);
        Assert.False(report.HasErrors);
    }

    [Fact]
    public async Task An_existing_topic_with_more_partitions_is_drift()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Topics["md.products.v1"] = admin.Topics["md.products.v1"] with { Partitions = 4 };

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Contains("cluster has 4, manifest wants 3 (more", Assert.Single(report["md.products.v1"].Details), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_different_config_value_or_replication_factor_is_drift_naming_both_values()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Configs["md.products.v1"]["cleanup.policy"] = "delete";
        admin.Configs["billing.invoices.v1"]["retention.ms"] = "604800000";
        admin.Topics["billing.invoices.v1"] = admin.Topics["billing.invoices.v1"] with { ReplicationFactor = 1 };

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(["cleanup.policy: cluster has delete, manifest wants compact"], report["md.products.v1"].Details);
        Assert.Equal(
            ["replication factor: cluster has 1, manifest wants 3", "retention.ms: cluster has 604800000, manifest wants 2592000000"],
            report["billing.invoices.v1"].Details);
        Assert.Equal(TopicApplyStatus.Exists, report["billing.usage.v1"].Status);
        Assert.Empty(admin.CreateRequests);
    }

    [Fact]
    public async Task Config_values_that_differ_only_in_spelling_are_not_drift()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Configs["md.products.v1"]["cleanup.policy"] = "Compact";
        admin.Configs["billing.usage.v1"]["segment.ms"] = "21600000.0";

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.All(report.Topics, t => Assert.Equal(TopicApplyStatus.Exists, t.Status));
    }

    [Fact]
    public async Task A_pinned_config_the_cluster_does_not_report_is_drift()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Configs["billing.usage.v1"].Remove("segment.ms");

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(["segment.ms: not reported by the cluster, manifest wants 21600000"], report["billing.usage.v1"].Details);
    }

    [Fact]
    public async Task Topics_not_in_the_manifest_are_reported_unmanaged_and_never_deleted_except_broker_internal_ones_are_ignored()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Add("legacy.orders", 3);
        admin.Add("__consumer_offsets", 50);

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(["legacy.orders"], report.UnmanagedTopics);
        Assert.True(admin.Topics.ContainsKey("legacy.orders"));
        Assert.Contains("Unmanaged (on the cluster, not in the manifest; left alone): legacy.orders", report.Render(), StringComparison.Ordinal);
        Assert.False(report.HasDrift);
    }

    [Fact]
    public async Task A_dry_run_creates_nothing_and_says_what_it_would_create()
    {
        var admin = new FakeTopicAdmin();
        admin.Add("billing.invoices.v1", 2);

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: true, TestContext.Current.CancellationToken);

        Assert.Empty(admin.CreateRequests);
        Assert.Single(admin.Topics);
        Assert.Equal(TopicApplyStatus.WouldCreate, report["billing.usage.v1"].Status);
        Assert.Equal(TopicApplyStatus.WouldCreate, report["md.products.v1"].Status);
        Assert.Equal(TopicApplyStatus.Drift, report["billing.invoices.v1"].Status);
        Assert.Empty(report.CreatedTopics);
        Assert.Contains("dry run", report.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_failing_create_is_failed_with_the_topic_name_and_the_others_still_get_created()
    {
        var admin = new FakeTopicAdmin();
        admin.FailCreate["billing.usage.v1"] = "PolicyViolation: partitions above quota";

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        var usage = report["billing.usage.v1"];
        Assert.Equal(TopicApplyStatus.Failed, usage.Status);
        Assert.Equal(["create topic 'billing.usage.v1' failed: PolicyViolation: partitions above quota"], usage.Details);
        Assert.Equal(["billing.invoices.v1", "md.products.v1"], report.CreatedTopics);
        Assert.True(report.HasErrors);
        Assert.DoesNotContain("billing.usage.v1", admin.Topics.Keys);
    }

    [Fact]
    public async Task A_create_request_that_throws_marks_every_pending_topic_failed_and_none_healthy()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Topics.Remove("billing.usage.v1");
        admin.Topics.Remove("md.products.v1");
        admin.ThrowOnCreate = new InvalidOperationException("broker unreachable");

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(TopicApplyStatus.Failed, report["billing.usage.v1"].Status);
        Assert.Equal(TopicApplyStatus.Failed, report["md.products.v1"].Status);
        Assert.Contains("create topic 'md.products.v1' failed: broker unreachable", report["md.products.v1"].Details[0], StringComparison.Ordinal);
        Assert.Equal(TopicApplyStatus.Exists, report["billing.invoices.v1"].Status);
        Assert.Empty(report.CreatedTopics);
    }

    [Fact]
    public async Task A_topic_the_broker_returns_no_create_result_for_is_failed_not_created()
    {
        var admin = new FakeTopicAdmin { DropCreateResultFor = "md.products.v1" };

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(TopicApplyStatus.Failed, report["md.products.v1"].Status);
        Assert.Contains("'md.products.v1'", report["md.products.v1"].Details[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_topic_created_concurrently_counts_as_existing()
    {
        var admin = new FakeTopicAdmin { AlreadyExistsOnCreate = "billing.invoices.v1" };

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(TopicApplyStatus.Exists, report["billing.invoices.v1"].Status);
        Assert.False(report.HasErrors);
    }

    [Fact]
    public async Task A_topic_whose_configs_cannot_be_read_is_failed_naming_the_topic()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.ConfigErrors["md.products.v1"] = "TopicAuthorizationFailed: denied";

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(["describe configs of topic 'md.products.v1' failed: TopicAuthorizationFailed: denied"], report["md.products.v1"].Details);
        Assert.Equal(TopicApplyStatus.Failed, report["md.products.v1"].Status);
    }

    [Fact]
    public async Task Without_describe_configs_existing_topics_say_configs_were_not_checked_and_config_differences_are_not_drift()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.ConfigsNotCheckedReason = EmbeddedTopicAdmin.NotCheckedReason;
        admin.Configs["md.products.v1"]["cleanup.policy"] = "delete";

        var report = await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.All(report.Topics, t =>
        {
            Assert.Equal(TopicApplyStatus.Exists, t.Status);
            Assert.Equal(["configs not checked (embedded broker has no DescribeConfigs/compaction)"], t.Details);
        });
        Assert.Equal(0, admin.DescribeCalls);
    }

    [Fact]
    public async Task Streams_internal_topics_are_created_by_the_same_apply_call()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        var withInternal = Manifest.With(TopicDefinition.StreamsChangelog("billing-app", "invoices-store", partitions: 6));

        var report = await TopicApplier.ApplyAsync(withInternal, admin, dryRun: false, TestContext.Current.CancellationToken);

        Assert.Equal(["billing-app-invoices-store-changelog"], report.CreatedTopics);
        Assert.Equal("compact", admin.CreateRequests.Single().Configs["cleanup.policy"]);
    }

    [Fact]
    public async Task The_rendered_report_is_a_table_with_one_row_per_topic_and_a_summary()
    {
        var admin = FakeTopicAdmin.Matching(Manifest);
        admin.Topics.Remove("md.products.v1");
        admin.Topics["billing.usage.v1"] = admin.Topics["billing.usage.v1"] with { Partitions = 8 };

        var text = (await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, TestContext.Current.CancellationToken)).ToString();

        var lines = text.Split(Environment.NewLine);
        Assert.StartsWith("Topics on fake", lines[0], StringComparison.Ordinal);
        Assert.Matches(@"^TOPIC\s+STATUS\s+DETAILS$", lines[1]);
        Assert.Matches(@"^billing\.invoices\.v1\s+EXISTS\s*$", lines[2]);
        Assert.Matches(@"^billing\.usage\.v1\s+DRIFT\s+partitions: cluster has 8", lines[3]);
        Assert.Matches(@"^md\.products\.v1\s+CREATED\s+3 partitions, RF 3, compact$", lines[4]);
        Assert.Contains("1 created, 1 exists, 1 drift, 0 unmanaged", text, StringComparison.Ordinal);
    }

    private static TopicDefinition Topic(string name, int partitions, CleanupPolicy policy, long retentionMs, params (string Key, string Value)[] configs) => new()
    {
        Name = name,
        Partitions = partitions,
        ReplicationFactor = 3,
        CleanupPolicy = policy,
        RetentionMs = retentionMs,
        MinInsyncReplicas = 2,
        Configs = configs.ToDictionary(c => c.Key, c => c.Value),
    };

    /// <summary>An in-memory cluster: topics, their configs, and switches for failures.</summary>
    private sealed class FakeTopicAdmin : ITopicAdmin
    {
        public Dictionary<string, ExistingTopic> Topics { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Dictionary<string, string?>> Configs { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> FailCreate { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, string> ConfigErrors { get; } = new(StringComparer.Ordinal);

        public List<TopicSpecification> CreateRequests { get; } = [];

        public Exception? ThrowOnCreate { get; set; }

        public string? DropCreateResultFor { get; init; }

        public string? AlreadyExistsOnCreate { get; init; }

        public int DescribeCalls { get; private set; }

        public string Target => "fake";

        public string? ConfigsNotCheckedReason { get; set; }

        public static FakeTopicAdmin Matching(TopicManifest manifest)
        {
            var admin = new FakeTopicAdmin();
            foreach (var t in manifest.Topics)
            {
                admin.Store(t.ToTopicSpecification());
            }

            return admin;
        }

        public void Add(string name, int partitions) => Store(new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = 3, Configs = [] });

        public Task<IReadOnlyList<ExistingTopic>> ListTopicsAsync(CancellationToken cancellationToken) =>
            Task.FromResult<IReadOnlyList<ExistingTopic>>(Topics.Values.ToList());

        public Task<IReadOnlyList<TopicCreateOutcome>> CreateTopicsAsync(IReadOnlyList<TopicSpecification> topics, CancellationToken cancellationToken)
        {
            if (ThrowOnCreate is not null)
            {
                throw ThrowOnCreate;
            }

            var outcomes = new List<TopicCreateOutcome>();
            foreach (var spec in topics)
            {
                CreateRequests.Add(spec);
                if (spec.Name == DropCreateResultFor)
                {
                    continue;
                }

                if (spec.Name == AlreadyExistsOnCreate)
                {
                    outcomes.Add(new TopicCreateOutcome(spec.Name, TopicCreateStatus.AlreadyExists));
                }
                else if (FailCreate.TryGetValue(spec.Name, out var error))
                {
                    outcomes.Add(new TopicCreateOutcome(spec.Name, TopicCreateStatus.Failed, error));
                }
                else
                {
                    Store(spec);
                    outcomes.Add(new TopicCreateOutcome(spec.Name, TopicCreateStatus.Created));
                }
            }

            return Task.FromResult<IReadOnlyList<TopicCreateOutcome>>(outcomes);
        }

        public Task<IReadOnlyList<TopicConfigs>> DescribeConfigsAsync(IReadOnlyList<string> topics, CancellationToken cancellationToken)
        {
            DescribeCalls++;
            return Task.FromResult<IReadOnlyList<TopicConfigs>>(topics.Select(t => ConfigErrors.TryGetValue(t, out var error)
                ? new TopicConfigs(t, new Dictionary<string, string?>(), error)
                : new TopicConfigs(t, Configs[t])).ToList());
        }

        private void Store(TopicSpecification spec)
        {
            Topics[spec.Name] = new ExistingTopic(spec.Name, spec.NumPartitions, spec.ReplicationFactor);
            // A real broker reports defaults for every config, not just the ones set at creation.
            var configs = new Dictionary<string, string?>(StringComparer.Ordinal) { ["cleanup.policy"] = "delete", ["retention.ms"] = "604800000", ["min.insync.replicas"] = "1", ["segment.bytes"] = "1073741824" };
            foreach (var (key, value) in spec.Configs ?? [])
            {
                configs[key] = value;
            }

            Configs[spec.Name] = configs;
        }
    }
}
