using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Reconciliation;

namespace Streaming.Sinks.Tests;

/// <summary>
/// Reconciliation of source facts against a real SQLite ledger (posted through <see cref="SqliteLedger"/>, read back through
/// <see cref="SqliteLedgerReader"/>), with exact decimals: a clean month, a missing posting, an amount mismatch and an extra
/// posting, each named by posting key and source id; quarantined and in-flight facts are explained, not breaks. Reading the
/// sources from Kafka is covered by <c>Streaming.IntegrationTests.ReconcileCommandTests</c>.
/// </summary>
public sealed class ReconcilerTests : IAsyncLifetime
{
    private static readonly DateTime Nov = new(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc);
    internal static readonly Period November = new(2026, 11);
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"reconcile-{Guid.NewGuid():N}.db");
    private SqliteLedger _ledger = null!;

    public async ValueTask InitializeAsync() => _ledger = await SqliteLedger.OpenAsync(_path, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _ledger.DisposeAsync();
        foreach (var f in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(f);
        }
    }

    internal static FinanceFact Invoice(string id, decimal services, decimal tax, bool voided = false, string entity = "US01", string currency = "USD", DateTime? at = null) =>
        new($"fe_{id}", voided ? FinanceEventKind.InvoiceVoided : FinanceEventKind.InvoiceIssued, $"invoice:{id}:{(voided ? "voided" : "issued")}", $"corr-{id}",
            entity, "C-1", currency, services + tax, tax, at ?? Nov, id,
            [new FinanceLine($"{id}:l1", FinanceLineKind.Services, services), new FinanceLine($"{id}:tax", FinanceLineKind.Tax, tax, TaxJurisdiction: "US-CA")],
            new SourceCoordinates("stripe", "invoice", id, $"evt_{id}"));

    internal static FinanceFact Payment(string id, decimal amount, decimal fee, string entity = "US01", string currency = "USD") =>
        new($"fe_{id}", FinanceEventKind.PaymentApplied, $"payment:{id}:applied", $"corr-{id}", entity, "C-1", currency, amount, 0m, Nov, id,
            [new FinanceLine($"{id}:fee", FinanceLineKind.Fee, fee)], new SourceCoordinates("stripe", "payment", id, $"evt_{id}"));

    internal static SourceFact Source(FinanceFact f, decimal? amount = null, SourceFactState state = SourceFactState.Processed) =>
        new(f.PostingKey, f.Kind switch
        {
            FinanceEventKind.InvoiceIssued => SourceFactKind.InvoiceIssued,
            FinanceEventKind.InvoiceVoided => SourceFactKind.InvoiceVoided,
            _ => SourceFactKind.PaymentApplied,
        }, f.LegalEntityId, f.Currency, amount ?? f.TotalAmount, $"stripe:{f.Source.ObjectType}:{f.Source.ObjectId}", f.EffectiveDate, state);

    private async Task<ReconciliationReport> ReconcileAsync(IEnumerable<FinanceFact> posted, IEnumerable<SourceFact> sources,
        Dictionary<string, string>? quarantined = null, string? entity = null, IEnumerable<BillingFact>? billing = null)
    {
        var ct = TestContext.Current.CancellationToken;
        var builder = new JournalBuilder(DefaultChartOfAccounts.Instance);
        await _ledger.PostBatchAsync(posted.Select(builder.Build).ToList(), ct);
        await using var reader = await SqliteLedgerReader.OpenAsync(_path, ct);
        var journals = await reader.JournalsAsync(November, entity, ct);
        return Reconciler.Reconcile(November, entity, sources, journals, quarantined ?? [], DefaultChartOfAccounts.Instance, billing);
    }

    // A month with an issued invoice, another issued and voided, a payment, a quarantined payment, one in flight and a
    // DE01 invoice in December (out of the period).
    internal static readonly FinanceFact In1 = Invoice("in_1", 1000.00m, 72.50m);
    internal static readonly FinanceFact In2 = Invoice("in_2", 40.00m, 2.90m);
    internal static readonly FinanceFact In2Void = Invoice("in_2", 40.00m, 2.90m, voided: true);
    internal static readonly FinanceFact Pi1 = Payment("pi_1", 1072.50m, 31.40m);
    internal static readonly FinanceFact PiQuarantined = Payment("pi_q", 10.00m, 0m);
    internal static readonly FinanceFact PiInFlight = Payment("pi_f", 20.00m, 0m);
    internal static readonly FinanceFact In9December = Invoice("in_9", 5.00m, 0m, entity: "DE01", currency: "EUR", at: new DateTime(2026, 12, 1, 0, 0, 0, DateTimeKind.Utc));

    [Fact]
    public async Task A_month_whose_postings_match_the_sources_has_no_break()
    {
        var report = await ReconcileAsync([In1, In2, In2Void, Pi1, In9December],
            [Source(In1), Source(In2), Source(In2Void), Source(Pi1), Source(PiQuarantined), Source(PiInFlight, state: SourceFactState.InFlight), Source(In9December)],
            new() { [PiQuarantined.PostingKey] = "UNKNOWN_ACCOUNT" });

        Assert.True(report.Clean, report.Render());
        var usd = Assert.Single(report.Totals);
        Assert.Equal(("US01", "USD"), (usd.LegalEntityId, usd.Currency));
        Assert.Equal((1072.50m, 1072.50m), (usd.SourceInvoices, usd.LedgerInvoices));
        Assert.Equal((1102.50m, 1072.50m, 30.00m), (usd.SourcePayments, usd.LedgerPayments, usd.ExplainedPayments));
        Assert.Equal(0m, usd.TrialBalance);
        Assert.Equal(["payment:pi_f:applied", "payment:pi_q:applied"], report.Explained.Select(e => e.PostingKey).Order());
        Assert.Contains("No breaks.", report.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Receivables_are_read_on_the_AR_account_the_GL_mappings_give_the_entity()
    {
        var ct = TestContext.Current.CancellationToken;
        var chart = new GlMappingChartOfAccounts(DefaultChartOfAccounts.Instance);
        foreach (var (role, account, jurisdiction) in new (Contracts.MasterData.AccountRole, string, string?)[]
                 {
                     (Contracts.MasterData.AccountRole.AR, "11000", null), (Contracts.MasterData.AccountRole.CASH, "10000", null),
                     (Contracts.MasterData.AccountRole.SERVICES_REVENUE, "42000", null), (Contracts.MasterData.AccountRole.PAYMENT_FEES, "61000", null),
                     (Contracts.MasterData.AccountRole.TAX_PAYABLE, "23000", "US-CA"),
                 })
        {
            chart.Apply($"gl_{role}", new Contracts.MasterData.GlMapping
            {
                mappingId = $"gl_{role}", legalEntityId = "US01", accountRole = role, glAccountNumber = account, jurisdictionCode = jurisdiction,
            });
        }

        var builder = new JournalBuilder(chart);
        await _ledger.PostBatchAsync([builder.Build(In1), builder.Build(Pi1)], ct);
        await using var reader = await SqliteLedgerReader.OpenAsync(_path, ct);
        var journals = await reader.JournalsAsync(November, null, ct);
        SourceFact[] sources = [Source(In1), Source(Pi1)];

        var mapped = Reconciler.Reconcile(November, null, sources, journals, new Dictionary<string, string>(), chart.Current);
        Assert.True(mapped.Clean, mapped.Render());
        Assert.Equal((1072.50m, 1072.50m), (mapped.Totals.Single().LedgerInvoices, mapped.Totals.Single().LedgerPayments));

        // Read with the default chart (AR 1100), the same ledger shows no receivable at all: every fact is a mismatch.
        var unmapped = Reconciler.Reconcile(November, null, sources, journals, new Dictionary<string, string>(), DefaultChartOfAccounts.Instance);
        Assert.Equal([BreakKind.AmountMismatch, BreakKind.AmountMismatch], unmapped.Breaks.Select(b => b.Kind));

        // An entity whose AR mapping is gone: its journals are reported as mismatches, not a crash.
        chart.Apply("gl_AR", null);
        var noAr = Reconciler.Reconcile(November, null, sources, journals, new Dictionary<string, string>(), chart.Current);
        Assert.All(noAr.Breaks, b => Assert.Equal((BreakKind.AmountMismatch, (decimal?)0m), (b.Kind, b.LedgerAmount)));
        Assert.Equal(2, noAr.Breaks.Count);
    }

    [Fact]
    public async Task A_fact_the_sink_read_but_never_posted_is_a_missing_posting()
    {
        var report = await ReconcileAsync([In1], [Source(In1), Source(Pi1)]);

        var b = Assert.Single(report.Breaks);
        Assert.Equal((BreakKind.MissingPosting, "payment:pi_1:applied", "stripe:payment:pi_1", 1072.50m, (decimal?)null),
            (b.Kind, b.PostingKey, b.SourceId, b.SourceAmount, b.LedgerAmount));
        Assert.Equal((1072.50m, 0m), (report.Totals.Single().SourcePayments, report.Totals.Single().LedgerPayments));
        Assert.Contains("BREAK MissingPosting US01 USD posting key payment:pi_1:applied source stripe:payment:pi_1", report.Render(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_posting_for_a_different_amount_is_a_mismatch_to_the_cent()
    {
        var posted = Invoice("in_1", 1000.00m, 72.41m); // source says tax 72.50: 0.09 apart
        var report = await ReconcileAsync([posted], [Source(In1)]);

        var b = Assert.Single(report.Breaks);
        Assert.Equal((BreakKind.AmountMismatch, "invoice:in_1:issued", "stripe:invoice:in_1", 1072.50m, 1072.41m), (b.Kind, b.PostingKey, b.SourceId, b.SourceAmount, b.LedgerAmount));
        Assert.Contains("difference -0.09", b.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_posting_without_a_source_fact_is_extra()
    {
        var report = await ReconcileAsync([In1, Pi1], [Source(In1)]);

        var b = Assert.Single(report.Breaks);
        Assert.Equal((BreakKind.ExtraPosting, "payment:pi_1:applied", "payment:pi_1", 1072.50m), (b.Kind, b.PostingKey, b.SourceId, b.LedgerAmount));
        Assert.Equal((0m, 1072.50m), (report.Totals.Single().SourcePayments, report.Totals.Single().LedgerPayments));
    }

    [Fact]
    public async Task The_entity_filter_leaves_other_entities_out()
    {
        var de = Invoice("in_5", 99.99m, 0m, entity: "DE01", currency: "EUR");
        var report = await ReconcileAsync([de], [Source(de), Source(Pi1)], entity: "DE01");

        Assert.True(report.Clean, report.Render());
        Assert.Equal(("DE01", "EUR", 99.99m, 99.99m), (report.Totals.Single().LegalEntityId, report.Totals.Single().Currency,
            report.Totals.Single().SourceInvoices, report.Totals.Single().LedgerInvoices));
    }

    private static BillingFact Billing(FinanceFact f, decimal? amount = null, string? quarantined = null, SourceFactState state = SourceFactState.Processed) =>
        new(f.PostingKey, Source(f).Kind, f.Currency, amount ?? f.TotalAmount, $"stripe:{f.Source.ObjectType}:{f.Source.ObjectId}", f.EffectiveDate,
            $"billing.{f.Source.ObjectType}s.v1[0]@{f.Source.ObjectId.Length}", quarantined, state);

    [Fact]
    public async Task Billing_records_are_mapped_quarantined_in_flight_or_a_break()
    {
        var orphan = Payment("pi_orphan", 12.34m, 0m);
        var lost = Payment("pi_lost", 56.78m, 0m);
        var unread = Invoice("in_new", 10m, 0m);
        var report = await ReconcileAsync([In1, Pi1], [Source(In1), Source(Pi1)], billing:
        [
            Billing(In1), Billing(Pi1, amount: 1072.05m), Billing(orphan, quarantined: "MISSING_ACCOUNT_LINK"), Billing(unread, state: SourceFactState.InFlight),
            Billing(lost), Billing(In9December),
        ]);

        Assert.Equal(new BillingSummary(Records: 5, Mapped: 2, Quarantined: 1, InFlight: 1, NotMapped: 1), report.Billing);
        Assert.Equal(
            [
                (BreakKind.MappedAmountMismatch, "payment:pi_1:applied", "stripe:payment:pi_1", (decimal?)1072.05m, (decimal?)1072.50m),
                (BreakKind.NotMapped, "payment:pi_lost:applied", "stripe:payment:pi_lost", 56.78m, null),
            ],
            report.Breaks.Select(b => (b.Kind, b.PostingKey!, b.SourceId!, b.SourceAmount, b.LedgerAmount)));
        Assert.Contains(report.Explained, e => e.PostingKey == "payment:pi_orphan:applied" && e.Explanation.Contains("MISSING_ACCOUNT_LINK", StringComparison.Ordinal));
        Assert.Contains(report.Explained, e => e.PostingKey == "invoice:in_new:issued" && e.Explanation.StartsWith("in flight", StringComparison.Ordinal));

        // With an entity filter, only billing records that became that entity's finance events are checked.
        var us = await ReconcileAsync([], [Source(In1), Source(Pi1)], billing: [Billing(In1), Billing(lost)], entity: "US01");
        Assert.Equal(new BillingSummary(1, 1, 0, 0, 0), us.Billing);
    }

    [Theory]
    [InlineData("2026-13")]
    [InlineData("2026-1")]
    [InlineData("November")]
    public void A_malformed_period_is_named(string text) =>
        Assert.Contains($"'{text}'", Assert.Throws<FormatException>(() => Period.Parse(text)).Message, StringComparison.Ordinal);
}
