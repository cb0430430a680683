namespace Streaming.Contracts;

/// <summary>Topic names of DESIGN.md §2, plus <see cref="CrmContacts"/>. The schema files and schemas/subjects.json use the same names.</summary>
public static class Topics
{
    /// <summary>CRM account snapshots; key = CRM account id; compacted.</summary>
    public const string CrmAccounts = "crm.accounts.v1";

    /// <summary>CRM opportunity changes; key = opportunity id.</summary>
    public const string CrmOpportunities = "crm.opportunities.v1";

    /// <summary>CRM contact snapshots; key = CRM contact id; compacted. An addition to the topics of DESIGN.md §2 (issue 6).</summary>
    public const string CrmContacts = "crm.contacts.v1";

    /// <summary>Billing customers; key = billing customer id; compacted.</summary>
    public const string BillingCustomers = "billing.customers.v1";

    /// <summary>Billing subscriptions; key = subscription id.</summary>
    public const string BillingSubscriptions = "billing.subscriptions.v1";

    /// <summary>Billing invoices (finalized / paid / voided); key = invoice id.</summary>
    public const string BillingInvoices = "billing.invoices.v1";

    /// <summary>Payments and refunds; key = payment id.</summary>
    public const string BillingPayments = "billing.payments.v1";

    /// <summary>Credit notes; key = credit note id.</summary>
    public const string BillingCreditNotes = "billing.credit-notes.v1";

    /// <summary>Usage events; key = subscription item id; highest volume.</summary>
    public const string BillingUsage = "billing.usage.v1";

    /// <summary>Legal entities; compacted.</summary>
    public const string LegalEntities = "md.legal-entities.v1";

    /// <summary>Products and prices; compacted.</summary>
    public const string Products = "md.products.v1";

    /// <summary>Tax rules; compacted.</summary>
    public const string TaxRules = "md.tax-rules.v1";

    /// <summary>GL account mappings; compacted.</summary>
    public const string GlMappings = "md.gl-mappings.v1";

    /// <summary>CRM ↔ billing ↔ ERP identity links; compacted.</summary>
    public const string AccountLinks = "md.account-links.v1";

    /// <summary>Canonical orders; key = order id.</summary>
    public const string FinanceOrders = "finance.orders.v1";

    /// <summary>Canonical finance events; key = canonical customer id.</summary>
    public const string FinanceEvents = "finance.events.v1";

    /// <summary>ERP posting results; key = posting key; compacted.</summary>
    public const string ErpPostings = "erp.postings.v1";

    /// <summary>Quarantined records; key = correlation id.</summary>
    public const string Quarantine = "ops.quarantine.v1";

    /// <summary>Dead letters; key = original key.</summary>
    public const string DeadLetters = "ops.dlq.v1";

    /// <summary>Connector checkpoints; key = connector id; compacted.</summary>
    public const string ConnectorCheckpoints = "connect.checkpoints.v1";

    /// <summary>The schema registry's own storage topic (not Avro).</summary>
    public const string Schemas = "_schemas";

    /// <summary>Every topic that carries Avro values (all of the above except <see cref="Schemas"/>).</summary>
    public static IReadOnlyList<string> AvroTopics { get; } =
    [
        CrmAccounts, CrmOpportunities, CrmContacts,
        BillingCustomers, BillingSubscriptions, BillingInvoices, BillingPayments, BillingCreditNotes, BillingUsage,
        LegalEntities, Products, TaxRules, GlMappings, AccountLinks,
        FinanceOrders, FinanceEvents, ErpPostings,
        Quarantine, DeadLetters, ConnectorCheckpoints,
    ];

    /// <summary>The value subject of a topic under TopicNameStrategy.</summary>
    public static string ValueSubject(string topic) => topic + "-value";
}
