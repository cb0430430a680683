using System.Text;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Processors.FinanceMapping;
using Streaming.Sinks.Journals;
using FinanceLineKind = Streaming.Contracts.Finance.FinanceLineKind;
using Streaming.Sinks.Posting;
using static Streaming.Processors.Tests.Md;

namespace Streaming.Processors.Tests;

/// <summary>
/// The finance topology under <see cref="Streamiz.Kafka.Net.Mock.TopologyTestDriver"/>: invoices, credit notes and
/// payments become the exact canonical events (amounts to the minor unit), revenue schedules release per month, the
/// readiness gate waits and then quarantines, and tracing headers reach every output. Not covered here: the broker
/// wiring (integration tests) and usage windows (<see cref="UsageWindowTests"/>).
/// </summary>
public sealed class FinanceMappingTopologyTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly DateTime Nov1 = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Nov15 = new(2026, 11, 15, 0, 0, 0, DateTimeKind.Utc);
    private static readonly DateTime Feb15 = new(2027, 2, 15, 0, 0, 0, DateTimeKind.Utc);
    private DateTime _asOf = Nov15;

    private FinanceTopologyDriver Driver(TimeSpan? readiness = null) => new(registry.Serdes, new FinanceMappingOptions
    {
        ReadinessTimeout = readiness ?? TimeSpan.Zero, PunctuationInterval = TimeSpan.FromSeconds(1), RevenueClock = () => _asOf,
    });

    private static IEnumerable<(string LineId, FinanceLineKind Kind, decimal Amount, string? Jurisdiction)> Lines(FinanceEvent e)
        => e.lines.Select(l => (l.lineId, l.kind, Money.ToDecimal(l.amount), (string?)l.taxJurisdiction));

    private static Dictionary<string, decimal> NetByAccount(IEnumerable<FinanceEvent> events)
    {
        var builder = new JournalBuilder(DefaultChartOfAccounts.Instance);
        return events.Select(e => builder.Build(FinanceFactMapper.ToFact(e))).SelectMany(j => j.Lines)
            .GroupBy(l => l.Account).ToDictionary(g => g.Key, g => g.Sum(l => l.Debit - l.Credit));
    }

    [Fact]
    public void Two_currencies_two_entities_and_a_multi_line_invoice_with_two_tax_jurisdictions_map_to_the_cent()
    {
        using var d = Driver();
        Load(d);

        d.Invoices.PipeInput("in_us", Invoice("in_us", "cus_acme", "USD", InvoiceEventType.FINALIZED, Nov1,
            [Svc("il_1", 500.00m), UsageLine("il_2", 16.22m)], [TaxLine("US-CA", 0.0725m, 516.22m, 37.43m), TaxLine("US-NY", 0.04m, 516.22m, 20.65m)]));
        d.Invoices.PipeInput("in_de", Invoice("in_de", "cus_initech", "EUR", InvoiceEventType.FINALIZED, Nov1,
            [Svc("il_3", 800.00m)], [TaxLine("DE", 0.19m, 800.00m, 152.00m)]));

        var events = d.Events();
        Assert.Equal(2, events.Count);
        var us = events[0];
        Assert.Equal(("C-1001", FinanceEventType.INVOICE_ISSUED, "invoice:in_us:issued", "US01", "USD"), (us.Key, us.Value.eventType, us.Value.postingKey, us.Value.legalEntityId, us.Value.currency));
        Assert.Equal((574.30m, 58.08m), (Money.ToDecimal(us.Value.totalAmount), Money.ToDecimal(us.Value.taxAmount)));
        Assert.Equal(
            [("il_1", FinanceLineKind.SERVICES, 500.00m, null), ("il_2", FinanceLineKind.USAGE, 16.22m, null),
             ("tax:US-CA", FinanceLineKind.TAX, 37.43m, "US-CA"), ("tax:US-NY", FinanceLineKind.TAX, 20.65m, "US-NY")],
            Lines(us.Value));
        var de = events[1];
        Assert.Equal(("C-2001", "DE01", "EUR", 952.00m), (de.Key, de.Value.legalEntityId, de.Value.currency, Money.ToDecimal(de.Value.totalAmount)));
        Assert.Equal([("il_3", FinanceLineKind.SERVICES, 800.00m, null), ("tax:DE", FinanceLineKind.TAX, 152.00m, "DE")], Lines(de.Value));

        // Each journal balances in its own currency; tax lands on one payable account per jurisdiction.
        var usNet = NetByAccount([us.Value]);
        Assert.Equal((574.30m, -37.43m, -20.65m, -500.00m, -16.22m), (usNet["1100"], usNet["2300-US-CA"], usNet["2300-US-NY"], usNet["4200"], usNet["1150"]));
        Assert.Equal(0m, usNet.Values.Sum());
        Assert.Equal(0m, NetByAccount([de.Value]).Values.Sum());
        Assert.Empty(d.Quarantined().Select(q => q.Value.reasonDetail));
    }

    [Fact]
    public void Zero_decimal_currency_maps_whole_yen_and_refuses_fractions()
    {
        using var d = Driver();
        Load(d);

        d.Invoices.PipeInput("in_jp", Invoice("in_jp", "cus_tokyo", "JPY", InvoiceEventType.FINALIZED, Nov1, [Svc("il_1", 70000m)], [TaxLine("JP", 0.10m, 70000m, 7000m)]));
        d.Invoices.PipeInput("in_jp_bad", Invoice("in_jp_bad", "cus_tokyo", "JPY", InvoiceEventType.FINALIZED, Nov1, [Svc("il_1", 70000.5m)], []));

        var e = Assert.Single(d.Events()).Value;
        Assert.Equal(("C-3001", "JP01", "JPY", 77000m), (e.customerId, e.legalEntityId, e.currency, Money.ToDecimal(e.totalAmount)));
        Assert.Equal(0m, NetByAccount([e]).Values.Sum());
        var q = Assert.Single(d.Quarantined()).Value;
        Assert.Equal("INVALID_FACT", q.reasonCode);
        Assert.Contains("JPY allows (0)", q.reasonDetail, StringComparison.Ordinal);
        Assert.Equal("invoice:in_jp_bad:issued", q.postingKey);
    }

    [Fact]
    public void Mid_month_subscription_is_deferred_and_released_one_period_per_month_summing_to_the_line_with_headers()
    {
        using var d = Driver();
        Load(d);
        var headers = new Headers { { "correlation-id", Encoding.UTF8.GetBytes("q2c-acme-42") }, { "traceparent", Encoding.UTF8.GetBytes("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") } };

        d.Invoices.PipeInput("in_mid", Invoice("in_mid", "cus_acme", "USD", InvoiceEventType.FINALIZED, Nov15, [Sub("il_s", 1200.00m, Nov15, Feb15)], []), headers);
        var issued = Assert.Single(d.Events());
        Assert.Equal(FinanceEventType.INVOICE_ISSUED, issued.Value.eventType);
        Assert.Equal(-1200.00m, NetByAccount([issued.Value])["2400"]);

        _asOf = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc);
        d.Advance(TimeSpan.FromSeconds(2));
        var november = Assert.Single(d.Events());
        Assert.Equal(("revenue:in_mid:il_s:2026-11", FinanceEventType.REVENUE_RECOGNIZED, 208.70m, new DateTime(2026, 11, 30, 0, 0, 0, DateTimeKind.Utc)),
            (november.Value.postingKey, november.Value.eventType, Money.ToDecimal(november.Value.totalAmount), november.Value.effectiveDate));

        _asOf = new DateTime(2027, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        d.Advance(TimeSpan.FromSeconds(2));
        var rest = d.Events();
        Assert.Equal(
            [("revenue:in_mid:il_s:2026-12", 404.35m), ("revenue:in_mid:il_s:2027-01", 404.35m), ("revenue:in_mid:il_s:2027-02", 182.60m)],
            rest.Select(r => (r.Value.postingKey, Money.ToDecimal(r.Value.totalAmount))));
        var all = new[] { issued, november }.Concat(rest).ToList();
        Assert.Equal(1200.00m, all.Skip(1).Sum(r => Money.ToDecimal(r.Value.totalAmount)));
        var net = NetByAccount(all.Select(r => r.Value));
        Assert.Equal((0m, -1200.00m, 1200.00m), (net["2400"], net["4000"], net["1100"]));
        foreach (var (_, value, h) in all)
        {
            Assert.Equal("q2c-acme-42", Encoding.UTF8.GetString(h.GetLastBytes("correlation-id")));
            Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", Encoding.UTF8.GetString(h.GetLastBytes("traceparent")));
            Assert.Equal("q2c-cus_acme", value.correlationId);
        }
    }

    [Fact]
    public void Void_after_a_released_period_reverses_deferred_and_recognized_revenue_and_stops_the_schedule()
    {
        using var d = Driver();
        Load(d);
        _asOf = new DateTime(2026, 12, 5, 0, 0, 0, DateTimeKind.Utc);
        d.Invoices.PipeInput("in_v", Invoice("in_v", "cus_acme", "USD", InvoiceEventType.FINALIZED, Nov15, [Sub("il_s", 1200.00m, Nov15, Feb15)], []));
        d.Invoices.PipeInput("in_v", Invoice("in_v", "cus_acme", "USD", InvoiceEventType.VOIDED, Nov15, [Sub("il_s", 1200.00m, Nov15, Feb15)], []));
        _asOf = new DateTime(2027, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        d.Advance(TimeSpan.FromSeconds(2));

        var events = d.Events().Select(e => e.Value).ToList();
        Assert.Equal(["invoice:in_v:issued", "revenue:in_v:il_s:2026-11", "invoice:in_v:voided"], events.Select(e => e.postingKey));
        Assert.Equal([("il_s", FinanceLineKind.SUBSCRIPTION, 991.30m, null), ("il_s:recognized", FinanceLineKind.SUBSCRIPTION, 208.70m, null)], Lines(events[2]));
        Assert.All(NetByAccount(events).Values, v => Assert.Equal(0m, v));
    }

    [Fact]
    public void Credit_note_on_a_subscription_line_reverses_deferred_revenue_and_tax_and_respreads_the_schedule()
    {
        using var d = Driver();
        Load(d);
        _asOf = new DateTime(2026, 12, 5, 0, 0, 0, DateTimeKind.Utc);
        d.Invoices.PipeInput("in_c", Invoice("in_c", "cus_acme", "USD", InvoiceEventType.FINALIZED, Nov15, [Sub("il_s", 1200.00m, Nov15, Feb15)], [TaxLine("US-CA", 0.0725m, 1200m, 87.00m)]));
        d.CreditNotes.PipeInput("cn_1", new CreditNote
        {
            creditNoteId = "cn_1", invoiceId = "in_c", number = "CN-1", customerId = "cus_acme", currency = "USD",
            subtotal = Money.ToAvro(300m), tax = Money.ToAvro(21.75m), total = Money.ToAvro(321.75m), reason = "downgrade",
            lines = [new CreditNoteLine { lineId = "cl_1", invoiceLineId = "il_s", amount = Money.ToAvro(300m), originalLineKind = LineKind.SUBSCRIPTION, productId = "prod_platform",
                taxLines = [TaxLine("US-CA", 0.0725m, 300m, 21.75m)] }],
            issuedAt = new DateTime(2026, 12, 5, 0, 0, 0, DateTimeKind.Utc), correlationId = "q2c-cus_acme", sourceEventId = "evt_cn_1", sourceSystem = BillingSourceSystem.STRIPE,
        });
        _asOf = new DateTime(2027, 3, 1, 0, 0, 0, DateTimeKind.Utc);
        d.Advance(TimeSpan.FromSeconds(2));

        var events = d.Events().Select(e => e.Value).ToList();
        Assert.Equal(["invoice:in_c:issued", "revenue:in_c:il_s:2026-11", "credit:cn_1:issued", "revenue:in_c:il_s:2026-12", "revenue:in_c:il_s:2027-01", "revenue:in_c:il_s:2027-02"],
            events.Select(e => e.postingKey));
        var credit = events[2];
        Assert.Equal((FinanceEventType.CREDIT_ISSUED, "C-1001", 321.75m), (credit.eventType, credit.customerId, Money.ToDecimal(credit.totalAmount)));
        Assert.Equal([("cl_1", FinanceLineKind.SUBSCRIPTION, 300m, null), ("cl_1:tax:US-CA", FinanceLineKind.TAX, 21.75m, "US-CA")], Lines(credit));
        Assert.NotNull(credit.lines[0].servicePeriodStart);
        Assert.Equal((Topics.BillingCreditNotes, 0, 0L), (credit.source.topic, credit.source.partition!.Value, credit.source.offset!.Value));
        Assert.Equal([208.70m, 281.98m, 281.98m, 127.34m], events.Where(e => e.eventType == FinanceEventType.REVENUE_RECOGNIZED).Select(e => Money.ToDecimal(e.totalAmount)));
        var net = NetByAccount(events);
        Assert.Equal((0m, -900.00m, 965.25m, -65.25m), (net["2400"], net["4000"], net["1100"], net["2300-US-CA"]));
    }

    [Fact]
    public void Payment_with_fee_and_refund_map_to_payment_applied_and_refund_issued()
    {
        using var d = Driver();
        Load(d);
        Payment Pay(string id, PaymentKind kind, decimal amount, decimal? fee) => new()
        {
            paymentId = id, invoiceId = "in_1", customerId = "cus_initech", amount = Money.ToAvro(amount), fee = Money.ToAvro(fee), currency = "EUR",
            status = PaymentStatus.SUCCEEDED, kind = kind, occurredAt = Nov15, correlationId = "q2c-initech", sourceEventId = $"evt_{id}", sourceSystem = BillingSourceSystem.STRIPE,
        };
        d.Payments.PipeInput("py_1", Pay("py_1", PaymentKind.PAYMENT, 952.00m, 27.91m));
        d.Payments.PipeInput("re_1", Pay("re_1", PaymentKind.REFUND, 100.00m, null));
        d.Payments.PipeInput("py_2", Pay("py_2", PaymentKind.PAYMENT, 5m, null));
        var failed = Pay("py_3", PaymentKind.PAYMENT, 5m, null);
        failed.status = PaymentStatus.FAILED;
        d.Payments.PipeInput("py_3", failed);

        var events = d.Events().Select(e => e.Value).ToList();
        Assert.Equal(["payment:py_1:applied", "refund:re_1:issued", "payment:py_2:applied"], events.Select(e => e.postingKey));
        var net = NetByAccount(events.Take(1));
        Assert.Equal((924.09m, 27.91m, -952.00m), (net["1000"], net["6100"], net["1100"]));
        Assert.Equal(("DE01", "EUR"), (events[1].legalEntityId, events[1].currency));
    }

    [Fact]
    public void Gate_waits_for_a_late_account_link_then_the_record_flows()
    {
        using var d = Driver(readiness: TimeSpan.FromSeconds(30));
        Load(d, links: false);

        d.Invoices.PipeInput("in_1", Invoice("in_1", "cus_acme", "USD", InvoiceEventType.FINALIZED, Nov1, [Svc("il_1", 500m)], []));
        d.Advance(TimeSpan.FromSeconds(5));
        Assert.Empty(d.Events().Select(e => e.Value.postingKey));
        Assert.Empty(d.Quarantined().Select(q => q.Value.reasonDetail));

        d.Links.PipeInput("billing:cus_acme", Link("cus_acme", "C-1001", "US01"));
        d.Advance(TimeSpan.FromSeconds(2));

        var e = Assert.Single(d.Events());
        Assert.Equal(("C-1001", "invoice:in_1:issued", 500m), (e.Key, e.Value.postingKey, Money.ToDecimal(e.Value.totalAmount)));
        d.Advance(TimeSpan.FromSeconds(60));
        Assert.Empty(d.Quarantined().Select(q => q.Value.reasonDetail));
    }

    [Fact]
    public void Gate_quarantines_after_the_timeout_with_reason_missing_context_and_coordinates_and_a_resubmit_flows()
    {
        using var d = Driver(readiness: TimeSpan.FromSeconds(30));
        Load(d);
        var headers = new Headers { { "correlation-id", Encoding.UTF8.GetBytes("q2c-ghost") }, { "traceparent", Encoding.UTF8.GetBytes("00-1af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01") } };
        var ghost = Invoice("in_g", "cus_ghost", "USD", InvoiceEventType.FINALIZED, Nov1, [Svc("il_1", 99m)], []);
        d.Invoices.PipeInput("in_g", ghost, headers);
        d.Invoices.PipeInput("in_t", Invoice("in_t", "cus_initech", "EUR", InvoiceEventType.FINALIZED, Nov1, [Svc("il_1", 100m)], [TaxLine("DE-BY", 0.19m, 100m, 19m)]));

        Assert.Empty(d.Quarantined().Select(q => q.Value.reasonDetail));
        d.Advance(TimeSpan.FromSeconds(31));

        var quarantined = d.Quarantined();
        Assert.Equal(2, quarantined.Count);
        var (key, q) = quarantined[0];
        Assert.Equal(("q2c-cus_ghost", "MISSING_ACCOUNT_LINK", "q2c-cus_ghost"), (key, q.reasonCode, q.correlationId));
        Assert.Equal(["account-link billing:cus_ghost"], q.missing);
        Assert.Equal((Topics.BillingInvoices, 0, 0L, "invoice:in_g:issued"), (q.sourceTopic, q.sourcePartition, q.sourceOffset, q.postingKey));
        Assert.Equal(("cus_ghost", "99.0000", "N-in_g"), (q.businessContext["customer"], q.businessContext["amount"], q.businessContext["document_number"]));
        Assert.Equal("in_g", Encoding.UTF8.GetString(q.originalKey));
        Assert.Equal("q2c-ghost", Encoding.UTF8.GetString(q.headers["correlation-id"]));
        Assert.Contains("traceparent", q.headers.Keys);
        var tax = quarantined[1].Value;
        Assert.Equal(("MISSING_TAX_RULE", "tax-rule entity=DE01 jurisdiction=DE-BY"), (tax.reasonCode, Assert.Single(tax.missing)));
        Assert.Empty(d.Events().Select(e => e.Value.postingKey));

        // Resubmit: the master data arrives, the original bytes go back to the source topic, the record flows.
        d.Links.PipeInput("billing:cus_ghost", Link("cus_ghost", "C-9001", "US01"));
        var original = registry.Serdes.Avro<Invoice>().Deserialize(q.originalValue, new SerializationContext(MessageComponentType.Value, q.sourceTopic));
        d.Invoices.PipeInput(Encoding.UTF8.GetString(q.originalKey), original, headers);
        var e = Assert.Single(d.Events());
        Assert.Equal(("C-9001", "invoice:in_g:issued", 99m), (e.Key, e.Value.postingKey, Money.ToDecimal(e.Value.totalAmount)));
        Assert.Equal("q2c-ghost", Encoding.UTF8.GetString(e.Headers.GetLastBytes("correlation-id")));
    }

    [Fact]
    public void Invoice_whose_lines_do_not_add_up_goes_to_quarantine_not_to_the_ledger()
    {
        using var d = Driver();
        Load(d);
        var bad = Invoice("in_bad", "cus_acme", "USD", InvoiceEventType.FINALIZED, Nov1, [Svc("il_1", 500m)], []);
        bad.total = Money.ToAvro(501m);
        d.Invoices.PipeInput("in_bad", bad);

        Assert.Empty(d.Events().Select(e => e.Value.postingKey));
        var q = Assert.Single(d.Quarantined()).Value;
        Assert.Equal("INVALID_FACT", q.reasonCode);
        Assert.Contains("add up to 500", q.reasonDetail, StringComparison.Ordinal);
    }
}
