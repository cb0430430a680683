using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Producers.MasterData;

namespace Streaming.Producers.Demo;

/// <summary>
/// A small, realistic quote-to-cash month: two legal entities (US01 in USD, DE01 in EUR), four linked customers
/// and one whose account link is missing, subscriptions, invoices with tax in three jurisdictions (one voided),
/// payments with processing fees (2.9 % + 0.30), and October usage events billed in arrears on two November
/// invoices. The amounts are the billing system's (tax already rounded to the cent).
/// </summary>
public static class DemoScenario
{
    private static readonly DateTime Month = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    // October usage: accrued when rated (Dr 1150 / Cr 4100), then billed in arrears on the November invoices of the
    // customers with a usage line (Cr 1150), so unbilled receivables end at what is still unbilled (acme, initech).
    private static readonly DateTime UsageDay = new(2026, 10, 20, 9, 0, 0, DateTimeKind.Utc);

    /// <summary>Number of billing invoice records the scenario produces.</summary>
    public const int InvoiceRecords = 7;

    /// <summary>
    /// Journals the scenario must post: 5 invoices issued, 1 voided, 3 payments, 24 usage accruals (one per hourly
    /// window: each window holds one event) and 3 revenue recognitions (November of the three annual subscriptions,
    /// released up to <see cref="RevenueAsOf"/>).
    /// </summary>
    public const int ExpectedJournals = 36;

