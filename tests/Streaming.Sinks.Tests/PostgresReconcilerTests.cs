using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Reconciliation;

namespace Streaming.Sinks.Tests;

/// <summary>
/// The reconciliation cases of <see cref="ReconcilerTests"/> against a real PostgreSQL ledger (a throwaway cluster from
/// <see cref="PostgresFixture"/>, one database per test): journals posted through <see cref="PostgresLedger"/>, read back through
/// <see cref="PostgresLedgerReader"/>, with exact decimals.
/// </summary>
public sealed class PostgresReconcilerTests(PostgresFixture postgres)
{
    private async Task<ReconciliationReport> ReconcileAsync(IEnumerable<FinanceFact> posted, IEnumerable<SourceFact> sources,
        Dictionary<string, string>? quarantined = null, string? entity = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var connectionString = await postgres.NewDatabaseAsync();
        var builder = new JournalBuilder(DefaultChartOfAccounts.Instance);
        await using (var ledger = await PostgresLedger.OpenAsync(connectionString, PostgresWriteMode.CopyMerge, ct))
        {
            await ledger.PostBatchAsync(posted.Select(builder.Build).ToList(), ct);
        }

        await using var reader = await PostgresLedgerReader.OpenAsync(connectionString, ct);
        Assert.StartsWith("PostgreSQL 127.0.0.1:", reader.Location, StringComparison.Ordinal);
        var journals = await reader.JournalsAsync(ReconcilerTests.November, entity, ct);
        return Reconciler.Reconcile(ReconcilerTests.November, entity, sources, journals, quarantined ?? [], DefaultChartOfAccounts.Instance);
    }

    [Fact]
    public async Task A_month_whose_postings_match_the_sources_has_no_break()
    {
        var report = await ReconcileAsync(
            [ReconcilerTests.In1, ReconcilerTests.In2, ReconcilerTests.In2Void, ReconcilerTests.Pi1, ReconcilerTests.In9December],
            [
                ReconcilerTests.Source(ReconcilerTests.In1), ReconcilerTests.Source(ReconcilerTests.In2), ReconcilerTests.Source(ReconcilerTests.In2Void),
                ReconcilerTests.Source(ReconcilerTests.Pi1), ReconcilerTests.Source(ReconcilerTests.PiQuarantined),
                ReconcilerTests.Source(ReconcilerTests.PiInFlight, state: SourceFactState.InFlight), ReconcilerTests.Source(ReconcilerTests.In9December),
            ],
            new() { [ReconcilerTests.PiQuarantined.PostingKey] = "UNKNOWN_ACCOUNT" });

        Assert.True(report.Clean, report.Render());
        var usd = Assert.Single(report.Totals);
        Assert.Equal(("US01", "USD"), (usd.LegalEntityId, usd.Currency));
        Assert.Equal((1072.50m, 1072.50m), (usd.SourceInvoices, usd.LedgerInvoices));
        Assert.Equal((1102.50m, 1072.50m, 30.00m), (usd.SourcePayments, usd.LedgerPayments, usd.ExplainedPayments));
        Assert.Equal(0m, usd.TrialBalance);
        Assert.Contains("No breaks.", report.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fact_the_sink_read_but_never_posted_is_a_missing_posting()
    {
        var report = await ReconcileAsync([ReconcilerTests.In1], [ReconcilerTests.Source(ReconcilerTests.In1), ReconcilerTests.Source(ReconcilerTests.Pi1)]);

        var b = Assert.Single(report.Breaks);
        Assert.Equal((BreakKind.MissingPosting, "payment:pi_1:applied", "stripe:payment:pi_1", 1072.50m, (decimal?)null),
            (b.Kind, b.PostingKey, b.SourceId, b.SourceAmount, b.LedgerAmount));
        Assert.Equal((1072.50m, 0m), (report.Totals.Single().SourcePayments, report.Totals.Single().LedgerPayments));
        Assert.Equal((1072.50m, 1072.50m), (report.Totals.Single().SourceInvoices, report.Totals.Single().LedgerInvoices));
    }

    [Fact]
    public async Task A_posting_for_a_different_amount_is_a_mismatch_to_the_cent()
    {
        var report = await ReconcileAsync([ReconcilerTests.Invoice("in_1", 1000.00m, 72.41m)], [ReconcilerTests.Source(ReconcilerTests.In1)]);

        var b = Assert.Single(report.Breaks);
        Assert.Equal((BreakKind.AmountMismatch, "invoice:in_1:issued", 1072.50m, 1072.41m), (b.Kind, b.PostingKey, b.SourceAmount, b.LedgerAmount));
        Assert.Contains("difference -0.09", b.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_entity_filter_leaves_other_entities_out()
    {
        var de = ReconcilerTests.Invoice("in_5", 99.99m, 0m, entity: "DE01", currency: "EUR");
        var report = await ReconcileAsync([de, ReconcilerTests.In1], [ReconcilerTests.Source(de), ReconcilerTests.Source(ReconcilerTests.Pi1)], entity: "DE01");

        Assert.True(report.Clean, report.Render());
        Assert.Equal(("DE01", "EUR", 99.99m, 99.99m), (report.Totals.Single().LegalEntityId, report.Totals.Single().Currency,
            report.Totals.Single().SourceInvoices, report.Totals.Single().LedgerInvoices));
    }

    [Fact]
    public async Task A_database_without_ledger_tables_is_refused_by_name()
    {
        var connectionString = await postgres.NewDatabaseAsync();
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => PostgresLedgerReader.OpenAsync(connectionString, TestContext.Current.CancellationToken));
        Assert.Contains("journal_entries", ex.Message, StringComparison.Ordinal);
    }
}
