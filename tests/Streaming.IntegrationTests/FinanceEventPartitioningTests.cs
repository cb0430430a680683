using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Serialization;
using Streaming.Processors.FinanceMapping;
using Streaming.Producers;

namespace Streaming.IntegrationTests;

/// <summary>
/// The topology's sinks leave partitioning to the producer (no Streamiz partitioner, see <c>KeyPartitionedSink</c>):
/// finance events are placed by their key, the canonical customer, so every event of one customer lands in one
/// partition of finance.events.v1 whichever invoice partition it came from. Does not cover the other sinks' keys.
/// </summary>
public sealed class FinanceEventPartitioningTests(KafkaStackFixture stack)
{
    private static readonly DateTime Day = new(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task Events_of_one_customer_share_one_partition_whatever_partition_their_invoices_came_from()
    {
        var ct = TestContext.Current.CancellationToken;
        var suffix = Guid.NewGuid().ToString("N")[..10];
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.BootstrapServers, EnableIdempotence = true }).Build();
        var records = new AvroRecordProducer(producer, stack.Registry);
        FinanceTopologyRunner.ProduceEntity(records, "US01", "USD", Day);
        string[] customers = [$"cus_a_{suffix}", $"cus_b_{suffix}"];
        foreach (var customer in customers)
        {
            records.Produce(Topics.AccountLinks, $"billing:{customer}",
                new AccountLink { canonicalCustomerId = $"C-{customer}", billingCustomerId = customer, legalEntityId = "US01", billingCountry = "US", updatedAt = Day }, "md");
        }

        const int perCustomer = 8;
        var invoicePartitions = new HashSet<int>();
        for (var i = 0; i < perCustomer * customers.Length; i++)
        {
            var id = $"in_{i}_{suffix}";
            records.Produce(Topics.BillingInvoices, id, Invoice(id, customers[i % customers.Length]), $"corr-{id}");
        }

        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);
        using var stream = await FinanceTopologyRunner.StartAsync(stack, producer, KafkaStackFixture.UniqueName("it-partitioning"),
            new FinanceMappingOptions { ReadinessTimeout = TimeSpan.FromSeconds(30), PersistentState = false }, ct);

        var seen = await ReadAsync(suffix, perCustomer * customers.Length, ct);

        foreach (var customer in customers)
        {
            var events = seen.Where(e => e.Event.customerId == $"C-{customer}").ToList();
            Assert.Equal(perCustomer, events.Select(e => e.Event.postingKey).Distinct().Count());
            Assert.Single(events.Select(e => e.Partition).Distinct());
            invoicePartitions.UnionWith(events.Select(e => e.Event.source.partition ?? -1));
        }

        // The invoices were keyed by invoice id and spread over several partitions: the grouping came from the sink.
        Assert.True(invoicePartitions.Count > 1, $"all invoices landed in one partition ({string.Join(",", invoicePartitions)}); the test proves nothing");
    }

    private static Invoice Invoice(string id, string customer) => new()
    {
        invoiceId = id, number = $"N-{id}", customerId = customer, status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED, currency = "USD",
        subtotal = Money.ToAvro(100m), tax = Money.ToAvro(0m), total = Money.ToAvro(100m), amountPaid = Money.ToAvro(0m),
        lines = [new InvoiceLine { lineId = "l1", kind = LineKind.SERVICES, quantity = Money.Quantity(1m), amount = Money.ToAvro(100m) }],
        taxLines = [], issuedAt = Day, correlationId = $"corr-{id}", sourceEventId = $"evt_{id}", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = Day,
    };

    private async Task<List<(FinanceEvent Event, int Partition)>> ReadAsync(string suffix, int count, CancellationToken ct)
    {
        var serdes = new AvroSerdes<FinanceEvent>(stack.Registry);
        var seen = new List<(FinanceEvent, int)>();
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers, GroupId = KafkaStackFixture.UniqueName("it-partitioning-reader"), AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe(Topics.FinanceEvents);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (DateTime.UtcNow < deadline && seen.Select(s => s.Item1.postingKey).Distinct().Count() < count)
        {
            ct.ThrowIfCancellationRequested();
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { Message: { } m } r
                && serdes.DeserializeValue(m.Value, r.Topic) is { } e && e.postingKey.Contains(suffix, StringComparison.Ordinal))
            {
                seen.Add((e, r.Partition.Value));
            }
        }

        consumer.Close();
        return seen;
    }
}
