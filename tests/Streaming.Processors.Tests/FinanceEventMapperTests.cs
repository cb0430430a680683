using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Processors.FinanceMapping;

namespace Streaming.Processors.Tests;

/// <summary>Billing facts → canonical finance events: types, posting keys, lines and amounts to the cent. The topology wiring is covered by the demo end-to-end test.</summary>
public sealed class FinanceEventMapperTests
{
    private static readonly AccountLink Link = new()
    {
        canonicalCustomerId = "C-1001", billingCustomerId = "cus_acme", legalEntityId = "US01", billingCountry = "US", updatedAt = DateTime.UnixEpoch,
    };

    private static readonly SourcePosition Pos = new("billing.invoices.v1", 2, 41);

    private static Invoice Invoice(InvoiceEventType type) => new()
    {
        invoiceId = "in_1", number = "INV-1", customerId = "cus_acme", status = InvoiceStatus.OPEN, eventType = type, currency = "usd",
        subtotal = Money.ToAvro(1700m), tax = Money.ToAvro(131.75m), total = Money.ToAvro(1831.75m), amountPaid = Money.ToAvro(0m),
        lines =
        [
            new InvoiceLine { lineId = "il_1", description = "sub", kind = LineKind.SUBSCRIPTION, quantity = Money.Quantity(1m), amount = Money.ToAvro(1200m),
                servicePeriodStart = new DateTime(2026, 11, 15, 0, 0, 0, DateTimeKind.Utc), servicePeriodEnd = new DateTime(2027, 11, 15, 0, 0, 0, DateTimeKind.Utc) },
            new InvoiceLine { lineId = "il_2", description = "svc", kind = LineKind.SERVICES, quantity = Money.Quantity(1m), amount = Money.ToAvro(500m) },
        ],
        taxLines =
        [
            new TaxLine { jurisdictionCode = "US-CA", rate = Money.Rate(0.0725m), taxableAmount = Money.ToAvro(1700m), amount = Money.ToAvro(123.25m) },
            new TaxLine { jurisdictionCode = "US-CA-SF", rate = Money.Rate(0.005m), taxableAmount = Money.ToAvro(1700m), amount = Money.ToAvro(8.50m) },
        ],
        issuedAt = new DateTime(2026, 11, 15, 9, 0, 0, DateTimeKind.Utc), voidedAt = new DateTime(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc),
        correlationId = "q2c-acme", sourceEventId = "evt_1", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = new DateTime(2026, 11, 15, 9, 0, 1, DateTimeKind.Utc),
    };

    [Fact]
    public void Finalized_invoice_with_two_tax_jurisdictions_becomes_invoice_issued_with_every_line()
    {
        var fe = FinanceEventMapper.FromInvoice(Invoice(InvoiceEventType.FINALIZED), Link, Pos)!;

        Assert.Equal(FinanceEventType.INVOICE_ISSUED, fe.eventType);
        Assert.Equal("invoice:in_1:issued", fe.postingKey);
        Assert.Equal("q2c-acme", fe.correlationId);
        Assert.Equal(("US01", "C-1001", "USD"), (fe.legalEntityId, fe.customerId, fe.currency));
        Assert.Equal(1831.75m, Money.ToDecimal(fe.totalAmount));
        Assert.Equal(131.75m, Money.ToDecimal(fe.taxAmount));
        Assert.Equal(
            [("il_1", FinanceLineKind.SUBSCRIPTION, 1200m, (string?)null), ("il_2", FinanceLineKind.SERVICES, 500m, null),
             ("tax:US-CA", FinanceLineKind.TAX, 123.25m, "US-CA"), ("tax:US-CA-SF", FinanceLineKind.TAX, 8.50m, "US-CA-SF")],
            fe.lines.Select(l => (l.lineId, l.kind, Money.ToDecimal(l.amount), (string?)l.taxJurisdiction)));
        Assert.Equal(1831.75m, fe.lines.Sum(l => Money.ToDecimal(l.amount)));
        Assert.NotNull(fe.lines[0].servicePeriodStart);
        Assert.Equal(("billing.invoices.v1", 2, 41L), (fe.source.topic, fe.source.partition!.Value, fe.source.offset!.Value));
    }

