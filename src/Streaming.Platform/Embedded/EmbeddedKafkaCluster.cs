using System.Collections.Concurrent;
using System.Runtime.InteropServices;
using System.Text;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Streaming.Platform.Embedded;

/// <summary>Options for <see cref="EmbeddedKafkaCluster"/>.</summary>
public sealed record EmbeddedKafkaOptions
{
    /// <summary>Number of mock brokers (ids 1..N). Three gives replication factor 3 and real leader moves.</summary>
    public int Brokers { get; init; } = 3;

    /// <summary>How often partition low watermarks are checked for data the mock silently dropped; zero disables.</summary>
    public TimeSpan WatermarkCheckInterval { get; init; } = TimeSpan.FromSeconds(5);
}

/// <summary>
/// An in-process Kafka cluster: librdkafka's mock cluster, driven by P/Invoke into the same native library
/// Confluent.Kafka uses. Real clients, real wire protocol, no installation — but not a production broker:
/// it keeps at most 5 MB or 100,000 batches per partition (older data is silently dropped; this class warns
/// when that happens), has no CreateTopics/DescribeConfigs (use <see cref="CreateTopic"/>), no compaction,
/// no SASL/SSL, and lives in memory only.
/// </summary>
public sealed class EmbeddedKafkaCluster : IMockTopicCreator, IDisposable, IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly ILogger _logger;
    private readonly ConcurrentDictionary<string, int> _topics = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<TopicPartition, long> _lowWatermarks = new();
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _watermarkMonitor;
    private IAdminClient? _watermarkAdmin;
    private IntPtr _rk;
    private IntPtr _mcluster;
    private bool _disposed;

    private EmbeddedKafkaCluster(IntPtr rk, IntPtr mcluster, EmbeddedKafkaOptions options, ILogger logger)
    {
        _rk = rk;
        _mcluster = mcluster;
        _logger = logger;
        BrokerCount = options.Brokers;
        BootstrapServers = Marshal.PtrToStringUTF8(LibrdkafkaNative.MockClusterBootstraps(mcluster))
            ?? throw new InvalidOperationException("librdkafka mock cluster returned no bootstrap servers.");
        _watermarkMonitor = options.WatermarkCheckInterval > TimeSpan.Zero
            ? Task.Run(() => MonitorWatermarksAsync(options.WatermarkCheckInterval, _stop.Token))
            : Task.CompletedTask;
    }

    /// <summary>Comma-separated <c>host:port</c> list of the mock brokers.</summary>
    public string BootstrapServers { get; }

    /// <summary>Number of brokers in the cluster; broker ids run from 1 to this number.</summary>
    public int BrokerCount { get; }

    /// <summary>Path of the native librdkafka module the cluster runs in (the one Confluent.Kafka loaded).</summary>
    public static string? NativeLibraryPath => LibrdkafkaNative.LoadedPath;

    /// <summary>Topics created through this instance, with their partition counts.</summary>
    public IReadOnlyDictionary<string, int> Topics => _topics;

    /// <summary>Raised (on a background thread) when a partition's low watermark moved: the mock dropped old data.</summary>
    public event Action<TopicPartition, long, long>? DataDropped;

    /// <summary>Starts a mock cluster.</summary>
    public static EmbeddedKafkaCluster Start(EmbeddedKafkaOptions? options = null, ILoggerFactory? loggerFactory = null)
    {
        options ??= new EmbeddedKafkaOptions();
        if (options.Brokers is < 1 or > 32)
        {
            throw new ArgumentOutOfRangeException(nameof(options), options.Brokers, "Embedded:Brokers must be between 1 and 32.");
        }

        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<EmbeddedKafkaCluster>();
        LibrdkafkaNative.EnsureInitialized();

        var errstr = new byte[512];
        var conf = LibrdkafkaNative.ConfNew();
        SetConf(conf, "client.id", "streaming-embedded-broker");
        SetConf(conf, "log_level", "4");
        LibrdkafkaLogBridge.Install(conf);
        var rk = LibrdkafkaNative.KafkaNew(LibrdkafkaNative.RdKafkaProducer, conf, errstr, (UIntPtr)errstr.Length);
        if (rk == IntPtr.Zero)
        {
            LibrdkafkaNative.ConfDestroy(conf); // ownership passes to rd_kafka_new only on success
            throw new InvalidOperationException($"Could not create the librdkafka handle for the embedded broker: {CString(errstr)}");
        }

        LibrdkafkaLogBridge.Register(rk, logger);
        var mcluster = LibrdkafkaNative.MockClusterNew(rk, options.Brokers);
        if (mcluster == IntPtr.Zero)
        {
            LibrdkafkaLogBridge.Unregister(rk);
            LibrdkafkaNative.KafkaDestroy(rk);
            throw new InvalidOperationException($"librdkafka could not start a mock cluster with {options.Brokers} broker(s).");
        }

        var cluster = new EmbeddedKafkaCluster(rk, mcluster, options, logger);
        logger.LogInformation(
            "Embedded Kafka (librdkafka mock cluster, {Brokers} brokers) listening on {Bootstrap} using {Library}. " +
            "Not a production broker: ≤5 MB or 100,000 batches per partition, no compaction, in memory only.",
            options.Brokers, cluster.BootstrapServers, NativeLibraryPath);
        return cluster;

        static void SetConf(IntPtr conf, string key, string value)
        {
            var err = new byte[512];
            if (LibrdkafkaNative.ConfSet(conf, key, value, err, (UIntPtr)err.Length) != LibrdkafkaNative.ConfOk)
            {
                throw new InvalidOperationException($"librdkafka rejected {key}={value}: {CString(err)}");
            }
        }
    }

    /// <inheritdoc />
    public void CreateTopic(string topic, int partitions, int replicationFactor)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        if (partitions < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(partitions), partitions, $"Topic '{topic}': partitions must be at least 1.");
        }

        if (replicationFactor < 1 || replicationFactor > BrokerCount)
        {
            throw new ArgumentOutOfRangeException(nameof(replicationFactor), replicationFactor,
                $"Topic '{topic}': replication factor must be between 1 and the embedded broker count ({BrokerCount}).");
        }

        lock (_gate)
        {
            var handle = Handle();
            if (_topics.TryGetValue(topic, out var existing))
            {
                if (existing != partitions)
                {
                    _logger.LogWarning("Topic {Topic} already exists on the embedded broker with {Existing} partitions; requested {Requested} ignored.", topic, existing, partitions);
                }

                return;
            }

            var err = LibrdkafkaNative.MockTopicCreate(handle, topic, partitions, replicationFactor);
            // RD_KAFKA_RESP_ERR_TOPIC_ALREADY_EXISTS (36): created earlier, e.g. auto-created by a producer.
            if (err != 0 && err != (int)ErrorCode.TopicAlreadyExists)
            {
                throw new KafkaException(new Error((ErrorCode)err, $"Embedded broker could not create topic '{topic}': {LibrdkafkaNative.ErrorText(err)}"));
            }

            _topics[topic] = partitions;
        }
    }

    /// <summary>Takes a broker down: its connections close and it refuses new ones until <see cref="SetBrokerUp"/>.</summary>
    public void SetBrokerDown(int brokerId) => Locked(() => Check(LibrdkafkaNative.MockBrokerSetDown(Handle(), ValidBroker(brokerId)), $"set broker {brokerId} down"));

    /// <summary>Brings a broker taken down by <see cref="SetBrokerDown"/> back.</summary>
    public void SetBrokerUp(int brokerId) => Locked(() => Check(LibrdkafkaNative.MockBrokerSetUp(Handle(), ValidBroker(brokerId)), $"set broker {brokerId} up"));

    /// <summary>Adds a round-trip delay to every response of a broker (zero removes it).</summary>
    public void SetBrokerRoundTripTime(int brokerId, TimeSpan rtt)
        => Locked(() => Check(LibrdkafkaNative.MockBrokerSetRtt(Handle(), ValidBroker(brokerId), checked((int)rtt.TotalMilliseconds)), $"set broker {brokerId} RTT"));

    /// <summary>Makes the next requests of the given Kafka API (e.g. 0 = Produce, 1 = Fetch) fail with these errors, one per request, on any broker.</summary>
    public void PushRequestErrors(short apiKey, params ErrorCode[] errors)
    {
        ArgumentNullException.ThrowIfNull(errors);
        var codes = errors.Select(e => (int)e).ToArray();
        lock (_gate)
        {
            LibrdkafkaNative.MockPushRequestErrorsArray(Handle(), apiKey, (UIntPtr)codes.Length, codes);
        }
    }

    /// <summary>Clears errors pushed with <see cref="PushRequestErrors"/> for one API.</summary>
    public void ClearRequestErrors(short apiKey)
    {
        lock (_gate)
        {
            LibrdkafkaNative.MockClearRequestErrors(Handle(), apiKey);
        }
    }

    /// <summary>Sets the coordinator's <c>group.initial.rebalance.delay.ms</c> (how long the first join of an empty group waits for more members; mock default 3 s).</summary>
    public void SetGroupInitialRebalanceDelay(TimeSpan delay)
    {
        lock (_gate)
        {
            LibrdkafkaNative.MockGroupInitialRebalanceDelayMs(Handle(), checked((int)delay.TotalMilliseconds));
        }
    }

    /// <summary>Moves a partition's leadership to a broker.</summary>
    public void SetPartitionLeader(string topic, int partition, int brokerId)
        => Locked(() => Check(LibrdkafkaNative.MockPartitionSetLeader(Handle(), topic, partition, ValidBroker(brokerId)), $"move leader of {topic}[{partition}]"));

    /// <summary>Makes every request for a topic fail with an error, until set back to <see cref="ErrorCode.NoError"/>.</summary>
    public void SetTopicError(string topic, ErrorCode error)
    {
        lock (_gate)
        {
            LibrdkafkaNative.MockTopicSetError(Handle(), topic, (int)error);
        }
    }

    /// <summary>Runs one low-watermark check now (the monitor also runs on its own timer).</summary>
    public async Task CheckWatermarksAsync(CancellationToken cancellationToken = default)
    {
        var partitions = _topics.SelectMany(t => Enumerable.Range(0, t.Value).Select(p => new TopicPartition(t.Key, p))).ToList();
        if (partitions.Count == 0)
        {
            return;
        }

        var admin = WatermarkAdmin();
        var result = await admin.ListOffsetsAsync(
            partitions.Select(tp => new TopicPartitionOffsetSpec { TopicPartition = tp, OffsetSpec = OffsetSpec.Earliest() }),
            new ListOffsetsOptions { RequestTimeout = TimeSpan.FromSeconds(10) }).WaitAsync(cancellationToken).ConfigureAwait(false);
        foreach (var info in result.ResultInfos)
        {
            var tpo = info.TopicPartitionOffsetError;
            if (tpo.Error.IsError || tpo.Offset.IsSpecial)
            {
                continue;
            }

            var low = tpo.Offset.Value;
            var previous = _lowWatermarks.GetOrAdd(tpo.TopicPartition, 0);
            if (low > previous)
            {
                _lowWatermarks[tpo.TopicPartition] = low;
                _logger.LogWarning(
                    "Embedded broker dropped data: topic {Topic} partition {Partition} low watermark moved from {Previous} to {Low}. " +
                    "The librdkafka mock cluster keeps at most 5 MB or 100,000 batches per partition; use a real broker for this volume.",
                    tpo.Topic, tpo.Partition.Value, previous, low);
                DataDropped?.Invoke(tpo.TopicPartition, previous, low);
            }
        }
    }

    // One admin client for every check, created on first use: a new client every few seconds would mean new
    // threads and connections each time.
    private IAdminClient WatermarkAdmin()
    {
        lock (_gate)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _watermarkAdmin ??= new AdminClientBuilder(new AdminClientConfig
            {
                BootstrapServers = BootstrapServers,
                ClientId = "streaming-embedded-watermark-monitor",
                LogConnectionClose = false,
            }).SetLogHandler((_, _) => { }).Build();
        }
    }

    private async Task MonitorWatermarksAsync(TimeSpan interval, CancellationToken stop)
    {
        using var timer = new PeriodicTimer(interval);
        try
        {
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false))
            {
                try
                {
                    await CheckWatermarksAsync(stop).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    _logger.LogDebug(ex, "Embedded broker watermark check failed; will retry.");
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    // Every native call holds the gate, so it cannot race Dispose into a destroyed cluster.
    private void Locked(Action action)
    {
        lock (_gate)
        {
            action();
        }
    }

    private int ValidBroker(int brokerId) => brokerId >= 1 && brokerId <= BrokerCount
        ? brokerId
        : throw new ArgumentOutOfRangeException(nameof(brokerId), brokerId, $"Embedded broker ids run from 1 to {BrokerCount}.");

    private static void Check(int err, string what)
    {
        if (err != 0)
        {
            throw new KafkaException(new Error((ErrorCode)err, $"Embedded broker could not {what}: {LibrdkafkaNative.ErrorText(err)}"));
        }
    }

    private IntPtr Handle()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        return _mcluster;
    }

    private static string CString(byte[] bytes)
    {
        var end = Array.IndexOf(bytes, (byte)0);
        return Encoding.UTF8.GetString(bytes, 0, end < 0 ? bytes.Length : end);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        try
        {
            await _watermarkMonitor.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }

        Dispose();
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            if (_disposed)
            {
                return;
            }

            _disposed = true;
            _stop.Cancel();
            _watermarkAdmin?.Dispose();
            _watermarkAdmin = null;
            LibrdkafkaNative.MockClusterDestroy(_mcluster);
            LibrdkafkaLogBridge.Unregister(_rk);
            LibrdkafkaNative.KafkaDestroy(_rk);
            _mcluster = IntPtr.Zero;
            _rk = IntPtr.Zero;
        }

        _stop.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Last-resort release of the native cluster if the owner forgot to dispose.</summary>
    ~EmbeddedKafkaCluster()
    {
        if (!_disposed && _mcluster != IntPtr.Zero)
        {
            LibrdkafkaNative.MockClusterDestroy(_mcluster);
            LibrdkafkaNative.KafkaDestroy(_rk);
        }
    }
}