    /// <summary>The demo releases revenue-schedule periods up to the end of the demo month, whatever the day it runs.</summary>
    public static readonly DateTime RevenueAsOf = new(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Facts the scenario must quarantine: the invoice of the customer without an account link.</summary>
    public const int ExpectedQuarantined = 1;

    /// <summary>
    /// Produces the master data the topology joins against: the committed sample dataset (samples/masterdata: legal
    /// entities, products with prices, tax rules, GL mappings, account links), checked and loaded as
    /// <c>streaming masterdata load</c> does.
    /// </summary>
    public static void ProduceMasterData(AvroRecordProducer producer)
    {
        ArgumentNullException.ThrowIfNull(producer);
        MasterDataLoader.Produce(MasterDataReader.Load(MasterDataSamples.Directory()), producer);
    }

    /// <summary>Produces the billing side: customers, subscriptions, invoices, payments and usage.</summary>
    public static void ProduceBilling(AvroRecordProducer producer)
    {
        ArgumentNullException.ThrowIfNull(producer);
        foreach (var c in Customers)
        {
            producer.Produce(Topics.BillingCustomers, c.Id, new BillingCustomer
            {
                customerId = c.Id, name = c.Name, email = $"billing@{c.Id[4..]}.example", currency = c.Currency, addressCountry = c.Country,
                crmAccountId = c.CrmAccount, metadata = new Dictionary<string, string>(), deleted = false,
                sourceEventId = $"evt_cus_{c.Id}", sourceSystem = BillingSourceSystem.STRIPE, createdAt = Month.AddDays(-40), updatedAt = Month,
            }, Correlation(c.Id));
            producer.Produce(Topics.BillingSubscriptions, $"sub_{c.Id[4..]}", new Subscription
            {
                subscriptionId = $"sub_{c.Id[4..]}", customerId = c.Id, status = SubscriptionStatus.ACTIVE, currency = c.Currency,
                items = [new SubscriptionItem { subscriptionItemId = $"si_{c.Id[4..]}", priceId = $"price_platform_{c.Currency.ToLowerInvariant()}", productId = "prod_platform", quantity = 1, currentPeriodStart = Month, currentPeriodEnd = Month.AddMonths(12) }],
                currentPeriodStart = Month, currentPeriodEnd = Month.AddMonths(12), startedAt = Month, canceledAt = null,
                crmOpportunityId = $"006{c.Canonical}", correlationId = Correlation(c.Id), sourceEventId = $"evt_sub_{c.Id}",
                sourceSystem = BillingSourceSystem.STRIPE, updatedAt = Month,
            }, Correlation(c.Id));
        }

        Invoice("in_1001", "INV-1001", "cus_acme", "USD", InvoiceEventType.FINALIZED, 3,
            [Sub("il_1", 1200.00m), Svc("il_2", 500.00m)], [Tax("US-CA", 0.0725m, 1700.00m, 123.25m)], producer);
        Invoice("in_1002", "INV-1002", "cus_globex", "USD", InvoiceEventType.FINALIZED, 4,
            [Sub("il_3", 600.00m), Usage("il_4", 16.22m)], [Tax("US-NY", 0.04m, 616.22m, 24.65m)], producer);
        Invoice("in_2001", "RE-2001", "cus_initech", "EUR", InvoiceEventType.FINALIZED, 5,
            [Sub("il_5", 2400.00m)], [Tax("DE", 0.19m, 2400.00m, 456.00m)], producer);
        Invoice("in_2002", "RE-2002", "cus_umbrella", "EUR", InvoiceEventType.FINALIZED, 6,
            [Svc("il_6", 800.00m), Usage("il_7", 19.40m)], [Tax("DE", 0.19m, 819.40m, 155.69m)], producer);
        Invoice("in_2003", "RE-2003", "cus_umbrella", "EUR", InvoiceEventType.FINALIZED, 7,
            [Svc("il_8", 100.00m)], [Tax("DE", 0.19m, 100.00m, 19.00m)], producer);
        Invoice("in_2003", "RE-2003", "cus_umbrella", "EUR", InvoiceEventType.VOIDED, 9,
            [Svc("il_8", 100.00m)], [Tax("DE", 0.19m, 100.00m, 19.00m)], producer);
        Invoice("in_9001", "INV-9001", "cus_orphan", "USD", InvoiceEventType.FINALIZED, 8,
            [Svc("il_9", 99.00m)], [], producer);

        Payment("pi_1001", "in_1001", "cus_acme", "USD", 1823.25m, 53.17m, 10, producer);
        Payment("pi_1002", "in_1002", "cus_globex", "USD", 640.87m, 18.89m, 12, producer);
        Payment("pi_2001", "in_2001", "cus_initech", "EUR", 2856.00m, 41.71m, 14, producer);

        var n = 0;
        foreach (var c in Customers.Where(c => c.Linked))
        {
            for (var h = 0; h < 6; h++)
            {
                n++;
                producer.Produce(Topics.BillingUsage, $"si_{c.Id[4..]}", new UsageEvent
                {
                    usageEventId = $"use_{n:D4}", subscriptionItemId = $"si_{c.Id[4..]}", customerId = c.Id, meter = "api_calls",
                    quantity = Money.Quantity(1000m + (n * 37)), occurredAt = UsageDay.AddHours(h), receivedAt = UsageDay.AddHours(h).AddSeconds(3),
                    source = "demo-gateway", attributes = new Dictionary<string, string> { ["region"] = c.Country },
                }, Correlation(c.Id));
            }
        }
    }

    private sealed record DemoCustomer(string Id, string Name, string Canonical, string CrmAccount, string Entity, string Currency, string Country, bool Linked);

    private static readonly DemoCustomer[] Customers =
    [
        new("cus_acme", "Acme Corp", "C-1001", "001A000001", "US01", "USD", "US", true),
        new("cus_globex", "Globex LLC", "C-1002", "001A000002", "US01", "USD", "US", true),
        new("cus_initech", "Initech GmbH", "C-2001", "001A000003", "DE01", "EUR", "DE", true),
        new("cus_umbrella", "Umbrella AG", "C-2002", "001A000004", "DE01", "EUR", "DE", true),
        new("cus_orphan", "Orphan Ltd", "C-9001", "001A000009", "US01", "USD", "US", false),
    ];

    private static string Correlation(string customerId) => $"q2c-{customerId}";

    private static InvoiceLine Sub(string id, decimal amount) => new()
    {
        lineId = id, description = "Platform subscription (12 months)", kind = LineKind.SUBSCRIPTION, productId = "prod_platform",
        priceId = "price_platform", subscriptionItemId = null, quantity = Money.Quantity(1m), amount = Money.ToAvro(amount),
        servicePeriodStart = Month, servicePeriodEnd = Month.AddMonths(12),
    };

    private static InvoiceLine Svc(string id, decimal amount) => new()
    {
        lineId = id, description = "Onboarding services", kind = LineKind.SERVICES, productId = "prod_onboarding",
        priceId = "price_onboarding", subscriptionItemId = null, quantity = Money.Quantity(1m), amount = Money.ToAvro(amount),
        servicePeriodStart = null, servicePeriodEnd = null,
    };

    private static InvoiceLine Usage(string id, decimal amount) => new()
    {
        lineId = id, description = "API calls (October)", kind = LineKind.USAGE, productId = "prod_api", priceId = "price_api_calls",
        subscriptionItemId = null, quantity = Money.Quantity(amount * 1000m), amount = Money.ToAvro(amount),
        servicePeriodStart = null, servicePeriodEnd = null,
    };

    private static TaxLine Tax(string jurisdiction, decimal rate, decimal taxable, decimal amount) => new()
    {
        jurisdictionCode = jurisdiction, rate = Money.Rate(rate), taxableAmount = Money.ToAvro(taxable), amount = Money.ToAvro(amount), lineId = null,
    };

    private static void Invoice(string id, string number, string customer, string currency, InvoiceEventType type, int day,
        List<InvoiceLine> lines, List<TaxLine> taxes, AvroRecordProducer producer)
    {
        var subtotal = lines.Sum(l => Money.ToDecimal(l.amount));
        var tax = taxes.Sum(t => Money.ToDecimal(t.amount));
        var at = Month.AddDays(day);
        producer.Produce(Topics.BillingInvoices, id, new Invoice
        {
            invoiceId = id, number = number, customerId = customer, subscriptionId = $"sub_{customer[4..]}",
            status = type == InvoiceEventType.VOIDED ? InvoiceStatus.VOID : InvoiceStatus.OPEN, eventType = type, currency = currency,
            subtotal = Money.ToAvro(subtotal), tax = Money.ToAvro(tax), total = Money.ToAvro(subtotal + tax), amountPaid = Money.ToAvro(0m),
            lines = lines, taxLines = taxes, issuedAt = Month.AddDays(day > 8 ? 7 : day), paidAt = null,
            voidedAt = type == InvoiceEventType.VOIDED ? at : null, dueDate = at.AddDays(30), correlationId = Correlation(customer),
            sourceEventId = $"evt_{id}_{type.ToString().ToLowerInvariant()}", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = at,
        }, Correlation(customer));
    }

    private static void Payment(string id, string invoice, string customer, string currency, decimal amount, decimal fee, int day, AvroRecordProducer producer)
        => producer.Produce(Topics.BillingPayments, id, new Payment
        {
            paymentId = id, invoiceId = invoice, customerId = customer, amount = Money.ToAvro(amount), fee = Money.ToAvro(fee), currency = currency,
            status = PaymentStatus.SUCCEEDED, kind = PaymentKind.PAYMENT, refundedPaymentId = null, failureReason = null,
            occurredAt = Month.AddDays(day), correlationId = Correlation(customer), sourceEventId = $"evt_{id}_succeeded", sourceSystem = BillingSourceSystem.STRIPE,
        }, Correlation(customer));
}
