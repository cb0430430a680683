using Confluent.Kafka;

namespace Streaming.Processors.Hosting;

/// <summary>
/// A consumer that skips a seek to exactly the offset a partition was just assigned at, before anything was consumed:
/// such a seek changes nothing (the assignment already starts the partition there), but librdkafka answers it with
/// <c>Local: Erroneous state</c> (RD_KAFKA_RESP_ERR__STATE) while the partition's fetcher has not started yet, which is
/// possible right after <c>Assign</c> (fetchers start asynchronously). Streamiz 1.8.2's global thread does exactly this (<c>Assign(all)</c> then <c>Seek</c> each at the same
/// offset) after restoring the GlobalKTables, and its start failed with that error now and then. Every other call is
/// passed through unchanged; a seek to another offset, or after a consume, is passed through too.
/// </summary>
public sealed class AssignedSeekGuard(IConsumer<byte[], byte[]> inner) : IConsumer<byte[], byte[]>
{
    private readonly Lock _lock = new();
    private Dictionary<TopicPartition, Offset> _justAssigned = [];

    /// <summary>Seeks skipped so far (each one a seek librdkafka could have refused).</summary>
    public int SkippedSeeks { get; private set; }

    public Handle Handle => inner.Handle;

    public string Name => inner.Name;

    public string MemberId => inner.MemberId;

    public List<TopicPartition> Assignment => inner.Assignment;

    public List<string> Subscription => inner.Subscription;

    public IConsumerGroupMetadata ConsumerGroupMetadata => inner.ConsumerGroupMetadata;

    public int AddBrokers(string brokers) => inner.AddBrokers(brokers);

    public void SetSaslCredentials(string username, string password) => inner.SetSaslCredentials(username, password);

    public ConsumeResult<byte[], byte[]> Consume(int millisecondsTimeout)
    {
        Forget();
        return inner.Consume(millisecondsTimeout);
    }

    public ConsumeResult<byte[], byte[]> Consume(CancellationToken cancellationToken = default)
    {
        Forget();
        return inner.Consume(cancellationToken);
    }

    public ConsumeResult<byte[], byte[]> Consume(TimeSpan timeout)
    {
        Forget();
        return inner.Consume(timeout);
    }

    public void Subscribe(IEnumerable<string> topics)
    {
        Forget();
        inner.Subscribe(topics);
    }

    public void Subscribe(string topic)
    {
        Forget();
        inner.Subscribe(topic);
    }

    public void Unsubscribe()
    {
        Forget();
        inner.Unsubscribe();
    }

    public void Assign(TopicPartition partition)
    {
        Forget();
        inner.Assign(partition);
    }

    public void Assign(TopicPartitionOffset partition)
    {
        var list = new List<TopicPartitionOffset> { partition };
        inner.Assign(partition);
        Remember(list);
    }

    public void Assign(IEnumerable<TopicPartitionOffset> partitions)
    {
        var list = partitions.ToList();
        inner.Assign(list);
        Remember(list);
    }

    public void Assign(IEnumerable<TopicPartition> partitions)
    {
        Forget();
        inner.Assign(partitions);
    }

    public void IncrementalAssign(IEnumerable<TopicPartitionOffset> partitions)
    {
        Forget();
        inner.IncrementalAssign(partitions);
    }

    public void IncrementalAssign(IEnumerable<TopicPartition> partitions)
    {
        Forget();
        inner.IncrementalAssign(partitions);
    }

    public void IncrementalUnassign(IEnumerable<TopicPartition> partitions)
    {
        Forget();
        inner.IncrementalUnassign(partitions);
    }

    public void Unassign()
    {
        Forget();
        inner.Unassign();
    }

    public void Seek(TopicPartitionOffset tpo)
    {
        ArgumentNullException.ThrowIfNull(tpo);
        lock (_lock)
        {
            if (_justAssigned.TryGetValue(tpo.TopicPartition, out var assigned) && assigned == tpo.Offset)
            {
                SkippedSeeks++;
                return;
            }
        }

        inner.Seek(tpo);
    }

    public void StoreOffset(ConsumeResult<byte[], byte[]> result) => inner.StoreOffset(result);

    public void StoreOffset(TopicPartitionOffset offset) => inner.StoreOffset(offset);

    public List<TopicPartitionOffset> Commit() => inner.Commit();

    public void Commit(IEnumerable<TopicPartitionOffset> offsets) => inner.Commit(offsets);

    public void Commit(ConsumeResult<byte[], byte[]> result) => inner.Commit(result);

    public void Pause(IEnumerable<TopicPartition> partitions) => inner.Pause(partitions);

    public void Resume(IEnumerable<TopicPartition> partitions) => inner.Resume(partitions);

    public List<TopicPartitionOffset> Committed(TimeSpan timeout) => inner.Committed(timeout);

    public List<TopicPartitionOffset> Committed(IEnumerable<TopicPartition> partitions, TimeSpan timeout) => inner.Committed(partitions, timeout);

    public Offset Position(TopicPartition partition) => inner.Position(partition);

    public List<TopicPartitionOffset> OffsetsForTimes(IEnumerable<TopicPartitionTimestamp> timestampsToSearch, TimeSpan timeout)
        => inner.OffsetsForTimes(timestampsToSearch, timeout);

    public WatermarkOffsets GetWatermarkOffsets(TopicPartition topicPartition) => inner.GetWatermarkOffsets(topicPartition);

    public WatermarkOffsets QueryWatermarkOffsets(TopicPartition topicPartition, TimeSpan timeout) => inner.QueryWatermarkOffsets(topicPartition, timeout);

    public void Close()
    {
        Forget();
        inner.Close();
    }

    public void Dispose() => inner.Dispose();

    private void Remember(List<TopicPartitionOffset> assigned)
    {
        lock (_lock)
        {
            _justAssigned = assigned.GroupBy(p => p.TopicPartition).ToDictionary(g => g.Key, g => g.Last().Offset);
        }
    }

    private void Forget()
    {
        lock (_lock)
        {
            if (_justAssigned.Count > 0)
            {
                _justAssigned = [];
            }
        }
    }
}
