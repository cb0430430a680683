using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Producers.Billing;
using Streaming.Producers.Edge;

namespace Streaming.Producers.Tests;

/// <summary>Stripe events from the published examples (Fixtures/stripe, sources in Fixtures/SOURCES.md) mapped field by field; no broker.</summary>
public sealed class StripeEventMapperTests
{
    private static EdgeBatch Map(string fixture)
    {
        using var doc = JsonDocument.Parse(ConnectorTestStack.Fixture($"stripe/{fixture}"));
        return StripeEventMapper.Map(doc.RootElement);
    }

    private static DateTime At(long unix) => DateTimeOffset.FromUnixTimeSeconds(unix).UtcDateTime;

    [Fact]
    public void Invoice_finalized_keeps_ids_amounts_in_dollars_lines_and_tax_by_jurisdiction()
    {
        var record = Assert.Single(Map("invoice.finalized.json").Records);
        Assert.Equal((Topics.BillingInvoices, "in_1MtHbELkdIwHu7ixl4OzzPMv", "evt_1NG8Du2eZvKYlo2CUI79vXWy", "q2c-acme-2026-11"),
            (record.Topic, record.Key, record.EventId, record.CorrelationId));
        var invoice = Assert.IsType<Invoice>(record.Value);
        Assert.Equal("in_1MtHbELkdIwHu7ixl4OzzPMv", invoice.invoiceId);
        Assert.Equal("D2C4A0D4-0001", invoice.number);
        Assert.Equal("cus_NeZwdNtLEOXuvB", invoice.customerId);
        Assert.Equal("sub_1NzlYfGgdF1VjufLJPzK3m0r", invoice.subscriptionId);
        Assert.Equal(InvoiceStatus.OPEN, invoice.status);
        Assert.Equal(InvoiceEventType.FINALIZED, invoice.eventType);
        Assert.Equal("USD", invoice.currency);
        Assert.Equal(10.00m, Money.ToDecimal(invoice.subtotal));
        Assert.Equal(0.85m, Money.ToDecimal(invoice.tax));
        Assert.Equal(10.85m, Money.ToDecimal(invoice.total));
        Assert.Equal(0m, Money.ToDecimal(invoice.amountPaid));
        Assert.Equal(At(1680644468), invoice.issuedAt);
        Assert.Null(invoice.paidAt);
        Assert.Null(invoice.voidedAt);
        Assert.Null(invoice.dueDate);
        Assert.Equal("q2c-acme-2026-11", invoice.correlationId);
        Assert.Equal("evt_1NG8Du2eZvKYlo2CUI79vXWy", invoice.sourceEventId);
        Assert.Equal(BillingSourceSystem.STRIPE, invoice.sourceSystem);
        Assert.Equal(At(1680644470), invoice.occurredAt);

        var line = Assert.Single(invoice.lines);
        Assert.Equal("il_tmp_1Nzo1ZGgdF1VjufLzD1UUn9R", line.lineId);
        Assert.Equal("1 × Gold Plan (at $10.00 / month)", line.description);
        Assert.Equal(LineKind.SUBSCRIPTION, line.kind);
        Assert.Equal("prod_OnMHDH6VBmYlTr", line.productId);
        Assert.Equal("price_1NzlYfGgdF1VjufL0cVjLJVI", line.priceId);
        Assert.Equal("si_OnMHPFz7YTtSVY", line.subscriptionItemId);
        Assert.Equal(1m, Money.ToDecimal(line.quantity));
        Assert.Equal(10.00m, Money.ToDecimal(line.amount));
        Assert.Equal(At(1697389000), line.servicePeriodStart);
        Assert.Equal(At(1699981000), line.servicePeriodEnd);

        var tax = Assert.Single(invoice.taxLines);
        Assert.Equal("US-CA", tax.jurisdictionCode);
        Assert.Equal(0.085m, Money.ToDecimal(tax.rate));
        Assert.Equal(10.00m, Money.ToDecimal(tax.taxableAmount));
        Assert.Equal(0.85m, Money.ToDecimal(tax.amount));
        Assert.Null(tax.lineId);
    }

