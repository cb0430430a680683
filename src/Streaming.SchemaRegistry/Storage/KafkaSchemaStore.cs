using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Streaming.SchemaRegistry.Storage;

/// <summary>Options for <see cref="KafkaSchemaStore"/>.</summary>
public sealed class KafkaSchemaStoreOptions
{
    /// <summary>Kafka bootstrap servers.</summary>
    public required string BootstrapServers { get; init; }

    /// <summary>The store topic: compacted, exactly one partition (Confluent's default name).</summary>
    public string Topic { get; init; } = "_schemas";

    /// <summary>Global compatibility level until a config record sets one.</summary>
    public string DefaultCompatibility { get; init; } = "BACKWARD";

    /// <summary>Extra librdkafka settings (security etc.) applied to the producer, consumer and admin client.</summary>
    public IReadOnlyDictionary<string, string> KafkaSettings { get; init; } = new Dictionary<string, string>();

    /// <summary>
    /// Creates the topic when it is missing. Default: the admin API (compact, 1 partition, replication min(3, brokers)).
    /// The embedded mock cluster has no admin API; pass its <c>CreateTopic</c> instead.
    /// </summary>
    public Func<CancellationToken, Task>? EnsureTopic { get; init; }

    /// <summary>
    /// Options for the embedded mock cluster, which has no admin API: the topic is created through the mock's own API
    /// (1 partition, replication min(3, brokers)); it does not compact, which only costs space there.
    /// </summary>
    public static KafkaSchemaStoreOptions ForEmbedded(Platform.Embedded.IMockTopicCreator cluster, int brokers)
    {
        ArgumentNullException.ThrowIfNull(cluster);
        return new KafkaSchemaStoreOptions
        {
            BootstrapServers = cluster.BootstrapServers,
            EnsureTopic = _ =>
            {
                cluster.CreateTopic("_schemas", 1, Math.Min(3, brokers));
                return Task.CompletedTask;
            },
        };
    }

    /// <summary>How long start-up may take to read the topic to its end, and a write to come back.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// <see cref="ISchemaStore"/> over a compacted Kafka topic, as Confluent Schema Registry keeps its state: on start the
/// topic is read to its end; every write is produced to the topic and counts only once this instance's own consumer
/// has read it back, so all instances on one cluster apply the same records in the same order and agree, and ids
/// survive restarts. Permanent deletes are tombstones.
/// </summary>
public sealed class KafkaSchemaStore : ISchemaStore
{
    private readonly KafkaSchemaStoreOptions _options;
    private readonly ILogger _log;
    private readonly IProducer<string, string?> _producer;
    private readonly IConsumer<string, string?> _consumer;
    private readonly TopicPartition _partition;
    private readonly CancellationTokenSource _stop = new();
    private readonly Lock _gate = new();
    private readonly List<(long Offset, TaskCompletionSource<bool> Done, bool ExactOffset)> _waiters = [];
    // Whether each recently read record was applied: a writer's consumer may read its record before the produce call returns.
    private readonly Dictionary<long, bool> _recentResults = [];
    private readonly Queue<long> _recentOrder = new();
    private Task _loop = Task.CompletedTask;
    private long _position; // next offset to read
    private Exception? _failure;

    private KafkaSchemaStore(KafkaSchemaStoreOptions options, ILogger log)
    {
        _options = options;
        _log = log;
        _partition = new TopicPartition(options.Topic, 0);
        State = new RegistryState(options.DefaultCompatibility);
        _producer = new ProducerBuilder<string, string?>(new ProducerConfig(options.KafkaSettings.ToDictionary())
        {
            BootstrapServers = options.BootstrapServers,
            Acks = Acks.All,
            EnableIdempotence = true,
            LingerMs = 0,
            ClientId = "schema-registry",
        }).Build();
        _consumer = new ConsumerBuilder<string, string?>(new ConsumerConfig(options.KafkaSettings.ToDictionary())
        {
            BootstrapServers = options.BootstrapServers,
            GroupId = "schema-registry-" + Guid.NewGuid().ToString("N"), // never joins: partitions are assigned, offsets never committed
            EnableAutoCommit = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            // A write counts once it is read back: do not let the fetch long-poll sit on it (the topic is tiny).
            FetchWaitMaxMs = 20,
            ClientId = "schema-registry",
        }).Build();
    }

