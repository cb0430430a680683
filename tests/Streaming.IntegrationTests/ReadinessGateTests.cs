using Confluent.Kafka;
using Streamiz.Kafka.Net;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Processors.FinanceMapping;
using Streaming.Producers;

namespace Streaming.IntegrationTests;

/// <summary>
/// The readiness gate on the shared broker: an invoice whose account link arrives after it waits and then flows; one
/// whose link never arrives goes to ops.quarantine.v1 after the timeout with its reason and source coordinates, and
/// flows once its link exists and it is resubmitted. Also
/// the same topology under exactly-once (<see cref="ProcessingGuarantee.EXACTLY_ONCE"/>), read with read_committed.
/// </summary>
public sealed class ReadinessGateTests(KafkaStackFixture stack)
{
    private static readonly DateTime Day = new(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc);

    private static Invoice Invoice(string id, string customer, decimal amount) => new()
    {
        invoiceId = id, number = $"N-{id}", customerId = customer, status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED, currency = "USD",
        subtotal = Money.ToAvro(amount), tax = Money.ToAvro(0m), total = Money.ToAvro(amount), amountPaid = Money.ToAvro(0m),
        lines = [new InvoiceLine { lineId = "l1", kind = LineKind.SERVICES, quantity = Money.Quantity(1m), amount = Money.ToAvro(amount) }],
        taxLines = [], issuedAt = Day, correlationId = $"corr-{id}", sourceEventId = $"evt_{id}", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = Day,
    };

    private static AccountLink Link(string customer) => new()
    {
        canonicalCustomerId = $"C-{customer}", billingCustomerId = customer, legalEntityId = "US01", billingCountry = "US", updatedAt = Day,
    };