    [Fact]
    public void A_zero_decimal_currency_keeps_its_amounts_whole_and_the_2025_shape_is_read()
    {
        var record = Assert.Single(Map("invoice.paid.jpy.json").Records);
        var invoice = Assert.IsType<Invoice>(record.Value);
        Assert.Equal("JPY", invoice.currency);
        Assert.Equal(8000m, Money.ToDecimal(invoice.total));
        Assert.Equal(8000m, Money.ToDecimal(invoice.subtotal));
        Assert.Equal(8000m, Money.ToDecimal(invoice.amountPaid));
        Assert.Equal(0m, Money.ToDecimal(invoice.tax));
        Assert.Empty(invoice.taxLines);
        Assert.Equal(InvoiceEventType.PAID, invoice.eventType);
        Assert.Equal(InvoiceStatus.PAID, invoice.status);
        Assert.Equal("sub_fake123456789", invoice.subscriptionId);
        Assert.Equal(At(1507273990), invoice.paidAt);
        Assert.Equal(At(1509952319).Date, invoice.dueDate);
        Assert.Null(invoice.correlationId);
        Assert.Equal("invoice:in_fake123456789", record.CorrelationId);
        var line = Assert.Single(invoice.lines);
        Assert.Equal((LineKind.SUBSCRIPTION, "prod_fake123456789", "price_fake123456789", "si_fake123456789", 8000m),
            (line.kind, line.productId, line.priceId, line.subscriptionItemId, Money.ToDecimal(line.amount)));
    }

    [Theory]
    [InlineData(1500L, "JPY", "1500")]
    [InlineData(1500L, "usd", "15")]
    [InlineData(1500L, "KWD", "1.5")]
    [InlineData(-199L, "EUR", "-1.99")]
    [InlineData(1L, "CLF", "0.0001")]
    public void Minor_units_become_decimals_by_the_currency_exponent(long minor, string currency, string expected)
        => Assert.Equal(decimal.Parse(expected, System.Globalization.CultureInfo.InvariantCulture), StripeEventMapper.FromMinorUnits(minor, currency));

    [Fact]
    public void Customer_created_keeps_the_crm_link_and_metadata()
    {
        var record = Assert.Single(Map("customer.created.json").Records);
        var customer = Assert.IsType<BillingCustomer>(record.Value);
        Assert.Equal((Topics.BillingCustomers, "cus_NffrFeUfNV2Hib"), (record.Topic, record.Key));
        Assert.Equal("Jenny Rosen", customer.name);
        Assert.Equal("jennyrosen@example.com", customer.email);
        Assert.Null(customer.currency);
        Assert.Equal("US", customer.addressCountry);
        Assert.Equal("001RM000004UF9sYAG", customer.crmAccountId);
        Assert.Equal("001RM000004UF9sYAG", customer.metadata["crm_account_id"]);
        Assert.False(customer.deleted);
        Assert.Equal("evt_1NffrGLkdIwHu7ixUxWGQ0EJ", customer.sourceEventId);
        Assert.Equal(At(1680893993), customer.createdAt);
        Assert.Equal(At(1680893993), customer.updatedAt);
    }

    [Fact]
    public void Subscription_created_lists_its_items_with_prices_and_periods()
    {
        var record = Assert.Single(Map("customer.subscription.created.json").Records);
        var sub = Assert.IsType<Subscription>(record.Value);
        Assert.Equal(("sub_1MowQVLkdIwHu7ixeRlqHVzs", "cus_Na6dX7aXxi11N4", SubscriptionStatus.ACTIVE, "USD"), (sub.subscriptionId, sub.customerId, sub.status, sub.currency));
        Assert.Equal(At(1679609767), sub.currentPeriodStart);
        Assert.Equal(At(1682288167), sub.currentPeriodEnd);
        Assert.Equal(At(1679609767), sub.startedAt);
        Assert.Null(sub.canceledAt);
        Assert.Equal("006RM000003kTzQYAU", sub.crmOpportunityId);
        var item = Assert.Single(sub.items);
        Assert.Equal(("si_Na6dzxczY5fwHx", "price_1MowQULkdIwHu7ixraBm864M", "prod_Na6dGcTsmU0I4R", 1L), (item.subscriptionItemId, item.priceId, item.productId, item.quantity));
        Assert.Equal(At(1679609767), item.currentPeriodStart);
        Assert.Equal(At(1682288167), item.currentPeriodEnd);
    }

