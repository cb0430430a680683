using Streaming.Platform.Topics;

namespace Streaming.IntegrationTests;

/// <summary>
/// The project topic manifest against the chosen broker: the fixture's start-up apply created every topic with its
/// partition count, and applying again changes nothing. Topic configs are not compared on the embedded broker (no DescribeConfigs).
/// </summary>
public sealed class TopicManifestApplyTests(KafkaStackFixture stack)
{
    [Fact]
    public void Every_manifest_topic_exists_with_its_partition_count()
    {
        var actual = stack.TopicPartitionCounts();
        Assert.NotEmpty(stack.Manifest.Topics);
        Assert.Contains(stack.Manifest.Topics, t => t.Name == Streaming.Contracts.Topics.BillingInvoices);
        Assert.All(stack.Manifest.Topics, topic =>
        {
            Assert.True(actual.TryGetValue(topic.Name, out var partitions), $"topic {topic.Name} is missing from metadata");
            Assert.Equal(topic.Partitions, partitions);
        });
    }

    [Fact]
    public void Start_up_apply_reported_no_errors()
    {
        var report = Assert.IsType<TopicApplyReport>(stack.InitialApply);
        Assert.False(report.HasErrors, report.Render());
        Assert.Equal(stack.Manifest.Topics.Count, report.Topics.Count);
        Assert.All(report.Topics, t => Assert.Contains(t.Status, new[] { TopicApplyStatus.Created, TopicApplyStatus.Exists }));
    }

    [Fact]
    public async Task Second_apply_reports_every_topic_as_existing_and_creates_none()
    {
        var report = await stack.ApplyManifestAsync(TestContext.Current.CancellationToken);

        Assert.False(report.HasErrors, report.Render());
        Assert.False(report.HasDrift, report.Render());
        Assert.Empty(report.CreatedTopics);
        Assert.Equal(stack.Manifest.Topics.Select(t => t.Name), report.Topics.Select(t => t.Topic));
        Assert.All(report.Topics, t => Assert.Equal(TopicApplyStatus.Exists, t.Status));
    }
}
