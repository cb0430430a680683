using Streaming.Contracts.MasterData;
using Streaming.Sinks.Journals;
using AccountRole = Streaming.Sinks.Journals.AccountRole;

namespace Streaming.Sinks.Tests;

/// <summary>Voids mirror the posted issue; effective dates are UTC days; GL accounts come from md.gl-mappings.v1 when an entity has mappings.</summary>
public sealed class JournalRulesTests
{
    private static readonly JournalBuilder Builder = new(DefaultChartOfAccounts.Instance);
    private static readonly SourceCoordinates Src = new("stripe", "invoice", "in_9", "evt_9");

    private static FinanceFact Fact(FinanceEventKind kind, string key, decimal total, string entity = "US01", params FinanceLine[] lines)
        => new("e", kind, key, "corr", entity, "cust", "USD", total, lines.Where(l => l.Kind == FinanceLineKind.Tax).Sum(l => l.Amount),
            new DateTime(2026, 11, 3, 23, 30, 0, DateTimeKind.Utc), "INV-9", lines, Src);

    [Fact]
    public void A_void_mirrors_the_posted_issue_even_when_its_own_lines_differ()
    {
        var issued = Builder.Build(Fact(FinanceEventKind.InvoiceIssued, "invoice:in_9:issued", 108m, "US01",
            new("l1", FinanceLineKind.Services, 100m), new("t1", FinanceLineKind.Tax, 8m, TaxJurisdiction: "US-CA")));
        // The void event lost its tax line: built from its own lines it would not even balance; mirrored, it reverses exactly.
        var voided = JournalBuilder.BuildVoid(Fact(FinanceEventKind.InvoiceVoided, "invoice:in_9:voided", 108m, "US01", new FinanceLine("l1", FinanceLineKind.Services, 108m)), issued);

        Assert.Equal(issued.Lines.Select(l => (l.Account, l.Credit, l.Debit)), voided.Lines.Select(l => (l.Account, l.Debit, l.Credit)));
        Assert.True(voided.IsBalanced);
        Assert.Equal("invoice:in_9:voided", voided.PostingKey);
        Assert.Equal("invoice:in_9:issued", JournalBuilder.IssuedKeyOf("invoice:in_9:voided"));
        Assert.Null(JournalBuilder.IssuedKeyOf("payment:p1:applied"));
    }

    [Fact]
    public void A_void_for_another_amount_or_entity_is_rejected_not_posted()
    {
        var issued = Builder.Build(Fact(FinanceEventKind.InvoiceIssued, "invoice:in_9:issued", 100m, "US01", new FinanceLine("l1", FinanceLineKind.Services, 100m)));
        var amount = Assert.Throws<JournalRejectedException>(() => JournalBuilder.BuildVoid(Fact(FinanceEventKind.InvoiceVoided, "invoice:in_9:voided", 90m), issued));
        var entity = Assert.Throws<JournalRejectedException>(() => JournalBuilder.BuildVoid(Fact(FinanceEventKind.InvoiceVoided, "invoice:in_9:voided", 100m, "DE01"), issued));
        Assert.Equal(("VOID_MISMATCH", "VOID_MISMATCH"), (amount.ReasonCode, entity.ReasonCode));
    }

    [Fact]
    public void The_effective_day_is_the_UTC_calendar_day()
    {
        var journal = Builder.Build(Fact(FinanceEventKind.InvoiceIssued, "invoice:in_8:issued", 100m, "US01", new FinanceLine("l1", FinanceLineKind.Services, 100m)));
        Assert.Equal(new DateTime(2026, 11, 3), journal.EffectiveDate);
        Assert.Equal(DateTimeKind.Utc, journal.EffectiveDate.Kind);
        var local = new DateTime(2026, 11, 3, 23, 30, 0, DateTimeKind.Utc).ToLocalTime();
        Assert.Equal(new DateTime(2026, 11, 3), JournalBuilder.EffectiveDay(local));
    }

    private static GlMapping Mapping(string id, string entity, Contracts.MasterData.AccountRole role, string account, string? jurisdiction = null)
        => new() { mappingId = id, legalEntityId = entity, accountRole = role, glAccountNumber = account, jurisdictionCode = jurisdiction };

    [Fact]
    public void Gl_mappings_decide_accounts_for_mapped_entities_and_the_default_chart_serves_the_rest()
    {
        var chart = new GlMappingChartOfAccounts(DefaultChartOfAccounts.Instance);
        chart.Apply("m1", Mapping("m1", "DE01", Contracts.MasterData.AccountRole.AR, "120000"));
        chart.Apply("m2", Mapping("m2", "DE01", Contracts.MasterData.AccountRole.SERVICES_REVENUE, "410000"));
        chart.Apply("m3", Mapping("m3", "DE01", Contracts.MasterData.AccountRole.TAX_PAYABLE, "176000"));
        chart.Apply("m4", Mapping("m4", "DE01", Contracts.MasterData.AccountRole.TAX_PAYABLE, "176100", "DE-BY"));

        Assert.Equal("120000", chart.Account("DE01", AccountRole.AccountsReceivable));
        Assert.Equal("176100", chart.Account("DE01", AccountRole.TaxPayable, "DE-BY"));
        Assert.Equal("176000", chart.Account("DE01", AccountRole.TaxPayable, "DE-BE"));
        Assert.Equal("1100", chart.Account("US01", AccountRole.AccountsReceivable));
        Assert.Throws<UnknownAccountException>(() => chart.Account("DE01", AccountRole.Cash));

        var builder = new JournalBuilder(chart);
        var journal = builder.Build(Fact(FinanceEventKind.InvoiceIssued, "invoice:de:issued", 119m, "DE01",
            new("l1", FinanceLineKind.Services, 100m), new("t1", FinanceLineKind.Tax, 19m, TaxJurisdiction: "DE-BY")));
        Assert.Equal(["120000", "410000", "176100"], journal.Lines.Select(l => l.Account));

        // A mapped entity missing a role: the journal is rejected as UNKNOWN_ACCOUNT (quarantine), never posted to a guess.
        var rejected = Assert.Throws<JournalRejectedException>(() => builder.Build(Fact(FinanceEventKind.RefundIssued, "refund:r1:issued", 5m, "DE01")));
        Assert.Equal("UNKNOWN_ACCOUNT", rejected.ReasonCode);

        chart.Apply("m1", null);
        Assert.Throws<UnknownAccountException>(() => chart.Account("DE01", AccountRole.AccountsReceivable));
    }
}
