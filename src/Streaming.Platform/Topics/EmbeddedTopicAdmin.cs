using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Streaming.Platform.Embedded;

namespace Streaming.Platform.Topics;

/// <summary>
/// <see cref="ITopicAdmin"/> for the in-process librdkafka mock cluster. The mock answers Metadata but has no
/// CreateTopics or DescribeConfigs, so topics are created through <see cref="IMockTopicCreator"/> and configs
/// (including compaction, which the mock does not implement) are reported as not checked.
/// </summary>
public sealed class EmbeddedTopicAdmin : ITopicAdmin, IDisposable
{
    /// <summary>The note every existing topic carries on the embedded broker.</summary>
    public const string NotCheckedReason = "embedded broker has no DescribeConfigs/compaction";

    private readonly IMockTopicCreator _creator;
    private readonly IAdminClient _admin;
    private readonly TimeSpan _timeout;

    public EmbeddedTopicAdmin(IMockTopicCreator creator, TimeSpan? timeout = null)
    {
        _creator = creator ?? throw new ArgumentNullException(nameof(creator));
        _timeout = timeout ?? TimeSpan.FromSeconds(10);
        _admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = creator.BootstrapServers }).Build();
    }

    public string Target => $"embedded mock cluster {_creator.BootstrapServers}";

    public string? ConfigsNotCheckedReason => NotCheckedReason;

    public Task<IReadOnlyList<ExistingTopic>> ListTopicsAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var metadata = _admin.GetMetadata(_timeout);
        // Replication is not compared: the mock may have fewer brokers than the manifest's replication factor.
        IReadOnlyList<ExistingTopic> topics = metadata.Topics
            .Where(t => t.Error is null || t.Error.Code == ErrorCode.NoError)
            .Select(t => new ExistingTopic(t.Topic, t.Partitions.Count, ReplicationFactor: null))
            .ToList();
        return Task.FromResult(topics);
    }

    public Task<IReadOnlyList<TopicCreateOutcome>> CreateTopicsAsync(IReadOnlyList<TopicSpecification> topics, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topics);
        var brokers = Math.Max(1, _admin.GetMetadata(_timeout).Brokers.Count);
        var outcomes = new List<TopicCreateOutcome>(topics.Count);
        foreach (var topic in topics)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                // A replication factor above the mock's broker count cannot be placed; cap it instead of failing.
                _creator.CreateTopic(topic.Name, topic.NumPartitions, Math.Min((int)topic.ReplicationFactor, brokers));
                outcomes.Add(new TopicCreateOutcome(topic.Name, TopicCreateStatus.Created));
            }
#pragma warning disable CA1031 // one topic's failure is reported per topic; the rest are still attempted
            catch (Exception ex)
#pragma warning restore CA1031
            {
                outcomes.Add(new TopicCreateOutcome(topic.Name, TopicCreateStatus.Failed, ex.Message));
            }
        }

        return Task.FromResult<IReadOnlyList<TopicCreateOutcome>>(outcomes);
    }

    public Task<IReadOnlyList<TopicConfigs>> DescribeConfigsAsync(IReadOnlyList<string> topics, CancellationToken cancellationToken) =>
        throw new NotSupportedException($"Cannot describe configs: {NotCheckedReason}.");

    public void Dispose() => _admin.Dispose();
}
