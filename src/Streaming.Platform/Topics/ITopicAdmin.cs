using Confluent.Kafka.Admin;

namespace Streaming.Platform.Topics;

/// <summary>The few admin operations <see cref="TopicApplier"/> needs; implemented for a real cluster and the embedded mock.</summary>
public interface ITopicAdmin
{
    /// <summary>Where topics are applied, for the report (e.g. <c>kafka broker-1:9092</c>).</summary>
    string Target { get; }

    /// <summary>Null when <see cref="DescribeConfigsAsync"/> works; otherwise why configs cannot be compared.</summary>
    string? ConfigsNotCheckedReason { get; }

    /// <summary>Every topic on the cluster, including internal ones.</summary>
    Task<IReadOnlyList<ExistingTopic>> ListTopicsAsync(CancellationToken cancellationToken);

    /// <summary>Creates the topics; returns one outcome per requested topic and never throws for a per-topic failure.</summary>
    Task<IReadOnlyList<TopicCreateOutcome>> CreateTopicsAsync(IReadOnlyList<TopicSpecification> topics, CancellationToken cancellationToken);

    /// <summary>Current config values of the topics; one result per requested topic.</summary>
    Task<IReadOnlyList<TopicConfigs>> DescribeConfigsAsync(IReadOnlyList<string> topics, CancellationToken cancellationToken);
}

/// <summary>A topic as the cluster reports it. <paramref name="ReplicationFactor"/> is null when it is not checked.</summary>
public sealed record ExistingTopic(string Name, int Partitions, int? ReplicationFactor);

/// <summary>Result of creating one topic.</summary>
public enum TopicCreateStatus
{
    Created,
    AlreadyExists,
    Failed,
}

/// <summary>Outcome of creating one topic; <paramref name="Error"/> is set when <paramref name="Status"/> is Failed.</summary>
public sealed record TopicCreateOutcome(string Topic, TopicCreateStatus Status, string? Error = null);

/// <summary>Config values of one topic as the cluster reports them, or the error that prevented reading them.</summary>
public sealed record TopicConfigs(string Topic, IReadOnlyDictionary<string, string?> Values, string? Error = null);