    /// <inheritdoc />
    public RegistryState State { get; }

    /// <summary>Records applied so far (the next offset to read).</summary>
    public long Position => Interlocked.Read(ref _position);

    /// <summary>Creates the topic when missing, reads it to its end and returns the store, ready to serve.</summary>
    public static async Task<KafkaSchemaStore> StartAsync(KafkaSchemaStoreOptions options, ILogger? log = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        var store = new KafkaSchemaStore(options, log ?? NullLogger.Instance);
        try
        {
            await (options.EnsureTopic ?? store.CreateTopicWithAdminAsync)(cancellationToken).ConfigureAwait(false);
            store._consumer.Assign(new TopicPartitionOffset(store._partition, Offset.Beginning));
            store._loop = Task.Factory.StartNew(store.ConsumeLoop, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.Timeout);
            await store.CatchUpAsync(timeout.Token).ConfigureAwait(false);
            store._log.LogInformation("Schema store: read {Records} records of {Topic}, {Schemas} schemas", store.Position, options.Topic, store.State.SchemaCount);
            return store;
        }
        catch
        {
            await store.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <inheritdoc />
    public async ValueTask CatchUpAsync(CancellationToken cancellationToken)
    {
        ThrowIfFailed();
        var end = await Task.Run(() => _consumer.QueryWatermarkOffsets(_partition, _options.Timeout).High.Value, cancellationToken).ConfigureAwait(false);
        await WaitForAsync(end, exact: false, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async ValueTask<bool> AppendAsync(RegistryRecord record, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(record);
        ThrowIfFailed();
        DeliveryResult<string, string?> delivered;
        try
        {
            delivered = await _producer.ProduceAsync(_options.Topic, new Message<string, string?> { Key = record.Key, Value = record.Value }, cancellationToken)
                .ConfigureAwait(false);
        }
        catch (ProduceException<string, string?> ex)
        {
            throw SchemaRegistryError.StoreError($"writing to {_options.Topic} failed: {ex.Error.Code}: {ex.Error.Reason}");
        }

        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_options.Timeout);
        try
        {
            return await WaitForAsync(delivered.Offset.Value, exact: true, timeout.Token).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            throw SchemaRegistryError.StoreError($"record written to {_options.Topic} at offset {delivered.Offset.Value} was not read back within {_options.Timeout}");
        }
    }

    private Task<bool> WaitForAsync(long offset, bool exact, CancellationToken cancellationToken)
    {
        var done = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            if (_failure is not null)
            {
                return Task.FromException<bool>(_failure);
            }

            if (!exact && _position >= offset)
            {
                return Task.FromResult(true);
            }

            if (exact && _position > offset)
            {
                return _recentResults.TryGetValue(offset, out var applied)
                    ? Task.FromResult(applied)
                    : Task.FromException<bool>(SchemaRegistryError.StoreError($"the outcome of {_options.Topic} offset {offset} is no longer known"));
            }

            _waiters.Add((offset, done, exact));
        }

        return done.Task.WaitAsync(cancellationToken);
    }

    private void ConsumeLoop()
    {
        try
        {
            while (!_stop.IsCancellationRequested)
            {
                ConsumeResult<string, string?>? result;
                try
                {
                    result = _consumer.Consume(TimeSpan.FromMilliseconds(200));
                }
                catch (ConsumeException ex) when (!ex.Error.IsFatal)
                {
                    _log.LogWarning("Schema store: consuming {Topic} failed, retrying: {Code}: {Reason}", _options.Topic, ex.Error.Code, ex.Error.Reason);
                    continue;
                }

                if (result?.Message is null)
                {
                    continue;
                }

                var applied = false;
                try
                {
                    var record = RegistryRecord.Parse(result.Message.Key, result.Message.Value);
                    applied = record is not null && State.Apply(record);
                    if (record is not null && !applied)
                    {
                        _log.LogInformation("Schema store: {Key} at offset {Offset} lost to an earlier record and was ignored", result.Message.Key, result.Offset.Value);
                    }
                }
                catch (Exception ex) when (ex is InvalidDataException or System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
                {
                    _log.LogWarning("Schema store: skipping unreadable record at {Topic} offset {Offset}: {Message}", _options.Topic, result.Offset.Value, ex.Message);
                }

                Advance(result.Offset.Value, applied);
            }
        }
        catch (Exception ex) when (ex is KafkaException or ObjectDisposedException)
        {
            _log.LogError(ex, "Schema store: consumer of {Topic} stopped", _options.Topic);
            Fail(ex);
        }
    }

    private void Advance(long offset, bool applied)
    {
        List<(TaskCompletionSource<bool> Done, bool Result)> ready = [];
        lock (_gate)
        {
            _position = offset + 1;
            _recentResults[offset] = applied;
            _recentOrder.Enqueue(offset);
            if (_recentOrder.Count > 10_000)
            {
                _recentResults.Remove(_recentOrder.Dequeue());
            }
            for (var i = _waiters.Count - 1; i >= 0; i--)
            {
                var w = _waiters[i];
                if (w.ExactOffset ? w.Offset <= offset : w.Offset <= _position)
                {
                    ready.Add((w.Done, !w.ExactOffset || w.Offset != offset || applied));
                    _waiters.RemoveAt(i);
                }
            }
        }

        foreach (var (done, result) in ready)
        {
            done.TrySetResult(result);
        }
    }

    private void Fail(Exception ex)
    {
        List<TaskCompletionSource<bool>> waiting;
        lock (_gate)
        {
            _failure ??= ex;
            waiting = [.. _waiters.Select(w => w.Done)];
            _waiters.Clear();
        }

        foreach (var w in waiting)
        {
            w.TrySetException(ex);
        }
    }

    private void ThrowIfFailed()
    {
        if (_failure is { } failure)
        {
            throw SchemaRegistryError.StoreError($"the {_options.Topic} consumer stopped: {failure.Message}");
        }
    }

    private async Task CreateTopicWithAdminAsync(CancellationToken cancellationToken)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig(_options.KafkaSettings.ToDictionary()) { BootstrapServers = _options.BootstrapServers }).Build();
        // Metadata for all topics: asking for the one topic could auto-create it (uncompacted) on a broker that allows that.
        var metadata = admin.GetMetadata(_options.Timeout);
        var topic = metadata.Topics.FirstOrDefault(t => t.Topic == _options.Topic);
        if (topic is { Error.IsError: false } && topic.Partitions.Count > 0)
        {
            if (topic.Partitions.Count != 1)
            {
                throw new InvalidOperationException($"Schema store topic '{_options.Topic}' has {topic.Partitions.Count} partitions; it must have exactly 1.");
            }

            return;
        }

        try
        {
            await admin.CreateTopicsAsync(
            [
                new TopicSpecification
                {
                    Name = _options.Topic,
                    NumPartitions = 1,
                    ReplicationFactor = (short)Math.Min(3, metadata.Brokers.Count),
                    Configs = new Dictionary<string, string> { ["cleanup.policy"] = "compact" },
                },
            ]).WaitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.TopicAlreadyExists or ErrorCode.NoError))
        {
            // Another instance created it first.
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync().ConfigureAwait(false);
        await _loop.ConfigureAwait(false);
        Fail(new ObjectDisposedException(nameof(KafkaSchemaStore)));
        try
        {
            _consumer.Close();
        }
        catch (KafkaException ex)
        {
            _log.LogDebug("Schema store: closing the consumer: {Message}", ex.Message);
        }

        _consumer.Dispose();
        _producer.Flush(TimeSpan.FromSeconds(5));
        _producer.Dispose();
        _stop.Dispose();
    }
}
