using System.Buffers.Binary;
using System.Collections;
using System.Globalization;
using Avro;
using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Platform.Serialization;

namespace Streaming.IntegrationTests;

/// <summary>
/// A generated contract through the broker and the registry: <see cref="AvroSerdes{T}"/> writes Confluent wire format
/// with the registered schema id, and a consumer reads back every field, decimals at their exact scale. Each test uses
/// its own topic and registers the invoice schema under that topic's subject, so billing.invoices.v1 stays clean.
/// Schema evolution is covered by the contract tests, not here.
/// </summary>
public sealed class AvroRoundTripTests(KafkaStackFixture stack)
{
    private static readonly DateTime Issued = new(2026, 11, 1, 9, 30, 15, 123, DateTimeKind.Utc);

    private static Invoice UsdInvoice() => new()
    {
        invoiceId = "in_1QabcXYZ",
        number = "A1B2C3-0001",
        customerId = "cus_Q1w2e3",
        subscriptionId = "sub_1Qxyz",
        status = InvoiceStatus.OPEN,
        eventType = InvoiceEventType.FINALIZED,
        currency = "USD",
        subtotal = Money.ToAvro(1334.5678m),
        tax = Money.ToAvro(89.5061m),
        total = Money.ToAvro(1424.0739m),
        amountPaid = Money.ToAvro(0m),
        lines =
        [
            new InvoiceLine
            {
                lineId = "il_1",
                description = "Pro plan × 10 seats",
                kind = LineKind.SUBSCRIPTION,
                productId = "prod_pro",
                priceId = "price_pro_monthly",
                subscriptionItemId = "si_9",
                quantity = Money.Quantity(10m),
                amount = Money.ToAvro(1234.5678m),
                servicePeriodStart = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc),
                servicePeriodEnd = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc),
            },
            new InvoiceLine
            {
                lineId = "il_2",
                description = "Onboarding workshop (half day)",
                kind = LineKind.SERVICES,
                quantity = Money.Quantity(0.5m),
                amount = Money.ToAvro(100m),
            },
        ],
        taxLines =
        [
            new TaxLine { jurisdictionCode = "US-CA", rate = Money.Rate(0.0725m), taxableAmount = Money.ToAvro(1234.5678m), amount = Money.ToAvro(89.5061m), lineId = "il_1" },
        ],
        issuedAt = Issued,
        dueDate = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc),
        correlationId = "corr-opp-006Qx",
        sourceEventId = "evt_1Qabc",
        sourceSystem = BillingSourceSystem.STRIPE,
        occurredAt = Issued,
    };

    private static Invoice JpyInvoice() => new()
    {
        invoiceId = "in_3Qjpy",
        customerId = "cus_jp",
        status = InvoiceStatus.PAID,
        eventType = InvoiceEventType.PAID,
        currency = "JPY",
        subtotal = Money.ToAvro(150000m),
        tax = Money.ToAvro(15000m),
        total = Money.ToAvro(165000m),
        amountPaid = Money.ToAvro(165000m),
        lines =
        [
            new InvoiceLine { lineId = "il_jp1", kind = LineKind.SUBSCRIPTION, quantity = Money.Quantity(3m), amount = Money.ToAvro(120000m) },
            new InvoiceLine { lineId = "il_jp2", kind = LineKind.USAGE, quantity = Money.Quantity(1234.567891m), amount = Money.ToAvro(30000m) },
        ],
        taxLines = [new TaxLine { jurisdictionCode = "JP", rate = Money.Rate(0.1m), taxableAmount = Money.ToAvro(150000m), amount = Money.ToAvro(15000m) }],
        issuedAt = Issued,
        paidAt = Issued.AddHours(2),
        sourceEventId = "evt_3Qjpy",
        sourceSystem = BillingSourceSystem.STRIPE,
        occurredAt = Issued.AddHours(2),
    };

    private async Task<(string Topic, int SchemaId)> InvoiceTopicAsync(CancellationToken ct)
    {
        var topic = KafkaStackFixture.UniqueName("it.invoices");
        await stack.CreateTopicAsync(topic, 3, ct);
        var invoiceSchema = stack.Catalog!.Entries.Single(e => e.Subject == Topics.BillingInvoices + "-value").SchemaText;
        var id = await stack.Registry.RegisterSchemaAsync(topic + "-value", new Confluent.SchemaRegistry.Schema(invoiceSchema, SchemaType.Avro));
        return (topic, id);
    }

    [Fact]
    public async Task Invoice_produced_with_avro_serdes_is_consumed_back_field_for_field()
    {
        var ct = TestContext.Current.CancellationToken;
        var (topic, schemaId) = await InvoiceTopicAsync(ct);
        var serdes = new AvroSerdes<Invoice>(stack.Registry);
        var sent = new[] { UsdInvoice(), JpyInvoice() };

        using (var producer = new ProducerBuilder<string, Invoice>(new ProducerConfig { BootstrapServers = stack.BootstrapServers, EnableIdempotence = true })
                   .SetValueSerializer(serdes).Build())
        {
            foreach (var invoice in sent)
            {
                var result = await producer.ProduceAsync(topic, new Message<string, Invoice> { Key = invoice.invoiceId, Value = invoice }, ct);
                Assert.Equal(PersistenceStatus.Persisted, result.Status);
            }
        }

        var raw = KafkaTestClients.ReadFromStart<string, byte[]>(stack, topic, 2, TimeSpan.FromSeconds(30), ct);
        var back = raw.ToDictionary(r => r.Message.Key, r => serdes.DeserializeValue(r.Message.Value, topic));

        Assert.Equal(2, raw.Count);
        Assert.All(raw, r =>
        {
            Assert.Equal(0, r.Message.Value[0]); // Confluent wire format: magic byte 0, then the big-endian schema id
            Assert.Equal(schemaId, BinaryPrimitives.ReadInt32BigEndian(r.Message.Value.AsSpan(1, 4)));
        });
        Assert.Equal((await stack.Registry.GetLatestSchemaAsync(topic + "-value")).Id, schemaId);
        foreach (var invoice in sent)
        {
            Assert.Equal(Render(invoice), Render(back[invoice.invoiceId]));
        }

        var usd = back["in_1QabcXYZ"];
        Assert.Equal("1334.5678", Text(usd.subtotal));
        Assert.Equal("1424.0739", Text(usd.total));
        Assert.Equal(1234.5678m, Money.ToDecimal(usd.lines[0].amount));
        Assert.Equal("10.000000", Text(usd.lines[0].quantity));
        Assert.Equal("0.072500", Text(usd.taxLines[0].rate));
        Assert.Equal("Pro plan × 10 seats", usd.lines[0].description);
        Assert.Equal(Issued, usd.issuedAt.ToUniversalTime());

        var jpy = back["in_3Qjpy"];
        Assert.Equal("165000.0000", Text(jpy.total));
        Assert.Equal(165000m, Money.ToDecimal(jpy.amountPaid));
        Assert.Equal("1234.567891", Text(jpy.lines[1].quantity));
        Assert.Equal(LineKind.USAGE, jpy.lines[1].kind);
        Assert.Null(jpy.number);
        Assert.Null(jpy.lines[0].servicePeriodStart);
    }

    [Fact]
    public void Registry_holds_every_catalog_subject_after_the_fixture_started()
    {
        var catalog = stack.Catalog!;
        Assert.Equal(catalog.Entries.Select(e => e.Subject), stack.RegisteredSchemas.Select(r => r.Subject));
        Assert.All(stack.RegisteredSchemas, r => Assert.True(r.Id > 0, $"{r.Subject} has id {r.Id}"));
        Assert.Contains(stack.RegisteredSchemas, r => r.Subject == Topics.BillingInvoices + "-value");
    }

    private static string Text(AvroDecimal value) => Money.ToDecimal(value).ToString(CultureInfo.InvariantCulture);

    /// <summary>Every field of a generated record, recursively, as text: decimals with their scale, times in UTC to the millisecond.</summary>
    private static string Render(object? value) => value switch
    {
        null => "null",
        ISpecificRecord record => "{" + string.Join(", ", record.Schema is RecordSchema rs
            ? rs.Fields.Select(f => $"{f.Name}={Render(record.Get(f.Pos))}")
            : []) + "}",
        AvroDecimal d => Text(d),
        DateTime t => (t.Kind == DateTimeKind.Local ? t.ToUniversalTime() : t).ToString("yyyy-MM-dd'T'HH:mm:ss.fff", CultureInfo.InvariantCulture),
        string s => '"' + s + '"',
        IEnumerable items => "[" + string.Join(", ", items.Cast<object?>().Select(Render)) + "]",
        _ => Convert.ToString(value, CultureInfo.InvariantCulture) ?? "",
    };
}