    [Fact]
    public void Voided_invoice_has_its_own_posting_key_and_the_void_date()
    {
        var fe = FinanceEventMapper.FromInvoice(Invoice(InvoiceEventType.VOIDED), Link, Pos)!;
        Assert.Equal(FinanceEventType.INVOICE_VOIDED, fe.eventType);
        Assert.Equal("invoice:in_1:voided", fe.postingKey);
        Assert.Equal(new DateTime(2026, 11, 20, 9, 0, 0, DateTimeKind.Utc), fe.effectiveDate);
    }

    [Fact]
    public void Same_fact_maps_to_the_same_event_id_and_posting_key()
    {
        var a = FinanceEventMapper.FromInvoice(Invoice(InvoiceEventType.FINALIZED), Link, Pos)!;
        var b = FinanceEventMapper.FromInvoice(Invoice(InvoiceEventType.FINALIZED), Link, new SourcePosition("billing.invoices.v1", 0, 7))!;
        Assert.Equal((a.eventId, a.postingKey), (b.eventId, b.postingKey));
    }

    [Theory]
    [InlineData(InvoiceEventType.PAID)]
    [InlineData(InvoiceEventType.PAYMENT_FAILED)]
    public void Invoice_events_without_a_posting_give_nothing(InvoiceEventType type)
        => Assert.Null(FinanceEventMapper.FromInvoice(Invoice(type), Link, Pos));

    private static Payment Payment(PaymentKind kind, PaymentStatus status, decimal? fee) => new()
    {
        paymentId = "pi_1", invoiceId = "in_1", customerId = "cus_acme", amount = Money.ToAvro(1831.75m), fee = fee is { } f ? Money.ToAvro(f) : null,
        currency = "USD", status = status, kind = kind, occurredAt = new DateTime(2026, 11, 18, 0, 0, 0, DateTimeKind.Utc),
        sourceEventId = "evt_p", sourceSystem = BillingSourceSystem.STRIPE,
    };

    [Fact]
    public void Succeeded_payment_with_a_fee_becomes_payment_applied_with_cash_and_fee_lines()
    {
        var fe = FinanceEventMapper.FromPayment(Payment(PaymentKind.PAYMENT, PaymentStatus.SUCCEEDED, 53.42m), Link, Pos)!;
        Assert.Equal(FinanceEventType.PAYMENT_APPLIED, fe.eventType);
        Assert.Equal("payment:pi_1:applied", fe.postingKey);
        Assert.Equal("invoice:in_1", fe.correlationId);
        Assert.Equal([(FinanceLineKind.CASH, 1831.75m), (FinanceLineKind.FEE, 53.42m)], fe.lines.Select(l => (l.kind, Money.ToDecimal(l.amount))));
    }

    [Fact]
    public void Refund_becomes_refund_issued()
    {
        var fe = FinanceEventMapper.FromPayment(Payment(PaymentKind.REFUND, PaymentStatus.SUCCEEDED, null), Link, Pos)!;
        Assert.Equal(FinanceEventType.REFUND_ISSUED, fe.eventType);
        Assert.Equal("refund:pi_1:issued", fe.postingKey);
    }

    [Fact]
    public void Failed_payment_gives_nothing()
        => Assert.Null(FinanceEventMapper.FromPayment(Payment(PaymentKind.PAYMENT, PaymentStatus.FAILED, null), Link, Pos));

    [Fact]
    public void Zero_decimal_currency_amounts_stay_whole()
    {
        var p = Payment(PaymentKind.PAYMENT, PaymentStatus.SUCCEEDED, null);
        p.currency = "JPY";
        p.amount = Money.ToAvro(150000m);
        var fe = FinanceEventMapper.FromPayment(p, Link, Pos)!;
        Assert.Equal(("JPY", 150000m), (fe.currency, Money.ToDecimal(fe.totalAmount)));
    }
}
