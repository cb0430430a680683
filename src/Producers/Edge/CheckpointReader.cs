using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;

namespace Streaming.Producers.Edge;

/// <summary>Reads the latest checkpoint of a connector from <c>connect.checkpoints.v1</c> (compacted; the last value per key wins).</summary>
public static class CheckpointReader
{
    /// <summary>The newest checkpoint stored under <paramref name="connectorId"/>, or null when there is none.</summary>
    public static async Task<ConnectorCheckpoint?> ReadLatestAsync(ConsumerConfig consumerConfig, ISchemaRegistryClient registry, string connectorId, TimeSpan timeout, CancellationToken ct)
    {
        var all = await ReadAllLatestAsync(consumerConfig, registry, id => id == connectorId, timeout, ct).ConfigureAwait(false);
        return all.GetValueOrDefault(connectorId);
    }

    /// <summary>The newest checkpoint of every key that <paramref name="include"/> accepts (a null value, a tombstone, removes the key).</summary>
    public static Task<Dictionary<string, ConnectorCheckpoint>> ReadAllLatestAsync(ConsumerConfig consumerConfig, ISchemaRegistryClient registry, Func<string, bool> include, TimeSpan timeout, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(consumerConfig);
        return Task.Run(() =>
        {
            var config = new ConsumerConfig(consumerConfig.ToDictionary(k => k.Key, v => v.Value))
            {
                GroupId = "streaming-connectors-checkpoint-read",
                EnableAutoCommit = false,
                EnablePartitionEof = true,
            };
            using var consumer = new ConsumerBuilder<string, byte[]>(config).Build();
            using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
            var topic = admin.GetMetadata(Topics.ConnectorCheckpoints, timeout).Topics.SingleOrDefault();
            if (topic is null || topic.Error.IsError)
            {
                throw new InvalidOperationException($"Topic {Topics.ConnectorCheckpoints} is not available: {topic?.Error.Reason ?? "no metadata"}.");
            }

            var serdes = new AvroSerdes<ConnectorCheckpoint>(registry);
            var ends = new Dictionary<int, long>();
            foreach (var partition in topic.Partitions)
            {
                ends[partition.PartitionId] = consumer.QueryWatermarkOffsets(new TopicPartition(Topics.ConnectorCheckpoints, partition.PartitionId), timeout).High.Value;
            }

            var open = ends.Where(e => e.Value > 0).Select(e => e.Key).ToHashSet();
            consumer.Assign(open.Select(p => new TopicPartitionOffset(Topics.ConnectorCheckpoints, p, Offset.Beginning)));
            var latest = new Dictionary<string, ConnectorCheckpoint>(StringComparer.Ordinal);
            var deadline = DateTime.UtcNow + timeout;
            while (open.Count > 0)
            {
                ct.ThrowIfCancellationRequested();
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"Reading {Topics.ConnectorCheckpoints} did not finish within {timeout.TotalSeconds:0} s.");
                }

                var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
                if (r is null)
                {
                    continue;
                }

                if (!r.IsPartitionEOF && r.Message.Key is { } key && include(key))
                {
                    if (r.Message.Value is null)
                    {
                        latest.Remove(key);
                    }
                    else
                    {
                        latest[key] = serdes.DeserializeValue(r.Message.Value, r.Topic);
                    }
                }

                if (r.IsPartitionEOF || r.Offset.Value + 1 >= ends[r.Partition.Value])
                {
                    open.Remove(r.Partition.Value);
                }
            }

            consumer.Close();
            return latest;
        }, ct);
    }
}
