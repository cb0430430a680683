using System.Collections;
using System.Globalization;
using System.Text;
using Avro;
using Avro.Specific;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using CsCheck;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Serialization;

namespace Streaming.Processors.Tests;

/// <summary>
/// The compiled reader gives exactly the values Confluent's deserializer (Apache.Avro) gives, for any invoice, and the
/// serdes falls back to Avro's resolving reader when a record was written with another schema than the contract's.
/// </summary>
public sealed class CompiledAvroReaderTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly SerializationContext InvoiceContext = new(MessageComponentType.Value, Topics.BillingInvoices);

    private static readonly Gen<string?> Text = Gen.OneOf(Gen.Const((string?)null), Gen.String[0, 12].Select(s => (string?)s), Gen.Const((string?)"Zürich ✓ 東京"));

    // Unscaled values where the two's-complement byte count or sign byte changes (0, ±1, ±127/128, ±255/256, ±32767/32768…).
    private static readonly long[] DecimalEdges = [0, 1, -1, 127, 128, -128, -129, 255, 256, -255, -256, 32_767, 32_768, -32_768, -32_769, 8_388_607, 8_388_608, -8_388_608, -8_388_609];

    // Any unscaled value that fits the schema's precision, negative included, with the byte-boundary values drawn often.
    private static Gen<AvroDecimal> Decimal(int precision, int scale)
    {
        var bound = (long)Math.Pow(10, Math.Min(precision, 18) - 1);
        long[] edges = [.. DecimalEdges.Where(e => Math.Abs(e) <= bound), bound, -bound, bound - 1, -(bound - 1)];
        return Gen.OneOf(Gen.Long[-bound, bound], Gen.Int[0, edges.Length - 1].Select(i => edges[i]))
            .Select(unscaled => new AvroDecimal(new System.Numerics.BigInteger(unscaled), scale));
    }

    private static readonly Gen<DateTime> Instant = Gen.Long[-62_135_596_800_000L + 86_400_000, 253_402_300_799_000L - 86_400_000]
        .Select(ms => DateTime.UnixEpoch.AddMilliseconds(ms));

    private static readonly Gen<DateTime?> MaybeInstant = Gen.OneOf(Gen.Const((DateTime?)null), Instant.Select(d => (DateTime?)d));

    private static readonly Gen<InvoiceLine> Lines =
        from id in Gen.String[1, 8]
        from description in Text
        from kind in Gen.Int[0, 2]
        from product in Text
        from price in Text
        from item in Text
        from quantity in Decimal(18, 6)
        from amount in Decimal(18, 4)
        from start in MaybeInstant
        from end in MaybeInstant
        select new InvoiceLine
        {
            lineId = id, description = description, kind = (LineKind)kind, productId = product, priceId = price, subscriptionItemId = item,
            quantity = quantity, amount = amount, servicePeriodStart = start, servicePeriodEnd = end,
        };

    private static readonly Gen<TaxLine> TaxLines =
        from jurisdiction in Gen.String[1, 6]
        from rate in Decimal(9, 6)
        from taxable in Decimal(18, 4)
        from amount in Decimal(18, 4)
        from line in Text
        select new TaxLine { jurisdictionCode = jurisdiction, rate = rate, taxableAmount = taxable, amount = amount, lineId = line };

    private static readonly Gen<Invoice> Invoices =
        from id in Gen.String[1, 10]
        from number in Text
        from subscription in Text
        from status in Gen.Int[0, 4]
        from eventType in Gen.Int[0, 3]
        from amounts in Decimal(18, 4).Array[4]
        from lines in Lines.List[0, 70] // 64 or more lines: the array count takes two varint bytes
        from taxLines in TaxLines.List[0, 3]
        from issued in Instant
        from paid in MaybeInstant
        from voided in MaybeInstant
        from dueDays in Gen.OneOf(Gen.Const((int?)null), Gen.Int[-700_000, 2_900_000 - 719_162 - 1].Select(d => (int?)d))
        from correlation in Text
        select new Invoice
        {
            invoiceId = id, number = number, customerId = "cus_" + id, subscriptionId = subscription, status = (InvoiceStatus)status,
            eventType = (InvoiceEventType)eventType, currency = "USD", subtotal = amounts[0], tax = amounts[1], total = amounts[2], amountPaid = amounts[3],
            lines = lines, taxLines = taxLines, issuedAt = issued, paidAt = paid, voidedAt = voided,
            dueDate = dueDays is { } d ? DateTime.UnixEpoch.AddDays(d) : null, correlationId = correlation, sourceEventId = "evt_" + id,
            sourceSystem = BillingSourceSystem.STRIPE, occurredAt = issued,
        };

    [Fact]
    public void Every_generated_invoice_decodes_to_exactly_what_Confluents_deserializer_gives()
    {
        var confluent = new AvroSerdes<Invoice>(registry.Client);
        var ours = new StreamizAvroSerDes<Invoice>(registry.Client);
        Assert.True(StreamizAvroSerDes<Invoice>.HasCompiledReader);

        Invoices.Sample(invoice =>
        {
            var bytes = confluent.SerializeValue(invoice, Topics.BillingInvoices);
            var expected = confluent.DeserializeValue(bytes, Topics.BillingInvoices);
            var actual = ours.Deserialize(bytes, InvoiceContext);
            Assert.Equal(Describe(expected), Describe(actual));
            Assert.Equal(confluent.SerializeValue(expected, Topics.BillingInvoices), ours.Serialize(actual, InvoiceContext));
        }, iter: 300);
    }

    private static readonly Gen<Streaming.Contracts.Finance.FinanceEventLine> EventLines =
        from id in Gen.String[1, 8]
        from kind in Gen.Int[0, System.Enum.GetValues<Streaming.Contracts.Finance.FinanceLineKind>().Length - 1]
        from amount in Decimal(18, 4)
        from product in Text
        from jurisdiction in Text
        from start in MaybeInstant
        from end in MaybeInstant
        select new Streaming.Contracts.Finance.FinanceEventLine
        {
            lineId = id, kind = (Streaming.Contracts.Finance.FinanceLineKind)kind, amount = amount, productId = product, taxJurisdiction = jurisdiction,
            servicePeriodStart = start, servicePeriodEnd = end,
        };

    private static readonly Gen<Streaming.Contracts.Finance.FinanceEvent> Events =
        from id in Gen.String[1, 10]
        from type in Gen.Int[0, System.Enum.GetValues<Streaming.Contracts.Finance.FinanceEventType>().Length - 1]
        from amounts in Decimal(18, 4).Array[2]
        from effective in Instant
        from document in Text
        from lines in EventLines.List[0, 70]
        from topic in Text
        from partition in Gen.OneOf(Gen.Const((int?)null), Gen.Int.Select(i => (int?)i))
        from offset in Gen.OneOf(Gen.Const((long?)null), Gen.Long.Select(l => (long?)l))
        select new Streaming.Contracts.Finance.FinanceEvent
        {
            eventId = id, eventType = (Streaming.Contracts.Finance.FinanceEventType)type, postingKey = "pk:" + id, correlationId = "c:" + id, legalEntityId = "US01",
            customerId = "C-" + id, currency = "EUR", totalAmount = amounts[0], taxAmount = amounts[1], effectiveDate = effective, documentNumber = document,
            lines = lines, source = new Streaming.Contracts.Finance.SourceRef { system = "stripe", objectType = "invoice", objectId = id, eventId = "evt", topic = topic, partition = partition, offset = offset },
            createdAt = effective,
        };

    [Fact]
    public void Every_generated_finance_event_is_written_byte_for_byte_as_Confluents_serializer_writes_it()
    {
        var context = new SerializationContext(MessageComponentType.Value, Topics.FinanceEvents);
        var confluent = new AvroSerdes<Streaming.Contracts.Finance.FinanceEvent>(registry.Client);
        var ours = new StreamizAvroSerDes<Streaming.Contracts.Finance.FinanceEvent>(registry.Client);
        Assert.True(StreamizAvroSerDes<Streaming.Contracts.Finance.FinanceEvent>.HasCompiledWriter);

        Events.Sample(e =>
        {
            var bytes = ours.Serialize(e, context);
            Assert.Equal(confluent.Serialize(e, context), bytes);
            Assert.Equal(Describe(confluent.DeserializeValue(bytes, Topics.FinanceEvents)), Describe(ours.Deserialize(bytes, context)));
        }, iter: 300);
    }

    [Fact]
    public void A_decimal_of_another_scale_and_a_missing_required_value_are_handled_as_Avro_handles_them()
    {
        var context = new SerializationContext(MessageComponentType.Value, Topics.BillingInvoices);
        var confluent = new AvroSerdes<Invoice>(registry.Client);
        var ours = new StreamizAvroSerDes<Invoice>(registry.Client);
        var otherScale = Sample();
        otherScale.subtotal = new AvroDecimal(new System.Numerics.BigInteger(12345), 2);

        var expected = Record(() => confluent.Serialize(otherScale, context));
        var actual = Record(() => ours.Serialize(otherScale, context));
        Assert.Equal(expected.Error is null, actual.Error is null);
        Assert.Equal(expected.Bytes, actual.Bytes);

        var missing = Sample();
        missing.customerId = null!;
        Assert.NotNull(Record(() => confluent.Serialize(missing, context)).Error);
        Assert.IsType<AvroException>(Record(() => ours.Serialize(missing, context)).Error);

        static (byte[]? Bytes, Exception? Error) Record(Func<byte[]> write)
        {
            try
            {
                return (write(), null);
            }
            catch (Exception ex) when (ex is not Xunit.Sdk.XunitException)
            {
                return (null, ex);
            }
        }
    }

    [Fact]
    public void The_contracts_the_finance_mapping_reads_all_have_a_compiled_reader()
    {
        Assert.True(StreamizAvroSerDes<Invoice>.HasCompiledWriter);
        Assert.True(StreamizAvroSerDes<Invoice>.HasCompiledReader);
        Assert.True(StreamizAvroSerDes<CreditNote>.HasCompiledReader);
        Assert.True(StreamizAvroSerDes<Payment>.HasCompiledReader);
        Assert.True(StreamizAvroSerDes<AccountLink>.HasCompiledReader);
        Assert.True(StreamizAvroSerDes<LegalEntity>.HasCompiledReader);
        Assert.True(StreamizAvroSerDes<Product>.HasCompiledReader);
    }

    [Fact]
    public void Master_data_decodes_to_what_Confluents_deserializer_gives()
    {
        var product = new Product
        {
            productId = "prod_1", name = "Pro", kind = ProductKind.SUBSCRIPTION, active = true, updatedAt = new DateTime(2026, 1, 2, 3, 4, 5, 6, DateTimeKind.Utc), prices = [],
        };
        var entity = new LegalEntity
        {
            legalEntityId = "US01", name = "US", country = "US", functionalCurrency = "USD", taxRegistrationIds = ["A", "B"], billingCountries = ["US", "CA"], active = true,
            updatedAt = DateTime.UnixEpoch,
        };

        Assert.Equal(Describe(new AvroSerdes<Product>(registry.Client).DeserializeValue(new AvroSerdes<Product>(registry.Client).SerializeValue(product, Topics.Products), Topics.Products)),
            Describe(RoundTrip(product, Topics.Products)));
        Assert.Equal(Describe(new AvroSerdes<LegalEntity>(registry.Client).DeserializeValue(new AvroSerdes<LegalEntity>(registry.Client).SerializeValue(entity, Topics.LegalEntities), Topics.LegalEntities)),
            Describe(RoundTrip(entity, Topics.LegalEntities)));
    }

    [Fact]
    public async Task A_record_written_with_another_schema_is_resolved_by_Avro_not_read_as_the_contracts_own()
    {
        // Same fields, but the writer's InvoiceStatus lists its symbols in another order: the enum index on the wire means
        // another symbol, so reading it as the contract's own schema would give the wrong status.
        var writerJson = Invoice._SCHEMA.ToString().Replace("\"DRAFT\",\"OPEN\",\"PAID\",\"VOID\",\"UNCOLLECTIBLE\"", "\"UNCOLLECTIBLE\",\"VOID\",\"PAID\",\"OPEN\",\"DRAFT\"", StringComparison.Ordinal);
        Assert.NotEqual(Invoice._SCHEMA.ToString(), writerJson);
        var writerSchema = Avro.Schema.Parse(writerJson);
        var id = await registry.Client.RegisterSchemaAsync("compiled-reader-evolution-value", new Confluent.SchemaRegistry.Schema(writerJson, SchemaType.Avro));
        var invoice = new AvroSerdes<Invoice>(registry.Client).DeserializeValue(new AvroSerdes<Invoice>(registry.Client).SerializeValue(Sample(), Topics.BillingInvoices), Topics.BillingInvoices);
        invoice.status = InvoiceStatus.DRAFT;
        using var body = new MemoryStream();
        body.Write([0, (byte)(id >> 24), (byte)(id >> 16), (byte)(id >> 8), (byte)id]);
        new SpecificDatumWriter<Invoice>(writerSchema).Write(invoice, new Avro.IO.BinaryEncoder(body));
        var bytes = body.ToArray();
        Assert.Equal(4, bytes[5 + 1 + invoice.invoiceId.Length + 1 + 1 + invoice.number.Length + 1 + invoice.customerId.Length + 1] / 2); // DRAFT is index 4 for this writer

        var read = new StreamizAvroSerDes<Invoice>(registry.Client).Deserialize(bytes, InvoiceContext);

        Assert.Equal(InvoiceStatus.DRAFT, read.status);
        Assert.Equal(Describe(invoice), Describe(read));
    }

    [Fact]
    public void Truncated_or_corrupt_records_fail_instead_of_giving_a_partial_value()
    {
        var ours = new StreamizAvroSerDes<Invoice>(registry.Client);
        var bytes = ours.Serialize(Sample(), InvoiceContext);

        for (var length = 5; length < bytes.Length; length += 7)
        {
            Assert.ThrowsAny<AvroException>(() => ours.Deserialize(bytes[..length], InvoiceContext));
        }

        var badEnum = (byte[])bytes.Clone();
        var statusAt = 5 + 1 + "in_1".Length + 2 + "INV-1".Length + 1 + "cus_1".Length + 1;
        badEnum[statusAt] = 2 * 9; // status index 9 of 5 symbols
        Assert.Contains("Invalid enum index 9", Assert.Throws<AvroException>(() => ours.Deserialize(badEnum, InvoiceContext)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void A_record_that_contains_itself_gets_no_compiled_reader_or_writer_and_is_left_to_Avro()
    {
        var schema = Avro.Schema.Parse("""
            {"type":"record","name":"Node","namespace":"test","fields":[
              {"name":"name","type":"string"},
              {"name":"children","type":{"type":"array","items":"Node"}}]}
            """);

        // Without the recursion guard, building either would overflow the stack and end the process.
        Assert.Null(CompiledAvroReader<Node>.TryCreate(schema));
        Assert.Null(CompiledAvroWriter<Node>.TryCreate(schema));
    }

    [Fact]
    public void An_int_field_holding_a_value_out_of_int_range_fails_as_an_Avro_error()
    {
        var input = new AvroInput([0x80, 0x80, 0x80, 0x80, 0x10], 0); // zig-zag of int.MaxValue + 1
        Assert.Contains("out of range", Assert.Throws<AvroException>(() => input.ReadInt()).Message, StringComparison.Ordinal);
        Assert.Equal(int.MaxValue, new AvroInput([0xFE, 0xFF, 0xFF, 0xFF, 0x0F], 0).ReadInt());
    }

    /// <summary>A self-referencing record type for the recursion guard.</summary>
    public sealed class Node
    {
#pragma warning disable IDE1006 // Avro field names, as the generated contracts spell them
        public string name { get; set; } = "";

        public IList<Node> children { get; set; } = [];
#pragma warning restore IDE1006
    }

    private static Invoice Sample() => new()
    {
        invoiceId = "in_1", number = "INV-1", customerId = "cus_1", status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED,
        currency = "USD", subtotal = Money.ToAvro(500m), tax = Money.ToAvro(40m), total = Money.ToAvro(540m), amountPaid = Money.ToAvro(0m),
        lines = [new InvoiceLine { lineId = "l1", kind = LineKind.SERVICES, productId = "prod_svc", quantity = Money.Quantity(1m), amount = Money.ToAvro(500m) }],
        taxLines = [new TaxLine { jurisdictionCode = "US-CA", rate = Money.Rate(0.08m), taxableAmount = Money.ToAvro(500m), amount = Money.ToAvro(40m) }],
        issuedAt = new DateTime(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc), sourceEventId = "evt_1", sourceSystem = BillingSourceSystem.STRIPE,
        occurredAt = new DateTime(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc),
    };

    private T RoundTrip<T>(T value, string topic)
        where T : class, ISpecificRecord
    {
        var serdes = new StreamizAvroSerDes<T>(registry.Client);
        var context = new SerializationContext(MessageComponentType.Value, topic);
        return serdes.Deserialize(new AvroSerdes<T>(registry.Client).SerializeValue(value, topic), context);
    }

    // Every property, recursively, with decimals as unscaled value and scale and dates with their kind and ticks.
    private static string Describe(object? value)
    {
        var text = new StringBuilder();
        void Walk(object? v)
        {
            switch (v)
            {
                case null:
                    text.Append("null");
                    break;
                case string s:
                    text.Append('"').Append(s).Append('"');
                    break;
                case AvroDecimal d:
                    text.Append(CultureInfo.InvariantCulture, $"{d.UnscaledValue}e-{d.Scale}");
                    break;
                case DateTime t:
                    text.Append(CultureInfo.InvariantCulture, $"{t.Ticks}{t.Kind}");
                    break;
                case byte[] b:
                    text.Append(Convert.ToHexString(b));
                    break;
                case ISpecificRecord r:
                    text.Append(r.GetType().Name).Append('{');
                    foreach (var f in r.Schema is RecordSchema rs ? rs.Fields : [])
                    {
                        text.Append(f.Name).Append('=');
                        Walk(r.Get(f.Pos));
                        text.Append(';');
                    }

                    text.Append('}');
                    break;
                case IList list:
                    text.Append(list.GetType().Name).Append('[');
                    foreach (var item in list)
                    {
                        Walk(item);
                        text.Append(',');
                    }

                    text.Append(']');
                    break;
                default:
                    text.Append(CultureInfo.InvariantCulture, $"{v.GetType().Name}:{v}");
                    break;
            }
        }

        Walk(value);
        return text.ToString();
    }
}
