using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Mock;
using Streamiz.Kafka.Net.SerDes;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;
using Streaming.Processors.FinanceMapping;
using Streaming.SchemaRegistry;

namespace Streaming.Processors.Tests;

/// <summary>The embedded schema registry with every subject the finance topology reads or writes, for one test class.</summary>
public sealed class RegistryFixture : IAsyncLifetime
{
    private EmbeddedSchemaRegistry _registry = null!;

    /// <summary>Client on the embedded registry.</summary>
    public CachedSchemaRegistryClient Client { get; private set; } = null!;

    /// <summary>Serdes on <see cref="Client"/>.</summary>
    public FinanceSerdes Serdes { get; private set; } = null!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        _registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        Client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url });
        foreach (var (topic, schema) in new[]
                 {
                     (Topics.AccountLinks, AccountLink._SCHEMA), (Topics.LegalEntities, LegalEntity._SCHEMA), (Topics.Products, Product._SCHEMA),
                     (Topics.TaxRules, TaxRule._SCHEMA), (Topics.GlMappings, GlMapping._SCHEMA),
                     (Topics.BillingInvoices, Invoice._SCHEMA), (Topics.BillingPayments, Payment._SCHEMA), (Topics.BillingCreditNotes, CreditNote._SCHEMA),
                     (Topics.BillingUsage, UsageEvent._SCHEMA), (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.Quarantine, QuarantineRecord._SCHEMA),
                     (Topics.DeadLetters, DeadLetterRecord._SCHEMA), (Topics.CrmAccounts, Streaming.Contracts.Crm.CrmAccount._SCHEMA),
                     (Topics.CrmOpportunities, Streaming.Contracts.Crm.CrmOpportunity._SCHEMA), (Topics.FinanceOrders, FinanceOrder._SCHEMA),
                 })
        {
            await Client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }

        Serdes = new FinanceSerdes(Client);
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _registry.DisposeAsync();
    }
}

/// <summary>The whole finance topology under <see cref="TopologyTestDriver"/>, with typed input and output topics.</summary>
public sealed class FinanceTopologyDriver : IDisposable
{
    private readonly TopologyTestDriver _driver;

    /// <summary>Builds the topology with in-memory state and the given options.</summary>
    public FinanceTopologyDriver(FinanceSerdes serdes, FinanceMappingOptions options)
    {
        var builder = new StreamBuilder();
        FinanceMappingTopology.ConfigureTopology(builder, serdes, options with { PersistentState = false });
        _driver = new TopologyTestDriver(builder.Build(), new StreamConfig<StringSerDes, StringSerDes> { ApplicationId = FinanceMappingTopology.ApplicationId });
        Links = _driver.CreateInputTopic(Topics.AccountLinks, serdes.Key, serdes.Avro<AccountLink>());
        Entities = _driver.CreateInputTopic(Topics.LegalEntities, serdes.Key, serdes.Avro<LegalEntity>());
        Products = _driver.CreateInputTopic(Topics.Products, serdes.Key, serdes.Avro<Product>());
        TaxRules = _driver.CreateInputTopic(Topics.TaxRules, serdes.Key, serdes.Avro<TaxRule>());
        GlMappings = _driver.CreateInputTopic(Topics.GlMappings, serdes.Key, serdes.Avro<GlMapping>());
        Invoices = _driver.CreateInputTopic(Topics.BillingInvoices, serdes.Key, serdes.Avro<Invoice>());
        Payments = _driver.CreateInputTopic(Topics.BillingPayments, serdes.Key, serdes.Avro<Payment>());
        CreditNotes = _driver.CreateInputTopic(Topics.BillingCreditNotes, serdes.Key, serdes.Avro<CreditNote>());
        Usage = _driver.CreateInputTopic(Topics.BillingUsage, serdes.Key, serdes.Avro<UsageEvent>());
        CrmAccounts = _driver.CreateInputTopic(Topics.CrmAccounts, serdes.Key, serdes.Avro<Streaming.Contracts.Crm.CrmAccount>());
        Opportunities = _driver.CreateInputTopic(Topics.CrmOpportunities, serdes.Key, serdes.Avro<Streaming.Contracts.Crm.CrmOpportunity>());
        Orders = _driver.CreateOutputTopic(Topics.FinanceOrders, TimeSpan.FromSeconds(1), serdes.Key, serdes.Avro<FinanceOrder>());
        FinanceEvents = _driver.CreateOutputTopic(Topics.FinanceEvents, TimeSpan.FromSeconds(1), serdes.Key, serdes.Avro<FinanceEvent>());
        Quarantine = _driver.CreateOutputTopic(Topics.Quarantine, TimeSpan.FromSeconds(1), serdes.Key, serdes.Avro<QuarantineRecord>());
    }

    /// <summary>md.account-links.v1</summary>
    public TestInputTopic<string, AccountLink> Links { get; }

    /// <summary>md.legal-entities.v1</summary>
    public TestInputTopic<string, LegalEntity> Entities { get; }

    /// <summary>md.products.v1</summary>
    public TestInputTopic<string, Product> Products { get; }

