using System.Text;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Contracts.Crm;
using Streaming.Contracts.Finance;
using Streaming.Processors.FinanceMapping;
using static Streaming.Processors.Tests.Md;

namespace Streaming.Processors.Tests;

/// <summary>
/// Order enrichment under the test driver: a Closed Won opportunity becomes exactly one order with parent account,
/// subsidiaries, contract term, lines, legal entity by billing country and tax nexus; an open opportunity gives none;
/// a missing product or link goes through the gate to quarantine.
/// </summary>
public sealed class OrderEnrichmentTests(RegistryFixture registry) : IClassFixture<RegistryFixture>
{
    private static readonly DateTime Won = new(2026, 11, 20, 15, 0, 0, DateTimeKind.Utc);

    private FinanceTopologyDriver Driver() => new(registry.Serdes, new FinanceMappingOptions { ReadinessTimeout = TimeSpan.Zero });

    private static CrmAccount Account(string id, string? parent, string country) => new()
    {
        accountId = id, name = id, parentAccountId = parent, billingCountry = country, sourceSystem = CrmSourceSystem.SALESFORCE, eventId = $"e_{id}",
        changedFields = [], commitTimestamp = Won, receivedAt = Won,
    };

    private static CrmOpportunity Opportunity(string id, string account, bool won, params OpportunityLineItem[] lines) => new()
    {
        opportunityId = id, accountId = account, name = id, stage = won ? "Closed Won" : "Negotiation", isClosedWon = won, closeDate = Won.Date,
        contractTermMonths = 24, contractStartDate = new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc), currency = "eur", lineItems = lines.ToList(),
        eventId = $"e_{id}_{won}", sourceSystem = CrmSourceSystem.SALESFORCE, changedFields = ["StageName"], commitTimestamp = Won, receivedAt = Won,
    };

    private static OpportunityLineItem Item(string id, string product, LineKind kind, decimal quantity, decimal unit) => new()
    {
        lineItemId = id, productCode = product, quantity = Money.Quantity(quantity), unitPrice = Money.ToAvro(unit), lineKind = kind,
    };

    [Fact]
    public void Closed_won_opportunity_becomes_one_order_with_hierarchy_entity_tax_nexus_and_lines()
    {
        using var d = Driver();
        Load(d, links: false);
        d.Links.PipeInput("crm:001B", Link("cus_initech", "C-2001", "DE01"));
        d.CrmAccounts.PipeInput("001P", Account("001P", null, "DE"));
        d.CrmAccounts.PipeInput("001B", Account("001B", "001P", "DE"));
        d.CrmAccounts.PipeInput("001S1", Account("001S1", "001B", "AT"));
        d.CrmAccounts.PipeInput("001S2", Account("001S2", "001B", "DE"));
        var headers = new Headers { { "correlation-id", Encoding.UTF8.GetBytes("q2c-opp-7") } };

        d.Opportunities.PipeInput("006A", Opportunity("006A", "001B", false, Item("li1", "prod_platform", LineKind.SUBSCRIPTION, 12m, 90m)), headers);
        d.Opportunities.PipeInput("006A", Opportunity("006A", "001B", true,
            Item("li1", "prod_platform", LineKind.SUBSCRIPTION, 12m, 90m), Item("li2", "prod_onboarding", LineKind.SERVICES, 1m, 450m)), headers);
        d.Opportunities.PipeInput("006A", Opportunity("006A", "001B", true, Item("li1", "prod_platform", LineKind.SUBSCRIPTION, 12m, 90m)), headers);

        var orders = d.Orders.ReadKeyValueList().Select(r => (r.Message.Key, r.Message.Value)).ToList();
        Assert.Equal(["order:006A"], orders.Select(o => o.Key));
        var o = orders[0].Value;
        Assert.Equal(("q2c-opp-7", "006A", "C-2001", "001P", "DE01", "EUR"), (o.correlationId, o.opportunityId, o.canonicalCustomerId, o.parentAccountId, o.legalEntityId, o.currency));
        Assert.Equal(["001S1", "001S2"], o.subsidiaryAccountIds);
        Assert.Equal(["DE"], o.taxNexusJurisdictions);
        Assert.Equal((new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc), 24, 1530.00m), (o.contractStartDate, o.termMonths, Money.ToDecimal(o.totalAmount)));
        Assert.Equal([("prod_platform", OrderLineKind.SUBSCRIPTION, 1080.00m), ("prod_onboarding", OrderLineKind.SERVICES, 450.00m)],
            o.lines.Select(l => (l.productId, l.kind, Money.ToDecimal(l.amount))));
        Assert.Equal((Topics.CrmOpportunities, 1L), (o.source.topic, o.source.offset!.Value));
    }

    [Fact]
    public void Won_opportunity_with_an_unknown_product_or_no_account_link_is_quarantined_not_guessed()
    {
        using var d = Driver();
        Load(d, links: false);
        d.Links.PipeInput("crm:001B", Link("cus_initech", "C-2001", "DE01"));
        d.CrmAccounts.PipeInput("001B", Account("001B", null, "DE"));

        d.Opportunities.PipeInput("006B", Opportunity("006B", "001B", true, Item("li1", "prod_mystery", LineKind.SERVICES, 1m, 10m)));
        d.Opportunities.PipeInput("006C", Opportunity("006C", "001Z", true, Item("li1", "prod_platform", LineKind.SUBSCRIPTION, 1m, 10m)));

        Assert.Empty(d.Orders.ReadKeyValueList().Select(r => r.Message.Key));
        var q = d.Quarantined();
        Assert.Equal([("MISSING_PRODUCT", "product prod_mystery"), ("MISSING_ACCOUNT_LINK", "account-link crm:001Z")], q.Select(x => (x.Value.reasonCode, x.Value.missing[0])));
        Assert.Equal(("006C", Topics.CrmOpportunities), (q[1].Value.businessContext["document_number"], q[1].Value.sourceTopic));
    }
}
