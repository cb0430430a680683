using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Streaming.Platform.Topics;

/// <summary><see cref="ITopicAdmin"/> over a real cluster's admin API. Creates topics; never alters or deletes them.</summary>
public sealed class KafkaTopicAdmin : ITopicAdmin, IDisposable
{
    private readonly IAdminClient _admin;
    private readonly bool _ownsClient;
    private readonly TimeSpan _timeout;

    /// <summary>Wraps an admin client the caller owns.</summary>
    public KafkaTopicAdmin(IAdminClient admin, string? target = null, TimeSpan? timeout = null)
        : this(admin, ownsClient: false, target, timeout)
    {
    }

    private KafkaTopicAdmin(IAdminClient admin, bool ownsClient, string? target, TimeSpan? timeout)
    {
        _admin = admin ?? throw new ArgumentNullException(nameof(admin));
        _ownsClient = ownsClient;
        _timeout = timeout ?? TimeSpan.FromSeconds(30);
        Target = $"kafka {target ?? admin.Name}";
    }

    /// <summary>Connects to <paramref name="bootstrapServers"/> with an admin client this instance owns and disposes.</summary>
    public static KafkaTopicAdmin Connect(string bootstrapServers, TimeSpan? timeout = null) =>
        Connect(new AdminClientConfig { BootstrapServers = bootstrapServers }, timeout);

    /// <summary>Connects with a full admin config (TLS, SASL …); the admin client is owned and disposed by this instance.</summary>
    public static KafkaTopicAdmin Connect(AdminClientConfig config, TimeSpan? timeout = null)
    {
        ArgumentNullException.ThrowIfNull(config);
        var admin = new AdminClientBuilder(config).Build();
        return new KafkaTopicAdmin(admin, ownsClient: true, config.BootstrapServers, timeout);
    }

    public string Target { get; }

    public string? ConfigsNotCheckedReason => null;

    public Task<IReadOnlyList<ExistingTopic>> ListTopicsAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var metadata = _admin.GetMetadata(_timeout);
        IReadOnlyList<ExistingTopic> topics = metadata.Topics
            .Where(t => t.Error is null || t.Error.Code == ErrorCode.NoError)
            .Select(t => new ExistingTopic(t.Topic, t.Partitions.Count, t.Partitions.Count == 0 ? null : t.Partitions.Min(p => p.Replicas.Length)))
            .ToList();
        return Task.FromResult(topics);
    }

    public async Task<IReadOnlyList<TopicCreateOutcome>> CreateTopicsAsync(IReadOnlyList<TopicSpecification> topics, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topics);
        if (topics.Count == 0)
        {
            return [];
        }

        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            await _admin.CreateTopicsAsync(topics, new CreateTopicsOptions { RequestTimeout = _timeout, OperationTimeout = _timeout }).ConfigureAwait(false);
            return topics.Select(t => new TopicCreateOutcome(t.Name, TopicCreateStatus.Created)).ToList();
        }
        catch (CreateTopicsException ex)
        {
            return ex.Results.Select(ToOutcome).ToList();
        }
    }

    /// <summary>Maps one per-topic create report; TopicAlreadyExists is not an error for an idempotent apply.</summary>
    public static TopicCreateOutcome ToOutcome(CreateTopicReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        return report.Error.Code switch
        {
            ErrorCode.NoError => new TopicCreateOutcome(report.Topic, TopicCreateStatus.Created),
            ErrorCode.TopicAlreadyExists => new TopicCreateOutcome(report.Topic, TopicCreateStatus.AlreadyExists),
            _ => new TopicCreateOutcome(report.Topic, TopicCreateStatus.Failed, $"{report.Error.Code}: {report.Error.Reason}"),
        };
    }

    public async Task<IReadOnlyList<TopicConfigs>> DescribeConfigsAsync(IReadOnlyList<string> topics, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(topics);
        if (topics.Count == 0)
        {
            return [];
        }

        cancellationToken.ThrowIfCancellationRequested();
        var resources = topics.Select(t => new ConfigResource { Type = ResourceType.Topic, Name = t }).ToList();
        try
        {
            var results = await _admin.DescribeConfigsAsync(resources, new DescribeConfigsOptions { RequestTimeout = _timeout }).ConfigureAwait(false);
            return results.Select(r => new TopicConfigs(r.ConfigResource.Name, ToValues(r.Entries))).ToList();
        }
        catch (DescribeConfigsException ex)
        {
            return ex.Results.Select(r => r.Error.Code == ErrorCode.NoError
                    ? new TopicConfigs(r.ConfigResource.Name, ToValues(r.Entries))
                    : new TopicConfigs(r.ConfigResource.Name, new Dictionary<string, string?>(), $"{r.Error.Code}: {r.Error.Reason}"))
                .ToList();
        }
    }

    private static Dictionary<string, string?> ToValues(Dictionary<string, ConfigEntryResult>? entries) =>
        entries?.ToDictionary(e => e.Key, e => (string?)e.Value.Value, StringComparer.Ordinal) ?? new Dictionary<string, string?>(StringComparer.Ordinal);

    public void Dispose()
    {
        if (_ownsClient)
        {
            _admin.Dispose();
        }
    }
}