    [Fact]
    public async Task Late_master_data_lets_the_record_flow_and_missing_master_data_ends_in_quarantine()
    {
        var ct = TestContext.Current.CancellationToken;
        var suffix = Guid.NewGuid().ToString("N")[..10];
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.BootstrapServers, EnableIdempotence = true }).Build();
        var records = new AvroRecordProducer(producer, stack.Registry);
        FinanceTopologyRunner.ProduceEntity(records, "US01", "USD", Day);
        records.Produce(Topics.BillingInvoices, $"in_late_{suffix}", Invoice($"in_late_{suffix}", $"cus_late_{suffix}", 120m), $"corr-late-{suffix}");
        records.Produce(Topics.BillingInvoices, $"in_never_{suffix}", Invoice($"in_never_{suffix}", $"cus_never_{suffix}", 80m), $"corr-never-{suffix}");
        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);

        using var stream = await FinanceTopologyRunner.StartAsync(stack, producer, KafkaStackFixture.UniqueName("it-gate"),
            new FinanceMappingOptions { ReadinessTimeout = TimeSpan.FromSeconds(6), PunctuationInterval = TimeSpan.FromMilliseconds(500), PersistentState = false }, ct);
        await Task.Delay(TimeSpan.FromSeconds(1), ct); // both invoices are parked now (no link yet)
        records.Produce(Topics.AccountLinks, $"billing:cus_late_{suffix}", Link($"cus_late_{suffix}"), "md");
        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);

        var (events, quarantined) = await ReadAsync(suffix, e => e.Count >= 1, q => q.Count >= 1, IsolationLevel.ReadUncommitted, ct);

        // At least once: a rebalance may deliver a record twice; the sink posts by posting key, so count distinct keys.
        Assert.Equal([$"invoice:in_late_{suffix}:issued"], events.Select(e => e.postingKey).Distinct());
        Assert.Equal([("MISSING_ACCOUNT_LINK", $"invoice:in_never_{suffix}:issued")], quarantined.Select(x => (x.reasonCode, x.postingKey)).Distinct());
        var issued = events[0];
        Assert.Equal(($"invoice:in_late_{suffix}:issued", $"C-cus_late_{suffix}", 120m), (issued.postingKey, issued.customerId, Money.ToDecimal(issued.totalAmount)));
        var q = quarantined[0];
        Assert.Equal(("MISSING_ACCOUNT_LINK", $"corr-in_never_{suffix}", Topics.BillingInvoices), (q.reasonCode, q.correlationId, q.sourceTopic));
        Assert.Equal([$"account-link billing:cus_never_{suffix}"], q.missing);
        Assert.Equal($"corr-never-{suffix}", System.Text.Encoding.UTF8.GetString(q.headers[TracingHeaders.CorrelationId]));

        // The link arrives at last; resubmitting the quarantined record makes it flow like any new one.
        records.Produce(Topics.AccountLinks, $"billing:cus_never_{suffix}", Link($"cus_never_{suffix}"), "md");
        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);
        var report = await new Streaming.Processors.Hosting.QuarantineResubmitter(stack.BootstrapServers, stack.Registry)
            .ResubmitAsync(x => x.quarantineId == q.quarantineId, ct);
        Assert.Equal([q.quarantineId], report.Resubmitted.Distinct());
        var (after, _) = await ReadAsync(suffix, e => e.Any(x => x.postingKey == $"invoice:in_never_{suffix}:issued"), _ => true, IsolationLevel.ReadUncommitted, ct);
        var resubmitted = Assert.Single(after.Where(x => x.postingKey == $"invoice:in_never_{suffix}:issued").Select(x => (x.customerId, Money.ToDecimal(x.totalAmount))).Distinct());
        Assert.Equal(($"C-cus_never_{suffix}", 80m), resubmitted);
    }

    [Fact]
    public async Task Exactly_once_configuration_maps_every_invoice_once_for_a_read_committed_reader()
    {
        var ct = TestContext.Current.CancellationToken;
        var suffix = Guid.NewGuid().ToString("N")[..10];
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.BootstrapServers, EnableIdempotence = true }).Build();
        var records = new AvroRecordProducer(producer, stack.Registry);
        FinanceTopologyRunner.ProduceEntity(records, "US01", "USD", Day);
        records.Produce(Topics.AccountLinks, $"billing:cus_eos_{suffix}", Link($"cus_eos_{suffix}"), "md");
        const int count = 200;
        for (var i = 0; i < count; i++)
        {
            records.Produce(Topics.BillingInvoices, $"in_eos_{suffix}_{i}", Invoice($"in_eos_{suffix}_{i}", $"cus_eos_{suffix}", 10m + i), $"corr-eos-{suffix}");
        }

        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);
        using var stream = await FinanceTopologyRunner.StartAsync(stack, producer, KafkaStackFixture.UniqueName("it-eos"),
            new FinanceMappingOptions { PersistentState = false }, ct, ProcessingGuarantee.EXACTLY_ONCE);

        var (events, _) = await ReadAsync(suffix, e => e.Count >= count, _ => true, IsolationLevel.ReadCommitted, ct);

        Assert.Equal(count, events.Count);
        Assert.Equal(count, events.Select(e => e.postingKey).Distinct().Count());
        Assert.Equal(Enumerable.Range(0, count).Sum(i => 10m + i), events.Sum(e => Money.ToDecimal(e.totalAmount)));
    }

    private async Task<(List<FinanceEvent> Events, List<QuarantineRecord> Quarantined)> ReadAsync(string suffix,
        Func<List<FinanceEvent>, bool> eventsDone, Func<List<QuarantineRecord>, bool> quarantineDone, IsolationLevel isolation, CancellationToken ct)
    {
        var eventSerdes = new AvroSerdes<FinanceEvent>(stack.Registry);
        var quarantineSerdes = new AvroSerdes<QuarantineRecord>(stack.Registry);
        var events = new List<FinanceEvent>();
        var quarantined = new List<QuarantineRecord>();
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers, GroupId = KafkaStackFixture.UniqueName("it-gate-reader"), AutoOffsetReset = AutoOffsetReset.Earliest, IsolationLevel = isolation,
        }).Build();
        consumer.Subscribe([Topics.FinanceEvents, Topics.Quarantine]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var settleUntil = DateTime.MaxValue;
        while (DateTime.UtcNow < deadline && DateTime.UtcNow < settleUntil)
        {
            if (settleUntil == DateTime.MaxValue && eventsDone(events) && quarantineDone(quarantined))
            {
                settleUntil = DateTime.UtcNow.AddSeconds(2); // anything extra (a duplicate) would show up here
            }

            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is not { Message: { } m } r)
            {
                continue;
            }

            if (r.Topic == Topics.FinanceEvents && eventSerdes.DeserializeValue(m.Value, r.Topic) is { } e && e.postingKey.Contains(suffix, StringComparison.Ordinal))
            {
                events.Add(e);
            }
            else if (r.Topic == Topics.Quarantine && quarantineSerdes.DeserializeValue(m.Value, r.Topic) is { } q && q.correlationId.Contains(suffix, StringComparison.Ordinal))
            {
                quarantined.Add(q);
            }
        }

        consumer.Close();
        return (events, quarantined);
    }
}
