using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Serialization;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Posting;

/// <summary>Reads the compacted <c>md.gl-mappings.v1</c> from its start to its current end into a <see cref="GlMappingChartOfAccounts"/>.</summary>
public static class GlMappingLoader
{
    /// <summary>
    /// Loads every mapping present now (latest per key; tombstones remove). Entities without mappings fall back to
    /// <paramref name="fallback"/>. A missing topic means no mappings (everything falls back). Mappings changed later need a restart.
    /// </summary>
    public static GlMappingChartOfAccounts Load(ConsumerConfig consumerConfig, ISchemaRegistryClient registry, IChartOfAccounts? fallback,
        ILogger logger, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(consumerConfig);
        ArgumentNullException.ThrowIfNull(logger);
        var chart = new GlMappingChartOfAccounts(fallback);
        var serdes = new AvroSerdes<GlMapping>(registry);
        var config = new ConsumerConfig(new Dictionary<string, string>(consumerConfig))
        {
            GroupId = "streaming-sink-gl-mappings-reader", EnableAutoCommit = false, EnableAutoOffsetStore = false, EnablePartitionEof = true,
        };
        using var consumer = new ConsumerBuilder<string, byte[]>(config).Build();
        using var admin = new DependentAdminClientBuilder(consumer.Handle).Build();
        var metadata = admin.GetMetadata(Topics.GlMappings, TimeSpan.FromSeconds(10)).Topics.SingleOrDefault(t => t.Topic == Topics.GlMappings);
        if (metadata is null || metadata.Error.IsError || metadata.Partitions.Count == 0)
        {
            logger.LogWarning("{Topic} not found: every legal entity uses the default chart of accounts", Topics.GlMappings);
            return chart;
        }

        var pending = new HashSet<int>();
        var assignment = new List<TopicPartitionOffset>();
        foreach (var p in metadata.Partitions)
        {
            var tp = new TopicPartition(Topics.GlMappings, p.PartitionId);
            var marks = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10));
            if (marks.High > marks.Low)
            {
                pending.Add(p.PartitionId);
                assignment.Add(new TopicPartitionOffset(tp, Offset.Beginning));
            }
        }

        consumer.Assign(assignment);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (pending.Count > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Reading {Topics.GlMappings} to its end took more than 60 s; partitions left: {string.Join(",", pending)}.");
            }

            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null)
            {
                continue;
            }

            if (r.IsPartitionEOF)
            {
                pending.Remove(r.Partition.Value);
                continue;
            }

            var value = r.Message.Value is null ? null : serdes.DeserializeValue(r.Message.Value, Topics.GlMappings);
            if ((value?.mappingId ?? r.Message.Key) is { Length: > 0 } id)
            {
                chart.Apply(id, value);
            }
        }

        consumer.Close();
        logger.LogInformation("GL accounts: {Count} mappings from {Topic}; entities without mappings use the default chart", chart.Count, Topics.GlMappings);
        return chart;
    }
}
