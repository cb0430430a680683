using System.Collections.Concurrent;
using Confluent.Kafka;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Kafka;
using StreamizMetrics = Streamiz.Kafka.Net.Metrics;

namespace Streaming.Processors.Hosting;

/// <summary>
/// The Streamiz client supplier of our hosts. Every client is created by Streamiz's default supplier; two are wrapped:
/// <list type="bullet">
/// <item>Producers record the input offsets an exactly-once topology commits (<see cref="TransactionalOffsets"/>): the
/// offsets each transactional producer sends with <c>SendOffsetsToTransaction</c> count once its <c>CommitTransaction</c>
/// returns, and are dropped when the transaction aborts. Under exactly-once these offsets are the topology's progress.
/// They are needed because the librdkafka mock cluster accepts TxnOffsetCommit without storing the offsets, so neither
/// the admin API nor a consumer's <c>Committed()</c> ever shows them on the embedded broker (on a real cluster both do,
/// once the transaction commits).</item>
/// <item>Producers get delivery reports without the record's value (<see cref="DeliveryReportFields"/>).</item>
/// <item>The global (GlobalKTable) consumer is a <see cref="AssignedSeekGuard"/>: Streamiz 1.8.2 assigns the
/// master-data partitions at their restored offsets and then seeks each one to the same offset at once, which
/// librdkafka refuses with <c>Local: Erroneous state</c> while the partition's fetcher has not started yet
/// (docs/processors.md, "Streamiz start-up race").</item>
/// </list>
/// </summary>
public sealed class StreamizClientSupplier : IKafkaSupplier
{
    private readonly DefaultKafkaClientSupplier _inner;
    private readonly ConcurrentDictionary<TopicPartition, long> _committed = new();

    /// <summary>Creates the supplier for <paramref name="config"/> (the same configuration the <c>KafkaStream</c> gets).</summary>
    public StreamizClientSupplier(IStreamConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        _inner = new DefaultKafkaClientSupplier(new KafkaLoggerAdapter(config), config);
    }

    /// <summary>The next offset to read per input partition, as committed by a transaction of this instance (never goes back).</summary>
    public IReadOnlyDictionary<TopicPartition, long> TransactionalOffsets => _committed;

    /// <inheritdoc />
    public StreamizMetrics.StreamMetricsRegistry MetricsRegistry
    {
        get => _inner.MetricsRegistry;
        set => _inner.MetricsRegistry = value;
    }

    /// <inheritdoc />
    public IProducer<byte[], byte[]> GetProducer(ProducerConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        // Delivery reports without the record's value: Confluent.Kafka otherwise copies every produced value back into
        // managed memory for its report. Streamiz 1.8.2 reads the report's status, error, partition, offset, timestamp
        // and headers (retry bookkeeping); the value only when a production exception handler answers RETRY, which
        // none of our hosts installs.
        config.DeliveryReportFields ??= DeliveryReportFields;
        return new RecordingProducer(_inner.GetProducer(config), this);
    }

    /// <summary>Confluent.Kafka <c>dotnet.producer.delivery.report.fields</c> of the topology's producers: everything but the value.</summary>
    public const string DeliveryReportFields = "key,timestamp,headers,status";

    /// <inheritdoc />
    public IConsumer<byte[], byte[]> GetConsumer(ConsumerConfig config, IConsumerRebalanceListener rebalanceListener) => _inner.GetConsumer(config, rebalanceListener);

    /// <inheritdoc />
    public IConsumer<byte[], byte[]> GetRestoreConsumer(ConsumerConfig config) => _inner.GetRestoreConsumer(config);

    /// <inheritdoc />
    public IConsumer<byte[], byte[]> GetGlobalConsumer(ConsumerConfig config) => new AssignedSeekGuard(_inner.GetGlobalConsumer(config));

    /// <inheritdoc />
    public IAdminClient GetAdmin(AdminClientConfig config) => _inner.GetAdmin(config);

    private void Record(IEnumerable<TopicPartitionOffset> offsets)
    {
        foreach (var o in offsets)
        {
            _committed.AddOrUpdate(o.TopicPartition, o.Offset.Value, (_, old) => Math.Max(old, o.Offset.Value));
        }
    }

    /// <summary>Delegates every call; remembers the offsets of the open transaction until it commits or aborts.</summary>
    private sealed class RecordingProducer(IProducer<byte[], byte[]> inner, StreamizClientSupplier tracker) : IProducer<byte[], byte[]>
    {
        private readonly Lock _lock = new();
        private List<TopicPartitionOffset> _pending = [];

        public Handle Handle => inner.Handle;

        public string Name => inner.Name;

        public int AddBrokers(string brokers) => inner.AddBrokers(brokers);

        public void SetSaslCredentials(string username, string password) => inner.SetSaslCredentials(username, password);

        public Task<DeliveryResult<byte[], byte[]>> ProduceAsync(string topic, Message<byte[], byte[]> message, CancellationToken cancellationToken = default)
            => inner.ProduceAsync(topic, message, cancellationToken);

        public Task<DeliveryResult<byte[], byte[]>> ProduceAsync(TopicPartition topicPartition, Message<byte[], byte[]> message, CancellationToken cancellationToken = default)
            => inner.ProduceAsync(topicPartition, message, cancellationToken);

        public void Produce(string topic, Message<byte[], byte[]> message, Action<DeliveryReport<byte[], byte[]>>? deliveryHandler = null)
            => inner.Produce(topic, message, deliveryHandler);

        public void Produce(TopicPartition topicPartition, Message<byte[], byte[]> message, Action<DeliveryReport<byte[], byte[]>>? deliveryHandler = null)
            => inner.Produce(topicPartition, message, deliveryHandler);

        public int Poll(TimeSpan timeout) => inner.Poll(timeout);

        public int Flush(TimeSpan timeout) => inner.Flush(timeout);

        public void Flush(CancellationToken cancellationToken = default) => inner.Flush(cancellationToken);

        public void InitTransactions(TimeSpan timeout) => inner.InitTransactions(timeout);

        public void BeginTransaction()
        {
            inner.BeginTransaction();
            lock (_lock)
            {
                _pending = [];
            }
        }

        public void CommitTransaction(TimeSpan timeout)
        {
            inner.CommitTransaction(timeout);
            Committed();
        }

        public void CommitTransaction()
        {
            inner.CommitTransaction();
            Committed();
        }

        public void AbortTransaction(TimeSpan timeout)
        {
            inner.AbortTransaction(timeout);
            Aborted();
        }

        public void AbortTransaction()
        {
            inner.AbortTransaction();
            Aborted();
        }

        public void SendOffsetsToTransaction(IEnumerable<TopicPartitionOffset> offsets, IConsumerGroupMetadata groupMetadata, TimeSpan timeout)
        {
            var list = offsets.ToList();
            inner.SendOffsetsToTransaction(list, groupMetadata, timeout);
            lock (_lock)
            {
                _pending.AddRange(list);
            }
        }

        public void Dispose() => inner.Dispose();

        private void Committed()
        {
            List<TopicPartitionOffset> done;
            lock (_lock)
            {
                (done, _pending) = (_pending, []);
            }

            tracker.Record(done);
        }

        private void Aborted()
        {
            lock (_lock)
            {
                _pending = [];
            }
        }
    }
}
