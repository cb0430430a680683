using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Prometheus;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Serialization;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Posting;

/// <summary>Settings of <see cref="GlMappingFollower"/>.</summary>
public sealed record GlMappingFollowerOptions
{
    /// <summary>Longest the start-up read of <c>md.gl-mappings.v1</c> to its end may take.</summary>
    public TimeSpan InitialLoadTimeout { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>How often the follower looks for the topic (when it did not exist at start) or for partitions added to it.</summary>
    public TimeSpan PartitionRefresh { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Consumer group id the reader sets (it never commits: every start reads the compacted topic from its beginning).</summary>
    public string GroupId { get; init; } = "streaming-sink-gl-mappings-reader";
}

/// <summary>
/// Following <c>md.gl-mappings.v1</c> failed (fatal consumer error, a mapping that cannot be read): the chart may be stale,
/// so no journal is built with it. The sink stops; a restart reads the topic again and names the bad record.
/// </summary>
public sealed class GlMappingsUnavailableException(string message) : Exception(message);

/// <summary>
/// The chart of accounts from <c>md.gl-mappings.v1</c>, kept current. <see cref="Start"/> reads the compacted topic from its
/// beginning to its end (latest per key; tombstones remove) before it returns; a background reader then applies every later
/// change, publishing a new immutable chart each time, so a mapping added or changed on the topic applies to the journals
/// built after it arrives. Entities without any mapping use the fallback chart.
/// </summary>
public sealed class GlMappingFollower : IChartOfAccountsProvider, IDisposable
{
    private static readonly Gauge Loaded = Metrics.CreateGauge("streaming_sink_gl_mappings_loaded", "GL mappings from md.gl-mappings.v1 in the sink's chart of accounts.");
    private static readonly Counter Changes = Metrics.CreateCounter("streaming_sink_gl_mapping_changes_total",
        "GL mappings added, changed or removed on md.gl-mappings.v1 while the sink runs.", "change");

    private const int MaxChangesPerSwap = 1_000;

    private readonly GlMappingChartOfAccounts _chart;
    private readonly IConsumer<string, byte[]> _consumer;
    private readonly IAdminClient _admin;
    private readonly AvroSerdes<GlMapping> _serdes;
    private readonly GlMappingFollowerOptions _options;
    private readonly ILogger _logger;
    private readonly HashSet<int> _assigned = [];
    private readonly CancellationTokenSource _stop = new();
    private Task _following = Task.CompletedTask;
    private volatile string? _failure;
    private long _changes;

    private GlMappingFollower(ConsumerConfig consumerConfig, ISchemaRegistryClient registry, IChartOfAccounts? fallback, GlMappingFollowerOptions options, ILogger logger)
    {
        _chart = new GlMappingChartOfAccounts(fallback);
        _serdes = new AvroSerdes<GlMapping>(registry);
        _options = options;
        _logger = logger;
        var config = new ConsumerConfig(new Dictionary<string, string>(consumerConfig))
        {
            GroupId = options.GroupId, EnableAutoCommit = false, EnableAutoOffsetStore = false, EnablePartitionEof = true,
        };
        _consumer = new ConsumerBuilder<string, byte[]>(config)
            .SetErrorHandler((_, e) => _logger.LogWarning("{Topic} reader error {Code}: {Reason}", Topics.GlMappings, e.Code, e.Reason))
            .Build();
        _admin = new DependentAdminClientBuilder(_consumer.Handle).Build();
    }

    /// <summary>Mappings in the chart now.</summary>
    public int Count => _chart.Count;

    /// <summary>Mappings added, changed or removed since start-up.</summary>
    public long ChangesApplied => Interlocked.Read(ref _changes);

    /// <summary>The background reader: completes when disposed, faults when following failed.</summary>
    public Task Completion => _following;

    /// <inheritdoc />
    /// <exception cref="GlMappingsUnavailableException">Following the topic failed; the chart may be stale.</exception>
    public IChartOfAccounts Current => _failure is { } failure
        ? throw new GlMappingsUnavailableException($"GL mappings are no longer followed ({failure}); not building journals with a possibly stale chart.")
        : _chart.Current;

    /// <summary>
    /// Reads every mapping present now, then keeps following the topic in the background. A missing topic means no mappings
    /// yet (everything falls back) and is looked for again every <see cref="GlMappingFollowerOptions.PartitionRefresh"/>.
    /// </summary>
    /// <exception cref="TimeoutException">The topic was not read to its end within <see cref="GlMappingFollowerOptions.InitialLoadTimeout"/>.</exception>
    /// <exception cref="InvalidDataException">A mapping record cannot be deserialized (its coordinates are named).</exception>
    public static GlMappingFollower Start(ConsumerConfig consumerConfig, ISchemaRegistryClient registry, IChartOfAccounts? fallback, ILogger logger,
        CancellationToken cancellationToken, GlMappingFollowerOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(consumerConfig);
        ArgumentNullException.ThrowIfNull(logger);
        var follower = new GlMappingFollower(consumerConfig, registry, fallback, options ?? new GlMappingFollowerOptions(), logger);
        try
        {
            follower.LoadToEnd(cancellationToken);
        }
        catch
        {
            follower.Dispose();
            throw;
        }

        follower._following = Task.Factory.StartNew(follower.Follow, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        return follower;
    }

    private void LoadToEnd(CancellationToken cancellationToken)
    {
        var pending = AssignNewPartitions();
        if (pending is null)
        {
            _logger.LogWarning("{Topic} not found: every legal entity uses the default chart of accounts until it appears", Topics.GlMappings);
            Loaded.Set(0);
            return;
        }

        var changes = new List<(string, GlMapping?)>();
        var deadline = DateTime.UtcNow + _options.InitialLoadTimeout;
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Reading {Topics.GlMappings} to its end took more than {_options.InitialLoadTimeout.TotalSeconds:0} s; partitions left: {string.Join(",", pending)}.");
            }

            var r = _consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null)
            {
                continue;
            }

            if (r.IsPartitionEOF)
            {
                pending.Remove(r.Partition.Value);
                continue;
            }

            if (Read(r) is { } change)
            {
                changes.Add(change);
            }
        }

        _chart.ApplyAll(changes);
        Loaded.Set(_chart.Count);
        _logger.LogInformation("GL accounts: {Count} mappings from {Topic}; entities without mappings use the default chart; following later changes",
            _chart.Count, Topics.GlMappings);
    }

