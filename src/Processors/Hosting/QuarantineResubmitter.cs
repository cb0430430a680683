using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;

namespace Streaming.Processors.Hosting;

/// <summary>What a resubmission did: quarantine records read, records sent back to their source topics.</summary>
public sealed record ResubmitReport(int Read, IReadOnlyList<string> Resubmitted);

/// <summary>
/// Resubmits quarantined records: reads <c>ops.quarantine.v1</c> from the beginning up to its current end, and for
/// each record the filter selects produces its original key, value bytes and headers back to its source topic, where
/// it is processed again like any new record (its posting key is the same, so nothing posts twice). Run it once the
/// missing master data has arrived.
/// </summary>
/// <param name="bootstrapServers">The cluster.</param>
/// <param name="registry">Schema registry the quarantine records were written with.</param>
/// <param name="common">librdkafka keys applied to every client (e.g. <c>Kafka:Common</c>: security settings); optional.</param>
public sealed class QuarantineResubmitter(string bootstrapServers, ISchemaRegistryClient registry, IReadOnlyDictionary<string, string>? common = null)
{
    private Dictionary<string, string> Common() => new(common ?? new Dictionary<string, string>(), StringComparer.Ordinal);

    /// <summary>Resubmits every quarantine record <paramref name="select"/> accepts; waits for the broker's acknowledgements.</summary>
    /// <exception cref="KafkaException">A resubmitted record was not acknowledged.</exception>
    public async Task<ResubmitReport> ResubmitAsync(Func<QuarantineRecord, bool> select, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(select);
        var serdes = new AvroSerdes<QuarantineRecord>(registry);
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig(Common())
        {
            BootstrapServers = bootstrapServers, GroupId = $"streaming-quarantine-resubmit-{Guid.NewGuid():N}", EnableAutoCommit = false,
        }).Build();
        using var admin = new AdminClientBuilder(new AdminClientConfig(Common()) { BootstrapServers = bootstrapServers }).Build();
        var partitions = admin.GetMetadata(Topics.Quarantine, TimeSpan.FromSeconds(10)).Topics.Single().Partitions
            .Select(p => new TopicPartition(Topics.Quarantine, p.PartitionId)).ToList();
        var ends = partitions.ToDictionary(tp => tp, tp => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)));
        consumer.Assign(partitions.Where(tp => ends[tp].High > ends[tp].Low).Select(tp => new TopicPartitionOffset(tp, ends[tp].Low)));
        var remaining = partitions.Sum(tp => ends[tp].High.Value - ends[tp].Low.Value);
        using var producer = new ProducerBuilder<byte[]?, byte[]>(new ProducerConfig(Common()) { BootstrapServers = bootstrapServers, EnableIdempotence = true }).Build();
        var read = 0;
        var sent = new List<string>();
        var deliveries = new List<Task<DeliveryResult<byte[]?, byte[]>>>();
        while (remaining > 0)
        {
            ct.ThrowIfCancellationRequested();
            var r = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"{Topics.Quarantine} not read to its end within 10 s");
            remaining--;
            read++;
            var q = serdes.DeserializeValue(r.Message.Value, r.Topic);
            if (!select(q))
            {
                continue;
            }

            var headers = new Headers();
            foreach (var (name, value) in q.headers)
            {
                headers.Add(name, value);
            }

            headers.Add("resubmitted-from", Encoding.UTF8.GetBytes(q.quarantineId));
            deliveries.Add(producer.ProduceAsync(q.sourceTopic, new Message<byte[]?, byte[]> { Key = q.originalKey, Value = q.originalValue, Headers = headers }, ct));
            sent.Add(q.quarantineId);
        }

        await Task.WhenAll(deliveries).ConfigureAwait(false);
        consumer.Close();
        return new ResubmitReport(read, sent);
    }
}
