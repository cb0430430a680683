using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Platform.Serialization;

namespace Streaming.Processors.Tests;

/// <summary>The Streamiz Avro serdes write and read exactly the Confluent wire format of Confluent's own serdes.</summary>
public sealed class StreamizAvroSerDesTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static Invoice Invoice() => new()
    {
        invoiceId = "in_1", number = "INV-1", customerId = "cus_1", status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED,
        currency = "USD", subtotal = Money.ToAvro(500m), tax = Money.ToAvro(40m), total = Money.ToAvro(540m), amountPaid = Money.ToAvro(0m),
        lines = [new InvoiceLine { lineId = "l1", kind = LineKind.SUBSCRIPTION, productId = "prod_sub", quantity = Money.Quantity(1m), amount = Money.ToAvro(500m),
            servicePeriodStart = new DateTime(2027, 1, 1, 0, 0, 0, DateTimeKind.Utc), servicePeriodEnd = new DateTime(2028, 1, 1, 0, 0, 0, DateTimeKind.Utc) }],
        taxLines = [new TaxLine { jurisdictionCode = "US-CA", rate = Money.Rate(0.08m), taxableAmount = Money.ToAvro(500m), amount = Money.ToAvro(40m) }],
        issuedAt = new DateTime(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc), correlationId = "q2c-1", sourceEventId = "evt_1", sourceSystem = BillingSourceSystem.STRIPE,
        occurredAt = new DateTime(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc),
    };

    [Fact]
    public void Writes_the_same_bytes_as_Confluents_serializer_and_each_reads_the_other()
    {
        var ours = new StreamizAvroSerDes<Invoice>(registry.Client);
        var confluent = new AvroSerdes<Invoice>(registry.Client);
        var context = new SerializationContext(MessageComponentType.Value, Topics.BillingInvoices);
        var invoice = Invoice();

        var bytes = ours.Serialize(invoice, context);

        Assert.Equal(confluent.Serialize(invoice, context), bytes);
        var back = ours.Deserialize(confluent.Serialize(invoice, context), context);
        Assert.Equal(confluent.Serialize(back, context), ours.Serialize(back, context));
        Assert.Equal("in_1", confluent.DeserializeValue(bytes, Topics.BillingInvoices).invoiceId);
        Assert.Equal(new DateTime(2028, 1, 1, 0, 0, 0, DateTimeKind.Utc), back.lines[0].servicePeriodEnd);
    }

    [Fact]
    public void Frames_under_the_subject_topic_when_one_is_given()
    {
        var ours = new StreamizAvroSerDes<Invoice>(registry.Client, Topics.BillingInvoices);
        var confluent = new AvroSerdes<Invoice>(registry.Client);

        var bytes = ours.Serialize(Invoice(), new SerializationContext(MessageComponentType.Value, "app-repartition"));

        Assert.Equal(confluent.SerializeValue(Invoice(), Topics.BillingInvoices), bytes);
    }

    [Fact]
    public void Fails_naming_the_subject_when_the_schema_is_not_registered_under_it()
    {
        var ours = new StreamizAvroSerDes<FinanceEvent>(registry.Client);

        var ex = Assert.Throws<AvroFramingException>(() => ours.Serialize(new FinanceEvent(), new SerializationContext(MessageComponentType.Value, "no.such.topic")));

        Assert.Contains("no.such.topic-value", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Rejects_bytes_without_the_Confluent_framing()
    {
        var ours = new StreamizAvroSerDes<Invoice>(registry.Client);

        var ex = Assert.Throws<InvalidDataException>(() => ours.Deserialize([1, 0, 0, 0, 1, 2], new SerializationContext(MessageComponentType.Value, Topics.BillingInvoices)));

        Assert.Contains("magic byte 1", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_source_serdes_decodes_the_same_byte_array_once_and_every_new_array_again()
    {
        var source = new StreamizAvroSerDes<Invoice>(registry.Client) { DecodeOncePerRecord = true };
        var plain = new StreamizAvroSerDes<Invoice>(registry.Client);
        var context = new SerializationContext(MessageComponentType.Value, Topics.BillingInvoices);
        var bytes = plain.Serialize(Invoice(), context);
        var copy = (byte[])bytes.Clone();

        var first = source.Deserialize(bytes, context);
        var again = source.Deserialize(bytes, context);
        var fromCopy = source.Deserialize(copy, context);

        Assert.Same(first, again);
        Assert.NotSame(first, fromCopy);
        Assert.Equal("in_1", fromCopy.invoiceId);
        Assert.NotSame(plain.Deserialize(bytes, context), plain.Deserialize(bytes, context));
    }

    [Fact]
    public void Reading_many_records_gives_independent_objects_with_every_line_and_tax_line()
    {
        var serdes = new StreamizAvroSerDes<Invoice>(registry.Client);
        var context = new SerializationContext(MessageComponentType.Value, Topics.BillingInvoices);
        var bytes = serdes.Serialize(Invoice(), context);

        var a = serdes.Deserialize(bytes, context);
        var b = serdes.Deserialize(bytes, context);
        a.lines.Clear();

        Assert.Single(b.lines);
        Assert.Equal("US-CA", b.taxLines[0].jurisdictionCode);
        Assert.Equal(bytes, serdes.Serialize(b, context));
    }

    [Fact]
    public void Output_contracts_with_maps_bytes_and_nested_records_are_written_as_Confluent_writes_them()
    {
        var link = new Streaming.Contracts.MasterData.AccountLink { canonicalCustomerId = "C-1", billingCustomerId = "cus_1", legalEntityId = "US01", billingCountry = "US", updatedAt = Invoice().issuedAt };
        var financeEvent = FinanceMapping.FinanceEventMapper.FromInvoice(Invoice(), link, new Streaming.Processors.FinanceMapping.SourcePosition(Topics.BillingInvoices, 3, 42))!;
        var quarantined = new Streaming.Contracts.Ops.QuarantineRecord
        {
            quarantineId = "q_1", reasonCode = "MISSING_ACCOUNT_LINK", reasonDetail = "detail", missing = ["account-link billing:cus_1"], stage = "test",
            correlationId = "q2c-1", postingKey = null, businessContext = new Dictionary<string, string> { ["customer"] = "cus_1", ["amount"] = "540.00" },
            sourceTopic = Topics.BillingInvoices, sourcePartition = 3, sourceOffset = 42, originalKey = [1, 2, 3], originalValue = [4, 5],
            headers = new Dictionary<string, byte[]> { ["correlation-id"] = [9, 9] }, quarantinedAt = Invoice().issuedAt,
        };
        var eventContext = new SerializationContext(MessageComponentType.Value, Topics.FinanceEvents);
        var quarantineContext = new SerializationContext(MessageComponentType.Value, Topics.Quarantine);

        var eventBytes = new StreamizAvroSerDes<FinanceEvent>(registry.Client).Serialize(financeEvent, eventContext);
        var quarantineBytes = new StreamizAvroSerDes<Streaming.Contracts.Ops.QuarantineRecord>(registry.Client).Serialize(quarantined, quarantineContext);

        Assert.Equal(new AvroSerdes<FinanceEvent>(registry.Client).Serialize(financeEvent, eventContext), eventBytes);
        Assert.Equal(new AvroSerdes<Streaming.Contracts.Ops.QuarantineRecord>(registry.Client).Serialize(quarantined, quarantineContext), quarantineBytes);
        var back = new StreamizAvroSerDes<Streaming.Contracts.Ops.QuarantineRecord>(registry.Client).Deserialize(quarantineBytes, quarantineContext);
        Assert.Equal("540.00", back.businessContext["amount"]);
        Assert.Equal([4, 5], back.originalValue);
    }
}