    /// <summary>Assigns partitions not yet assigned, from their beginning; returns the non-empty ones among them, or null when the topic does not exist.</summary>
    private HashSet<int>? AssignNewPartitions()
    {
        var metadata = _admin.GetMetadata(Topics.GlMappings, TimeSpan.FromSeconds(10)).Topics.SingleOrDefault(t => t.Topic == Topics.GlMappings);
        if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
        {
            return null;
        }

        var nonEmpty = new HashSet<int>();
        var added = new List<TopicPartitionOffset>();
        foreach (var p in metadata.Partitions.Where(p => !_assigned.Contains(p.PartitionId)))
        {
            var tp = new TopicPartition(Topics.GlMappings, p.PartitionId);
            var marks = _consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10));
            if (marks.High > marks.Low)
            {
                nonEmpty.Add(p.PartitionId);
            }

            added.Add(new TopicPartitionOffset(tp, Offset.Beginning));
            _assigned.Add(p.PartitionId);
        }

        if (added.Count > 0)
        {
            _consumer.IncrementalAssign(added);
        }

        return nonEmpty;
    }

    private void Follow()
    {
        var token = _stop.Token;
        var nextRefresh = DateTime.UtcNow + _options.PartitionRefresh;
        try
        {
            while (!token.IsCancellationRequested)
            {
                if (DateTime.UtcNow >= nextRefresh)
                {
                    if (AssignNewPartitions() is { Count: > 0 } appeared)
                    {
                        _logger.LogInformation("{Topic}: reading new partitions {Partitions}", Topics.GlMappings, string.Join(",", appeared));
                    }

                    nextRefresh = DateTime.UtcNow + _options.PartitionRefresh;
                }

                // A burst of changes (a reload of the whole topic) becomes one new chart, not one per record.
                var changes = new List<(string MappingId, GlMapping? Mapping)>();
                var wait = TimeSpan.FromMilliseconds(250);
                while (changes.Count < MaxChangesPerSwap && Consume(wait) is { } r)
                {
                    wait = TimeSpan.Zero;
                    if (!r.IsPartitionEOF && Read(r) is { } change)
                    {
                        changes.Add(change);
                    }
                }

                if (changes.Count > 0)
                {
                    Publish(changes);
                }
            }
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !token.IsCancellationRequested)
        {
            _failure = $"{ex.GetType().Name}: {ex.Message}";
            _logger.LogCritical(ex, "Following {Topic} failed; the posting sink builds no more journals until it is restarted", Topics.GlMappings);
            throw;
        }
    }

    private ConsumeResult<string, byte[]>? Consume(TimeSpan wait)
    {
        try
        {
            return _consumer.Consume(wait);
        }
        catch (ConsumeException ex) when (!ex.Error.IsFatal)
        {
            _logger.LogWarning("{Topic} consume failed ({Reason}); retrying", Topics.GlMappings, ex.Error.Reason);
            return null;
        }
    }

    private void Publish(List<(string MappingId, GlMapping? Mapping)> changes)
    {
        var replaced = _chart.ApplyAll(changes);
        Loaded.Set(_chart.Count);
        for (var i = 0; i < changes.Count; i++)
        {
            var (id, mapping) = changes[i];
            var previous = replaced[i];
            // Mapping ids, entities, roles and account numbers only: a chart of accounts carries no personal data.
            if (mapping is null)
            {
                if (previous is not null)
                {
                    Record("removed");
                    _logger.LogInformation("GL mapping {MappingId} removed (entity {Entity}, role {Role}, was account {Account})",
                        id, previous.legalEntityId, previous.accountRole, previous.glAccountNumber);
                }
            }
            else if (previous is null)
            {
                Record("added");
                _logger.LogInformation("GL mapping {MappingId} added: entity {Entity}, role {Role}, jurisdiction {Jurisdiction}, product kind {ProductKind} -> account {Account}",
                    id, mapping.legalEntityId, mapping.accountRole, mapping.jurisdictionCode ?? "-", mapping.productKind?.ToString() ?? "-", mapping.glAccountNumber);
            }
            else if (!SameAccount(previous, mapping))
            {
                Record("changed");
                _logger.LogInformation("GL mapping {MappingId} changed: entity {Entity}, role {Role}, jurisdiction {Jurisdiction}, product kind {ProductKind}, account {Previous} -> {Account}",
                    id, mapping.legalEntityId, mapping.accountRole, mapping.jurisdictionCode ?? "-", mapping.productKind?.ToString() ?? "-", previous.glAccountNumber, mapping.glAccountNumber);
            }
        }
    }

    private void Record(string change)
    {
        Interlocked.Increment(ref _changes);
        Changes.WithLabels(change).Inc();
    }

    private static bool SameAccount(GlMapping a, GlMapping b)
        => a.legalEntityId == b.legalEntityId && a.accountRole == b.accountRole && a.productKind == b.productKind
           && a.jurisdictionCode == b.jurisdictionCode && a.glAccountNumber == b.glAccountNumber;

    /// <summary>The change a record carries (mapping id, mapping or null for a tombstone); null for a record without an id.</summary>
    private (string, GlMapping?)? Read(ConsumeResult<string, byte[]> r)
    {
        GlMapping? value;
        try
        {
            value = r.Message.Value is null ? null : _serdes.DeserializeValue(r.Message.Value, Topics.GlMappings);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidDataException($"{Topics.GlMappings} record at {r.TopicPartitionOffset} (key '{r.Message.Key}') is not a GL mapping: {ex.Message}", ex);
        }

        return (value?.mappingId ?? r.Message.Key) is { Length: > 0 } id ? (id, value) : null;
    }

    /// <summary>Stops following and closes the reader.</summary>
    public void Dispose()
    {
        _stop.Cancel();
        try
        {
            _following.Wait(TimeSpan.FromSeconds(10));
        }
        catch (AggregateException)
        {
            // Already logged by the reader; Current reports it.
        }

        try
        {
            _consumer.Close();
        }
        catch (KafkaException ex)
        {
            _logger.LogDebug("{Topic} reader did not close cleanly: {Reason}", Topics.GlMappings, ex.Error.Reason);
        }

        _admin.Dispose();
        _consumer.Dispose();
        _stop.Dispose();
    }
}