    /// <summary>md.tax-rules.v1</summary>
    public TestInputTopic<string, TaxRule> TaxRules { get; }

    /// <summary>md.gl-mappings.v1</summary>
    public TestInputTopic<string, GlMapping> GlMappings { get; }

    /// <summary>billing.invoices.v1</summary>
    public TestInputTopic<string, Invoice> Invoices { get; }

    /// <summary>billing.payments.v1</summary>
    public TestInputTopic<string, Payment> Payments { get; }

    /// <summary>billing.credit-notes.v1</summary>
    public TestInputTopic<string, CreditNote> CreditNotes { get; }

    /// <summary>billing.usage.v1</summary>
    public TestInputTopic<string, UsageEvent> Usage { get; }

    /// <summary>crm.accounts.v1</summary>
    public TestInputTopic<string, Streaming.Contracts.Crm.CrmAccount> CrmAccounts { get; }

    /// <summary>crm.opportunities.v1</summary>
    public TestInputTopic<string, Streaming.Contracts.Crm.CrmOpportunity> Opportunities { get; }

    /// <summary>finance.orders.v1</summary>
    public TestOutputTopic<string, FinanceOrder> Orders { get; }

    /// <summary>finance.events.v1</summary>
    public TestOutputTopic<string, FinanceEvent> FinanceEvents { get; }

    /// <summary>ops.quarantine.v1</summary>
    public TestOutputTopic<string, QuarantineRecord> Quarantine { get; }

    /// <summary>Moves the mock wall clock (runs wall-clock punctuations: gate retries, revenue releases, idle window closes).</summary>
    public void Advance(TimeSpan by) => _driver.AdvanceWallClockTime(by);

    /// <summary>Every finance event written so far (drained).</summary>
    public List<Written<FinanceEvent>> Events()
        => FinanceEvents.ReadKeyValueList().Select(r => new Written<FinanceEvent>(r.Message.Key, r.Message.Value, r.Message.Headers, r.Message.Value.postingKey)).ToList();

    /// <summary>Every quarantine record written so far (drained).</summary>
    public List<Written<QuarantineRecord>> Quarantined()
        => Quarantine.ReadKeyValueList().Select(r => new Written<QuarantineRecord>(r.Message.Key, r.Message.Value, r.Message.Headers, r.Message.Value.reasonCode)).ToList();

    /// <inheritdoc />
    public void Dispose() => _driver.Dispose();
}

/// <summary>Master data and billing facts for the topology tests: US01 (USD), DE01 (EUR), JP01 (JPY).</summary>
public static class Md
{
    /// <summary>A fixed instant for timestamps of master data.</summary>
    public static readonly DateTime At = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>Account roles every entity maps.</summary>
    public static readonly AccountRole[] Roles =
    [
        AccountRole.AR, AccountRole.CASH, AccountRole.DEFERRED_REVENUE, AccountRole.SUBSCRIPTION_REVENUE, AccountRole.USAGE_REVENUE,
        AccountRole.SERVICES_REVENUE, AccountRole.UNBILLED_RECEIVABLE, AccountRole.TAX_PAYABLE, AccountRole.PAYMENT_FEES,
    ];

    /// <summary>Link keyed billing:{customer}.</summary>
    public static AccountLink Link(string billingCustomer, string canonical, string entity) => new()
    {
        canonicalCustomerId = canonical, billingCustomerId = billingCustomer, legalEntityId = entity, billingCountry = entity[..2], updatedAt = At,
    };

    /// <summary>Legal entity.</summary>
    public static LegalEntity Entity(string id, string currency) => new()
    {
        legalEntityId = id, name = id, country = id[..2], functionalCurrency = currency, taxRegistrationIds = [], billingCountries = [id[..2]], active = true, updatedAt = At,
    };

    /// <summary>Tax rule.</summary>
    public static TaxRule Tax(string entity, string jurisdiction, decimal rate) => new()
    {
        ruleId = $"tr_{entity}_{jurisdiction}", jurisdictionCode = jurisdiction, country = jurisdiction[..2], rate = Money.Rate(rate), legalEntityId = entity,
        taxPayableGlAccount = $"2300-{jurisdiction}",
    };

    /// <summary>GL mapping of a role for an entity.</summary>
    public static GlMapping Gl(string entity, AccountRole role) => new()
    {
        mappingId = $"gl_{entity}_{role}", legalEntityId = entity, accountRole = role, glAccountNumber = role.ToString(),
    };

    /// <summary>A product with one flat price per currency (and a meter for usage products).</summary>
    public static Product Product(string id, ProductKind kind, string? meter = null, params (string Currency, decimal Unit)[] prices) => new()
    {
        productId = id, name = id, kind = kind, active = true, updatedAt = At,
        prices = prices.Select(p => new Price
        {
            priceId = $"{id}_{p.Currency.ToLowerInvariant()}", currency = p.Currency, unitAmount = Money.ToAvro(p.Unit), billingInterval = BillingInterval.MONTH,
            meter = meter, tiers = [],
        }).ToList(),
    };

