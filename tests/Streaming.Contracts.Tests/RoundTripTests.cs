using System.Globalization;
using Avro;
using Avro.IO;
using Avro.Specific;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Crm;
using Streaming.Contracts.Erp;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;

namespace Streaming.Contracts.Tests;

/// <summary>
/// Populated instances of the main records survive Avro binary encoding through SpecificDatumWriter/Reader with
/// decimals (value and scale) and timestamps intact. Schema-registry framing (magic byte + id) is not covered.
/// </summary>
public sealed class RoundTripTests
{
    private static readonly DateTime Issued = new(2026, 11, 1, 9, 30, 15, 123, DateTimeKind.Utc);
    private static readonly DateTime PeriodStart = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime PeriodEnd = new(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc);

    private static T RoundTrip<T>(T record) where T : ISpecificRecord
    {
        using var stream = new MemoryStream();
        new SpecificDatumWriter<T>(record.Schema).Write(record, new BinaryEncoder(stream));
        stream.Position = 0;
        return new SpecificDatumReader<T>(record.Schema, record.Schema).Read(default!, new BinaryDecoder(stream));
    }

    private static string Text(AvroDecimal value) => Money.ToDecimal(value).ToString(CultureInfo.InvariantCulture);

    private static Invoice SampleInvoice() => new()
    {
        invoiceId = "in_1QabcXYZ",
        number = "A1B2C3-0001",
        customerId = "cus_Q1w2e3",
        subscriptionId = "sub_1Qxyz",
        status = InvoiceStatus.OPEN,
        eventType = InvoiceEventType.FINALIZED,
        currency = "USD",
        subtotal = Money.ToAvro(1234.5678m),
        tax = Money.ToAvro(0.0001m),
        total = Money.ToAvro(1234.5679m),
        amountPaid = Money.ToAvro(0m),
        lines =
        [
            new InvoiceLine
            {
                lineId = "il_1",
                description = "Pro plan × 10 seats",
                kind = Billing.LineKind.SUBSCRIPTION,
                productId = "prod_pro",
                priceId = "price_pro_monthly",
                subscriptionItemId = "si_9",
                quantity = Money.Quantity(10m),
                amount = Money.ToAvro(1234.5678m),
                servicePeriodStart = PeriodStart,
                servicePeriodEnd = PeriodEnd,
            },
            new InvoiceLine
            {
                lineId = "il_2",
                kind = Billing.LineKind.SERVICES,
                quantity = Money.Quantity(0.5m),
                amount = Money.ToAvro(0m),
            },
        ],
        taxLines =
        [
            new TaxLine { jurisdictionCode = "US-CA", rate = Money.Rate(0.0725m), taxableAmount = Money.ToAvro(1234.5678m), amount = Money.ToAvro(0.0001m), lineId = "il_1" },
        ],
        issuedAt = Issued,
        dueDate = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc),
        correlationId = "corr-opp-006Qx",
        sourceEventId = "evt_1Qabc",
        sourceSystem = BillingSourceSystem.STRIPE,
        occurredAt = Issued,
    };

    [Fact]
    public void Invoice_round_trip_keeps_decimals_scales_and_timestamps_exactly()
    {
        var back = RoundTrip(SampleInvoice());

        Assert.Equal("1234.5678", Text(back.subtotal));
        Assert.Equal("0.0001", Text(back.tax));
        Assert.Equal("1234.5679", Text(back.total));
        Assert.Equal("0.0000", Text(back.amountPaid));
        Assert.Equal("10.000000", Text(back.lines[0].quantity));
        Assert.Equal("0.500000", Text(back.lines[1].quantity));
        Assert.Equal("0.072500", Text(back.taxLines[0].rate));
        Assert.Equal(Issued, back.issuedAt.ToUniversalTime());
        Assert.Equal(PeriodEnd, back.lines[0].servicePeriodEnd!.Value.ToUniversalTime());
        Assert.Null(back.lines[1].servicePeriodStart);
        Assert.Null(back.voidedAt);
        Assert.Equal(InvoiceEventType.FINALIZED, back.eventType);
        Assert.Equal(Billing.LineKind.SERVICES, back.lines[1].kind);
        Assert.Equal("Pro plan × 10 seats", back.lines[0].description);
    }

    [Fact]
    public void Jpy_amount_without_minor_units_is_carried_at_scale_4()
    {
        var payment = new Payment
        {
            paymentId = "pi_3Qjpy",
            invoiceId = "in_jpy",
            customerId = "cus_jp",
            amount = Money.ToAvro(1500m),
            fee = Money.ToAvro(54m),
            currency = "JPY",
            status = PaymentStatus.SUCCEEDED,
            kind = PaymentKind.PAYMENT,
            occurredAt = Issued,
            sourceEventId = "evt_jpy",
            sourceSystem = BillingSourceSystem.STRIPE,
        };

        var back = RoundTrip(payment);

        Assert.Equal("1500.0000", Text(back.amount));
        Assert.Equal(1500m, Money.ToDecimal(back.amount));
        Assert.Equal(54m, Money.ToDecimal(back.fee));
        Assert.Null(back.refundedPaymentId);
        Assert.Equal(Issued, back.occurredAt.ToUniversalTime());
    }

    [Fact]
    public void Finance_event_round_trip_keeps_lines_and_source_coordinates()
    {
        var evt = new FinanceEvent
        {
            eventId = "fe-invoice-in_1-issued",
            eventType = FinanceEventType.INVOICE_ISSUED,
            postingKey = "invoice:in_1:issued",
            correlationId = "corr-1",
            legalEntityId = "LE-US-01",
            customerId = "CUST-000042",
            currency = "USD",
            totalAmount = Money.ToAvro(-99999999999999.9999m),
            taxAmount = Money.ToAvro(0.0001m),
            effectiveDate = Issued,
            documentNumber = "A1B2C3-0001",
            lines =
            [
                new FinanceEventLine { lineId = "il_1", kind = FinanceLineKind.SUBSCRIPTION, amount = Money.ToAvro(1234.5678m), productId = "prod_pro", servicePeriodStart = PeriodStart, servicePeriodEnd = PeriodEnd },
                new FinanceEventLine { lineId = "tax:US-CA", kind = FinanceLineKind.TAX, amount = Money.ToAvro(0.0001m), taxJurisdiction = "US-CA" },
            ],
            source = new SourceRef { system = "STRIPE", objectType = "invoice", objectId = "in_1", eventId = "evt_1", topic = Topics.BillingInvoices, partition = 3, offset = 1234567890123L },
            createdAt = Issued,
        };

        var back = RoundTrip(evt);

        Assert.Equal("-99999999999999.9999", Text(back.totalAmount));
        Assert.Equal("0.0001", Text(back.lines[1].amount));
        Assert.Equal("US-CA", back.lines[1].taxJurisdiction);
        Assert.Equal(FinanceEventType.INVOICE_ISSUED, back.eventType);
        Assert.Equal(1234567890123L, back.source.offset);
        Assert.Equal(3, back.source.partition);
        Assert.Equal(Issued, back.effectiveDate.ToUniversalTime());
    }

    [Fact]
    public void Order_usage_and_opportunity_round_trip_keep_quantities_and_dates()
    {
        var start = new DateTime(2026, 11, 15, 0, 0, 0, DateTimeKind.Utc);
        var order = RoundTrip(new FinanceOrder
        {
            orderId = "ord-006Qx", correlationId = "corr-1", opportunityId = "006Qx", canonicalCustomerId = "CUST-1",
            parentAccountId = "001Parent", subsidiaryAccountIds = ["001SubA", "001SubB"], legalEntityId = "LE-DE-01",
            taxNexusJurisdictions = ["DE"], currency = "EUR", contractStartDate = start, termMonths = 12,
            totalAmount = Money.ToAvro(12000m),
            lines = [new OrderLine { productId = "prod_pro", kind = OrderLineKind.SUBSCRIPTION, quantity = Money.Quantity(10m), unitPrice = Money.ToAvro(100m), amount = Money.ToAvro(12000m), serviceStartDate = start }],
            source = new SourceRef { system = "SALESFORCE", objectType = "opportunity", objectId = "006Qx", eventId = "cdc-uuid-1" },
            createdAt = Issued,
        });
        Assert.Equal(start, order.contractStartDate.ToUniversalTime().Date);
        Assert.Equal("12000.0000", Text(order.totalAmount));
        Assert.Equal(["001SubA", "001SubB"], order.subsidiaryAccountIds);
        Assert.Null(order.source.topic);

        var usage = RoundTrip(new UsageEvent
        {
            usageEventId = "u-1", subscriptionItemId = "si_9", customerId = "cus_1", meter = "api_calls",
            quantity = Money.Quantity(123456789012.123456m), occurredAt = Issued, receivedAt = Issued.AddMilliseconds(1),
            source = "api-gateway-eu1", attributes = new Dictionary<string, string> { ["region"] = "eu" },
        });
        Assert.Equal("123456789012.123456", Text(usage.quantity));
        Assert.Equal(Issued.AddMilliseconds(1), usage.receivedAt.ToUniversalTime());
        Assert.Equal("eu", usage.attributes["region"]);

        var opp = RoundTrip(new CrmOpportunity
        {
            opportunityId = "006Qx", accountId = "001A", stage = "Closed Won", isClosedWon = true, closeDate = start,
            contractTermMonths = 12, currency = "EUR", amount = Money.ToAvro(12000.5m),
            lineItems = [new OpportunityLineItem { lineItemId = "00k1", productCode = "prod_pro", quantity = Money.Quantity(1m), unitPrice = Money.ToAvro(12000.5m), lineKind = Crm.LineKind.SUBSCRIPTION }],
            eventId = "cdc-uuid-1", sourceSystem = CrmSourceSystem.SALESFORCE, changedFields = ["StageName"],
            commitTimestamp = Issued, receivedAt = Issued,
        });
        Assert.Equal("12000.5000", Text(opp.amount!.Value));
        Assert.Equal(start, opp.closeDate!.Value.ToUniversalTime().Date);
        Assert.Null(opp.contractStartDate);
    }

    [Fact]
    public void Ops_and_erp_records_round_trip_bytes_maps_and_status()
    {
        var q = RoundTrip(new QuarantineRecord
        {
            quarantineId = "q-1", reasonCode = "MISSING_ACCOUNT_LINK", reasonDetail = "no md.account-links.v1 entry for cus_1",
            missing = ["md.account-links.v1:cus_1"], stage = "invoice-mapper", correlationId = "corr-1",
            businessContext = new Dictionary<string, string> { ["customer"] = "cus_1", ["amount"] = "1234.5678 USD" },
            sourceTopic = Topics.BillingInvoices, sourcePartition = 1, sourceOffset = 42,
            originalValue = [0, 0, 0, 0, 1, 2], headers = new Dictionary<string, byte[]> { ["correlation-id"] = "corr-1"u8.ToArray() },
            quarantinedAt = Issued,
        });
        Assert.Equal(new byte[] { 0, 0, 0, 0, 1, 2 }, q.originalValue);
        Assert.Null(q.originalKey);
        Assert.Equal("corr-1"u8.ToArray(), q.headers["correlation-id"]);

        var posting = RoundTrip(new ErpPostingResult
        {
            postingKey = "invoice:in_1:issued", correlationId = "corr-1", erpDocumentId = "JE-1001", status = PostingStatus.POSTED,
            contentHash = new string('a', 64), legalEntityId = "LE-US-01", currency = "USD", totalDebits = Money.ToAvro(1234.5679m),
            postedAt = Issued, ledgerName = "sqlite",
        });
        Assert.Equal(PostingStatus.POSTED, posting.status);
        Assert.Equal("1234.5679", Text(posting.totalDebits));

        var product = RoundTrip(new Product
        {
            productId = "prod_api", name = "API calls", kind = ProductKind.USAGE, updatedAt = Issued,
            prices =
            [
                new Price
                {
                    priceId = "price_api", currency = "USD", billingInterval = BillingInterval.MONTH, meter = "api_calls",
                    tiers =
                    [
                        new PriceTier { upTo = Money.Quantity(1000m), unitAmount = Money.ToAvro(0.0010m) },
                        new PriceTier { unitAmount = Money.ToAvro(0.0005m), flatAmount = Money.ToAvro(10m) },
                    ],
                },
            ],
        });
        Assert.Equal("0.0010", Text(product.prices[0].tiers[0].unitAmount));
        Assert.Null(product.prices[0].tiers[1].upTo);
        Assert.Null(product.prices[0].unitAmount);
    }

    [Fact]
    public void Writing_a_decimal_at_the_wrong_scale_is_refused_by_avro()
    {
        var invoice = SampleInvoice();
        invoice.total = new AvroDecimal(12.5m); // scale 1, schema says 4

        Assert.ThrowsAny<Exception>(() => RoundTrip(invoice));
    }
}