    [Fact]
    public void Payment_intent_succeeded_is_a_payment_against_its_invoice()
    {
        var record = Assert.Single(Map("payment_intent.succeeded.json").Records);
        var payment = Assert.IsType<Payment>(record.Value);
        Assert.Equal((Topics.BillingPayments, "pi_3MtwBwLkdIwHu7ix28a3tqPa", "invoice:in_1MtHbELkdIwHu7ixl4OzzPMv"), (record.Topic, record.Key, record.CorrelationId));
        Assert.Equal(("in_1MtHbELkdIwHu7ixl4OzzPMv", "cus_NffrFeUfNV2Hib", 20.00m, "USD"), (payment.invoiceId, payment.customerId, Money.ToDecimal(payment.amount), payment.currency));
        Assert.Equal((PaymentStatus.SUCCEEDED, PaymentKind.PAYMENT), (payment.status, payment.kind));
        Assert.Null(payment.fee);
        Assert.Null(payment.refundedPaymentId);
        Assert.Null(payment.failureReason);
        Assert.Equal(At(1680800505), payment.occurredAt);
    }

    [Fact]
    public void Charge_refunded_gives_one_refund_record_per_refund()
    {
        var record = Assert.Single(Map("charge.refunded.json").Records);
        var refund = Assert.IsType<Payment>(record.Value);
        Assert.Equal("re_1Nispe2eZvKYlo2Cd31jOCgZ", record.Key);
        Assert.Equal((PaymentKind.REFUND, PaymentStatus.SUCCEEDED, 10.00m, "USD"), (refund.kind, refund.status, Money.ToDecimal(refund.amount), refund.currency));
        Assert.Equal(("pi_3MmlLrLkdIwHu7ix0uke3Ezy", "cus_NffrFeUfNV2Hib"), (refund.refundedPaymentId, refund.customerId));
        Assert.Equal(At(1692942318), refund.occurredAt);
    }

    [Fact]
    public void Credit_note_created_keeps_the_invoice_and_credited_line()
    {
        var record = Assert.Single(Map("credit_note.created.json").Records);
        var note = Assert.IsType<CreditNote>(record.Value);
        Assert.Equal(("cn_1MxvRqLkdIwHu7ixY0xbUcxk", "in_1MxvRkLkdIwHu7ixABNtI99m", "C9E0C52C-0036-CN-01", "cus_NjLgPhUokHubJC"),
            (note.creditNoteId, note.invoiceId, note.number, note.customerId));
        Assert.Equal((10.99m, 0m, 10.99m), (Money.ToDecimal(note.subtotal), Money.ToDecimal(note.tax), Money.ToDecimal(note.total)));
        Assert.Equal(At(1681750958), note.issuedAt);
        var line = Assert.Single(note.lines);
        Assert.Equal(("cnli_1MxvRqLkdIwHu7ixFpdhBFQf", "il_1MxvRlLkdIwHu7ixnkbntxUV", "T-shirt", 10.99m, LineKind.SUBSCRIPTION),
            (line.lineId, line.invoiceLineId, line.description, Money.ToDecimal(line.amount), line.originalLineKind));
        Assert.Equal("invoice:in_1MxvRkLkdIwHu7ixABNtI99m", record.CorrelationId);
    }

    [Fact]
    public void Unhandled_event_types_are_counted_not_mapped()
    {
        using var doc = JsonDocument.Parse("{\"id\":\"evt_x\",\"type\":\"setup_intent.created\",\"created\":1686089970,\"data\":{\"object\":{\"id\":\"seti_1\"}}}");
        var batch = StripeEventMapper.Map(doc.RootElement);
        Assert.Empty(batch.Records);
        Assert.Equal(1, batch.IgnoredEvents);
    }

    [Fact]
    public void A_missing_required_field_is_named()
    {
        using var doc = JsonDocument.Parse("{\"id\":\"evt_x\",\"type\":\"invoice.paid\",\"created\":1,\"data\":{\"object\":{\"id\":\"in_1\",\"currency\":\"usd\",\"customer\":\"cus_1\",\"status\":\"paid\",\"total\":1}}}");
        var ex = Assert.Throws<VendorPayloadException>(() => StripeEventMapper.Map(doc.RootElement));
        Assert.Contains("invoice.subtotal", ex.Message, StringComparison.Ordinal);
    }
}
