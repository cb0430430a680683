using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streamiz.Kafka.Net;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Processors;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Hosting;
using Streaming.Producers;

namespace Streaming.IntegrationTests;

/// <summary>
/// The finance topology on the shared stack with poison records in its input: bytes that do not deserialize and a
/// tombstone go to ops.dlq.v1 with their coordinates and bytes, and the valid invoice behind them is still mapped.
/// </summary>
public sealed class PoisonRecordTests(KafkaStackFixture stack)
{
    [Fact]
    public async Task Undeserializable_and_tombstone_records_are_dead_lettered_and_processing_continues()
    {
        var ct = TestContext.Current.CancellationToken;
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var customer = $"cus_{suffix}";
        var invoiceId = $"in_{suffix}";
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.BootstrapServers, EnableIdempotence = true }).Build();
        var records = new AvroRecordProducer(producer, stack.Registry);
        var day = new DateTime(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc);
        FinanceTopologyRunner.ProduceEntity(records, "US01", "USD", day);
        records.Produce(Topics.AccountLinks, FinanceMappingTopology.BillingLinkKey(customer), new AccountLink
        {
            canonicalCustomerId = $"C-{suffix}", billingCustomerId = customer, legalEntityId = "US01", billingCountry = "US", updatedAt = day,
        }, "md");
        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);

        var garbage = new byte[] { 0, 0, 0, 0, 42, 7, 7, 7 };
        var poison = await producer.ProduceAsync(Topics.BillingInvoices, new Message<string, byte[]> { Key = $"bad_{suffix}", Value = garbage }, ct);
        var tombstone = await producer.ProduceAsync(Topics.BillingInvoices, new Message<string, byte[]> { Key = $"gone_{suffix}", Value = null! }, ct);
        records.Produce(Topics.BillingInvoices, invoiceId, new Invoice
        {
            invoiceId = invoiceId, number = "INV-P", customerId = customer, status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED, currency = "USD",
            subtotal = Money.ToAvro(100m), tax = Money.ToAvro(0m), total = Money.ToAvro(100m), amountPaid = Money.ToAvro(0m),
            lines = [new InvoiceLine { lineId = "l1", description = "svc", kind = LineKind.SERVICES, quantity = Money.Quantity(1m), amount = Money.ToAvro(100m) }],
            taxLines = [], issuedAt = day, sourceEventId = "evt_p", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = day,
        }, $"corr-{suffix}");
        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);

        KafkaStream.State? state = null;
        using var stream = await FinanceTopologyRunner.StartAsync(stack, producer, KafkaStackFixture.UniqueName("it-poison"), new FinanceMappingOptions(), ct);
        state = KafkaStream.State.RUNNING;
        stream.StateChanged += (_, s) => state = s;

        var letters = new AvroSerdes<DeadLetterRecord>(stack.Registry);
        var events = new AvroSerdes<FinanceEvent>(stack.Registry);
        var dead = new List<DeadLetterRecord>();
        FinanceEvent? mapped = null;
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers, GroupId = KafkaStackFixture.UniqueName("it-poison-reader"), AutoOffsetReset = AutoOffsetReset.Earliest,
        }).Build();
        consumer.Subscribe([Topics.DeadLetters, Topics.FinanceEvents]);
        var deadline = DateTime.UtcNow.AddSeconds(60);
        var drainUntil = DateTime.MaxValue;
        while (DateTime.UtcNow < deadline && DateTime.UtcNow < drainUntil)
        {
            if (drainUntil == DateTime.MaxValue && mapped is not null && dead.Any(d => Is(d, poison)) && dead.Any(d => Is(d, tombstone)))
            {
                drainUntil = DateTime.UtcNow.AddSeconds(1); // anything else that would arrive for these records
            }

            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is not { Message: { } m } r)
            {
                continue;
            }

            if (r.Topic == Topics.DeadLetters)
            {
                var letter = letters.DeserializeValue(m.Value, r.Topic);
                if (letter.originalTopic == Topics.BillingInvoices && (Is(letter, poison) || Is(letter, tombstone)))
                {
                    dead.Add(letter);
                }
            }
            else if (events.DeserializeValue(m.Value, r.Topic) is { } fe && fe.postingKey == $"invoice:{invoiceId}:issued")
            {
                mapped = fe;
            }
        }

        consumer.Close();
        // At least once: a rebalance before the commit may dead-letter the same record again, but each record is
        // reported for what it is, never the undeserializable one as a tombstone too.
        var bad = dead.Where(d => Is(d, poison)).ToList();
        Assert.NotEmpty(bad);
        Assert.All(bad, d =>
        {
            Assert.Equal(garbage, d.originalValue);
            Assert.Equal("Confluent.SchemaRegistry.SchemaRegistryException", d.errorType);
        });
        var gone = dead.Where(d => Is(d, tombstone)).ToList();
        Assert.NotEmpty(gone);
        Assert.All(gone, d =>
        {
            Assert.Null(d.originalValue);
            Assert.Equal("Tombstone", d.errorType);
        });
        Assert.NotNull(mapped);
        Assert.Equal(100m, Money.ToDecimal(mapped.totalAmount));
        Assert.Equal(KafkaStream.State.RUNNING, state);
    }

    private static bool Is(DeadLetterRecord letter, DeliveryResult<string, byte[]> record)
        => letter.originalPartition == record.Partition.Value && letter.originalOffset == record.Offset.Value;
}