    /// <summary>Loads entities US01/DE01/JP01 with GL mappings and tax rules, three customers, and the products.</summary>
    public static void Load(FinanceTopologyDriver d, bool links = true)
    {
        foreach (var (id, ccy) in new[] { ("US01", "USD"), ("DE01", "EUR"), ("JP01", "JPY") })
        {
            d.Entities.PipeInput(id, Entity(id, ccy));
            foreach (var role in Roles)
            {
                d.GlMappings.PipeInput($"gl_{id}_{role}", Gl(id, role));
            }
        }

        d.TaxRules.PipeInput("tr_us_ca", Tax("US01", "US-CA", 0.0725m));
        d.TaxRules.PipeInput("tr_us_ny", Tax("US01", "US-NY", 0.04m));
        d.TaxRules.PipeInput("tr_de", Tax("DE01", "DE", 0.19m));
        d.TaxRules.PipeInput("tr_jp", Tax("JP01", "JP", 0.10m));
        d.Products.PipeInput("prod_platform", Product("prod_platform", ProductKind.SUBSCRIPTION, null, ("USD", 100m), ("EUR", 90m), ("JPY", 15000m)));
        d.Products.PipeInput("prod_onboarding", Product("prod_onboarding", ProductKind.SERVICES, null, ("USD", 500m), ("EUR", 450m), ("JPY", 70000m)));
        d.Products.PipeInput("prod_api", Product("prod_api", ProductKind.USAGE, "api_calls", ("USD", 0.002m), ("EUR", 0.0018m), ("JPY", 0.3m)));
        if (links)
        {
            d.Links.PipeInput("billing:cus_acme", Link("cus_acme", "C-1001", "US01"));
            d.Links.PipeInput("billing:cus_initech", Link("cus_initech", "C-2001", "DE01"));
            d.Links.PipeInput("billing:cus_tokyo", Link("cus_tokyo", "C-3001", "JP01"));
        }
    }

    /// <summary>Subscription line.</summary>
    public static InvoiceLine Sub(string id, decimal amount, DateTime start, DateTime end) => new()
    {
        lineId = id, kind = LineKind.SUBSCRIPTION, productId = "prod_platform", quantity = Money.Quantity(1m), amount = Money.ToAvro(amount),
        servicePeriodStart = start, servicePeriodEnd = end,
    };

    /// <summary>Services line.</summary>
    public static InvoiceLine Svc(string id, decimal amount) => new()
    {
        lineId = id, kind = LineKind.SERVICES, productId = "prod_onboarding", quantity = Money.Quantity(1m), amount = Money.ToAvro(amount),
    };

    /// <summary>Usage line (billing of accrued usage).</summary>
    public static InvoiceLine UsageLine(string id, decimal amount) => new()
    {
        lineId = id, kind = LineKind.USAGE, productId = "prod_api", quantity = Money.Quantity(amount * 500m), amount = Money.ToAvro(amount),
    };

    /// <summary>Tax line.</summary>
    public static TaxLine TaxLine(string jurisdiction, decimal rate, decimal taxable, decimal amount, string? lineId = null) => new()
    {
        jurisdictionCode = jurisdiction, rate = Money.Rate(rate), taxableAmount = Money.ToAvro(taxable), amount = Money.ToAvro(amount), lineId = lineId,
    };

    /// <summary>An invoice fact whose totals are the sums of its lines.</summary>
    public static Invoice Invoice(string id, string customer, string currency, InvoiceEventType type, DateTime issuedAt, List<InvoiceLine> lines, List<TaxLine> taxes)
    {
        var subtotal = lines.Sum(l => Money.ToDecimal(l.amount));
        var tax = taxes.Sum(t => Money.ToDecimal(t.amount));
        return new Invoice
        {
            invoiceId = id, number = $"N-{id}", customerId = customer, status = type == InvoiceEventType.VOIDED ? InvoiceStatus.VOID : InvoiceStatus.OPEN,
            eventType = type, currency = currency, subtotal = Money.ToAvro(subtotal), tax = Money.ToAvro(tax), total = Money.ToAvro(subtotal + tax),
            amountPaid = Money.ToAvro(0m), lines = lines, taxLines = taxes, issuedAt = issuedAt, voidedAt = type == InvoiceEventType.VOIDED ? issuedAt.AddDays(10) : null,
            correlationId = $"q2c-{customer}", sourceEventId = $"evt_{id}_{type}", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = issuedAt,
        };
    }
}

/// <summary>An output record; its text is a short label, because xunit's formatter recurses forever into Avro decimals.</summary>
public sealed record Written<T>(string Key, T Value, Confluent.Kafka.Headers Headers, string Label)
{
    /// <inheritdoc />
    public override string ToString() => $"{Key}: {Label}";

    /// <summary>Deconstructs into key, value and headers.</summary>
    public void Deconstruct(out string key, out T value, out Confluent.Kafka.Headers headers) => (key, value, headers) = (Key, Value, Headers);

    /// <summary>Deconstructs into key and value.</summary>
    public void Deconstruct(out string key, out T value) => (key, value) = (Key, Value);
}
