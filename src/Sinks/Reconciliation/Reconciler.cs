using System.Globalization;
using System.Text;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Reconciliation;

/// <summary>A month to reconcile (<c>yyyy-MM</c>), by effective date.</summary>
public readonly record struct Period(int Year, int Month)
{
    /// <summary>First day (inclusive).</summary>
    public DateTime Start => new(Year, Month, 1, 0, 0, 0, DateTimeKind.Utc);

    /// <summary>First day of the next month (exclusive).</summary>
    public DateTime End => Start.AddMonths(1);

    /// <summary>True when <paramref name="date"/> falls in the period.</summary>
    public bool Contains(DateTime date) => date >= Start && date < End;

    /// <summary>Parses <c>yyyy-MM</c>; throws <see cref="FormatException"/> naming the bad text.</summary>
    public static Period Parse(string text) =>
        DateTime.TryParseExact(text, "yyyy-MM", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d)
            ? new Period(d.Year, d.Month)
            : throw new FormatException($"--period '{text}' is not a month in the form yyyy-MM (e.g. 2026-11).");

    /// <inheritdoc />
    public override string ToString() => $"{Year:D4}-{Month:D2}";
}

/// <summary>What a source fact is, for reconciliation: the three kinds finance checks against receivables.</summary>
public enum SourceFactKind
{
    /// <summary>Invoice finalized (AR debit).</summary>
    InvoiceIssued,
    /// <summary>Invoice voided (AR credit, mirror of the issue).</summary>
    InvoiceVoided,
    /// <summary>Payment applied (AR credit).</summary>
    PaymentApplied,
}

/// <summary>How far the pipeline got with a source fact that has no posting.</summary>
public enum SourceFactState
{
    /// <summary>The sink has read it (its group committed past it): it should be posted or quarantined.</summary>
    Processed,
    /// <summary>The sink has not read it yet: no posting is expected.</summary>
    InFlight,
}

/// <summary>One source fact: an invoice or payment as the canonical finance event carries it.</summary>
public sealed record SourceFact(string PostingKey, SourceFactKind Kind, string LegalEntityId, string Currency, decimal Amount, string SourceId,
    DateTime EffectiveDate, SourceFactState State = SourceFactState.Processed);

/// <summary>
/// One billing record (an invoice finalized or voided, a payment succeeded) from <c>billing.invoices.v1</c> /
/// <c>billing.payments.v1</c>, before any mapping: it has no legal entity yet.
/// </summary>
/// <param name="QuarantineReason">Set when the mapping stage quarantined this record (matched by its topic, partition and offset).</param>
/// <param name="State">Whether the mapping stage has read it (its group committed past it).</param>
public sealed record BillingFact(string PostingKey, SourceFactKind Kind, string Currency, decimal Amount, string SourceId, DateTime EffectiveDate,
    string Coordinates, string? QuarantineReason = null, SourceFactState State = SourceFactState.Processed);

/// <summary>One posted journal as the ledger holds it.</summary>
public sealed record LedgerJournal(string PostingKey, FinanceEventKind EventKind, string LegalEntityId, string Currency, DateTime EffectiveDate,
    string SourceObject, string ErpDocumentId, IReadOnlyList<JournalLine> Lines)
{
    /// <summary>Σ debits.</summary>
    public decimal TotalDebits => Lines.Sum(l => l.Debit);

    /// <summary>Σ credits.</summary>
    public decimal TotalCredits => Lines.Sum(l => l.Credit);
}

/// <summary>Kinds of break.</summary>
public enum BreakKind
{
    /// <summary>A source fact the sink has read has neither a posting nor a quarantine record.</summary>
    MissingPosting,
    /// <summary>The posting's receivable amount differs from the source amount.</summary>
    AmountMismatch,
    /// <summary>A posting of a reconciled kind with no source fact.</summary>
    ExtraPosting,
    /// <summary>A journal whose debits and credits differ.</summary>
    UnbalancedJournal,
    /// <summary>An entity and currency whose debits and credits over the period differ.</summary>
    TrialBalanceNotZero,
    /// <summary>A billing record the mapping stage has read that became neither a finance event nor a quarantine record.</summary>
    NotMapped,
    /// <summary>A billing record whose finance event carries another amount or currency.</summary>
    MappedAmountMismatch,
}

/// <summary>One break: what, where, and the amounts on each side.</summary>
public sealed record ReconciliationBreak(BreakKind Kind, string LegalEntityId, string Currency, string? PostingKey, string? SourceId, decimal? SourceAmount,
    decimal? LedgerAmount, string Detail);

/// <summary>A source fact with no posting that is explained: quarantined (with the reason) or not yet read by the sink.</summary>
public sealed record ExplainedItem(string PostingKey, string SourceId, string LegalEntityId, string Currency, decimal Amount, string Explanation);

/// <summary>Totals of one entity and currency: source side, ledger side, and what explains the difference.</summary>
public sealed record ReconciliationTotals(string LegalEntityId, string Currency)
{
    /// <summary>Σ source invoice totals, issued minus voided.</summary>
    public decimal SourceInvoices { get; set; }

    /// <summary>Σ AR debits of InvoiceIssued minus Σ AR credits of InvoiceVoided postings.</summary>
    public decimal LedgerInvoices { get; set; }

    /// <summary>Σ source payments.</summary>
    public decimal SourcePayments { get; set; }

    /// <summary>Σ AR credits of PaymentApplied postings.</summary>
    public decimal LedgerPayments { get; set; }

    /// <summary>Source invoices (net) explained by quarantine or in flight.</summary>
    public decimal ExplainedInvoices { get; set; }

    /// <summary>Source payments explained by quarantine or in flight.</summary>
    public decimal ExplainedPayments { get; set; }

    /// <summary>Σ debits − Σ credits of every journal of the entity and currency in the period (zero when balanced).</summary>
    public decimal TrialBalance { get; set; }
}

/// <summary>The result of a reconciliation: totals per entity and currency, breaks, explained items.</summary>
public sealed record ReconciliationReport(Period Period, string? Entity, IReadOnlyList<ReconciliationTotals> Totals, IReadOnlyList<ReconciliationBreak> Breaks,
    IReadOnlyList<ExplainedItem> Explained)
{
    /// <summary>Billing records of the period checked against the finance events (null when they were not read).</summary>
    public BillingSummary? Billing { get; init; }

    /// <summary>True when nothing breaks.</summary>
    public bool Clean => Breaks.Count == 0;

    /// <summary>Human-readable report.</summary>
    public string Render()
    {
        static string A(decimal v) => v.ToString("0.00##", CultureInfo.InvariantCulture);
        var sb = new StringBuilder();
        sb.AppendLine(CultureInfo.InvariantCulture, $"Reconciliation {Period}{(Entity is null ? "" : $", entity {Entity}")}");
        sb.AppendLine("ENTITY  CURRENCY  SOURCE INVOICES  LEDGER INVOICES  SOURCE PAYMENTS  LEDGER PAYMENTS  EXPLAINED  TRIAL BALANCE");
        foreach (var t in Totals)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"{t.LegalEntityId,-6}  {t.Currency,-8}  {A(t.SourceInvoices),15}  {A(t.LedgerInvoices),15}  {A(t.SourcePayments),15}  {A(t.LedgerPayments),15}  {A(t.ExplainedInvoices + t.ExplainedPayments),9}  {A(t.TrialBalance),13}");
        }

        if (Billing is { } billing)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"Billing records in the period: {billing.Records} ({billing.Mapped} mapped to finance events, {billing.Quarantined} quarantined, {billing.InFlight} not yet read by the mapping stage, {billing.NotMapped} not mapped)");
        }

        foreach (var e in Explained)
        {
            sb.AppendLine(CultureInfo.InvariantCulture, $"explained: {e.PostingKey} (source {e.SourceId}) {e.LegalEntityId} {A(e.Amount)} {e.Currency}: {e.Explanation}");
        }

        if (Clean)
        {
            sb.AppendLine("No breaks.");
            return sb.ToString();
        }

        sb.AppendLine(CultureInfo.InvariantCulture, $"{Breaks.Count} break(s):");
        foreach (var b in Breaks)
        {
            sb.AppendLine(CultureInfo.InvariantCulture,
                $"BREAK {b.Kind} {b.LegalEntityId} {b.Currency} posting key {b.PostingKey ?? "-"} source {b.SourceId ?? "-"}: "
                + $"source {(b.SourceAmount is { } s ? A(s) : "-")}, ledger {(b.LedgerAmount is { } l ? A(l) : "-")}. {b.Detail}");
        }

        return sb.ToString();
    }
}

/// <summary>How the period's billing records fared in the mapping stage.</summary>
public sealed record BillingSummary(int Records, int Mapped, int Quarantined, int InFlight, int NotMapped);

/// <summary>
/// Reconciles source facts with ledger postings for a period, per DOMAIN.md: Σ source invoices = Σ AR of InvoiceIssued −
/// InvoiceVoided postings; Σ source payments = Σ AR credits of PaymentApplied postings; every journal balanced; trial balance
/// zero per entity and currency; every source fact posted, quarantined or still in flight. Amounts are exact decimals.
/// </summary>
public static class Reconciler
{
    /// <summary>Compares; <paramref name="quarantined"/> maps posting keys to the quarantine reason.</summary>
    /// <param name="billing">
    /// The period's billing records, checked one level further back: each must have become a finance event (with the same amount
    /// and currency) or a quarantine record, or not have been read yet. They carry no legal entity, so with an
    /// <paramref name="entity"/> filter only those that did become a finance event of that entity are checked. Null skips the check.
    /// </param>
    public static ReconciliationReport Reconcile(Period period, string? entity, IEnumerable<SourceFact> sources, IEnumerable<LedgerJournal> journals,
        IReadOnlyDictionary<string, string> quarantined, IChartOfAccounts chart, IEnumerable<BillingFact>? billing = null)
    {
        ArgumentNullException.ThrowIfNull(sources);
        ArgumentNullException.ThrowIfNull(journals);
        ArgumentNullException.ThrowIfNull(quarantined);
        ArgumentNullException.ThrowIfNull(chart);
        bool InScope(string e, DateTime date) => (entity is null || e == entity) && period.Contains(date);

        // The last record per posting key wins (a fact re-emitted by a replay is the same fact).
        var allSources = new Dictionary<string, SourceFact>(StringComparer.Ordinal);
        foreach (var s in sources)
        {
            allSources[s.PostingKey] = s;
        }

        var source = allSources.Values.Where(s => InScope(s.LegalEntityId, s.EffectiveDate)).ToDictionary(s => s.PostingKey, StringComparer.Ordinal);

        var ledger = journals.Where(j => InScope(j.LegalEntityId, j.EffectiveDate)).ToDictionary(j => j.PostingKey, StringComparer.Ordinal);
        var totals = new SortedDictionary<(string, string), ReconciliationTotals>();
        ReconciliationTotals T(string e, string c) => totals.TryGetValue((e, c), out var t) ? t : totals[(e, c)] = new ReconciliationTotals(e, c);
        var breaks = new List<ReconciliationBreak>();
        var explained = new List<ExplainedItem>();

        foreach (var s in source.Values.OrderBy(s => s.PostingKey, StringComparer.Ordinal))
        {
            var t = T(s.LegalEntityId, s.Currency);
            var signed = s.Kind == SourceFactKind.InvoiceVoided ? -s.Amount : s.Amount;
            if (s.Kind == SourceFactKind.PaymentApplied)
            {
                t.SourcePayments += s.Amount;
            }
            else
            {
                t.SourceInvoices += signed;
            }

            if (ledger.TryGetValue(s.PostingKey, out var j))
            {
                var posted = Receivable(j, chart);
                if (posted != s.Amount || j.Currency != s.Currency)
                {
                    breaks.Add(new ReconciliationBreak(BreakKind.AmountMismatch, s.LegalEntityId, s.Currency, s.PostingKey, s.SourceId, s.Amount, posted,
                        $"posted as {j.ErpDocumentId} with receivable {posted} {j.Currency}, source says {s.Amount} {s.Currency} (difference {posted - s.Amount})."));
                }

                continue;
            }

            string? why = quarantined.TryGetValue(s.PostingKey, out var reason) ? $"quarantined ({reason})"
                : s.State == SourceFactState.InFlight ? "in flight (the sink has not read it yet)"
                : null;
            if (why is null)
            {
                breaks.Add(new ReconciliationBreak(BreakKind.MissingPosting, s.LegalEntityId, s.Currency, s.PostingKey, s.SourceId, s.Amount, null,
                    "the sink has read this fact, but the ledger has no posting and quarantine has no record of it."));
                continue;
            }

            explained.Add(new ExplainedItem(s.PostingKey, s.SourceId, s.LegalEntityId, s.Currency, s.Amount, why));
            if (s.Kind == SourceFactKind.PaymentApplied)
            {
                t.ExplainedPayments += s.Amount;
            }
            else
            {
                t.ExplainedInvoices += signed;
            }
        }

        foreach (var j in ledger.Values.OrderBy(j => j.PostingKey, StringComparer.Ordinal))
        {
            var t = T(j.LegalEntityId, j.Currency);
            t.TrialBalance += j.TotalDebits - j.TotalCredits;
            if (j.TotalDebits != j.TotalCredits)
            {
                breaks.Add(new ReconciliationBreak(BreakKind.UnbalancedJournal, j.LegalEntityId, j.Currency, j.PostingKey, j.SourceObject, null, j.TotalDebits - j.TotalCredits,
                    $"journal {j.ErpDocumentId}: debits {j.TotalDebits} and credits {j.TotalCredits} differ by {j.TotalDebits - j.TotalCredits}."));
            }

            if (j.EventKind is not (FinanceEventKind.InvoiceIssued or FinanceEventKind.InvoiceVoided or FinanceEventKind.PaymentApplied))
            {
                continue;
            }

            var receivable = Receivable(j, chart);
            if (j.EventKind == FinanceEventKind.PaymentApplied)
            {
                t.LedgerPayments += receivable;
            }
            else
            {
                t.LedgerInvoices += j.EventKind == FinanceEventKind.InvoiceVoided ? -receivable : receivable;
            }

            if (!source.ContainsKey(j.PostingKey))
            {
                breaks.Add(new ReconciliationBreak(BreakKind.ExtraPosting, j.LegalEntityId, j.Currency, j.PostingKey, j.SourceObject, null, receivable,
                    $"posted as {j.ErpDocumentId}, but no source fact in the period has this posting key."));
            }
        }

        breaks.AddRange(totals.Values.Where(t => t.TrialBalance != 0m).Select(t => new ReconciliationBreak(BreakKind.TrialBalanceNotZero, t.LegalEntityId, t.Currency,
            null, null, null, t.TrialBalance, $"debits minus credits over the period's journals is {t.TrialBalance}, not zero.")));
        var summary = billing is null ? null : CheckBilling(period, entity, billing, allSources, breaks, explained);
        return new ReconciliationReport(period, entity, totals.Values.ToList(), breaks, explained) { Billing = summary };
    }

    private static BillingSummary CheckBilling(Period period, string? entity, IEnumerable<BillingFact> billing, Dictionary<string, SourceFact> events,
        List<ReconciliationBreak> breaks, List<ExplainedItem> explained)
    {
        // The last record per posting key wins, as on the finance-event side.
        var facts = new Dictionary<string, BillingFact>(StringComparer.Ordinal);
        foreach (var b in billing.Where(b => period.Contains(b.EffectiveDate)))
        {
            facts[b.PostingKey] = b;
        }

        int records = 0, mapped = 0, quarantinedCount = 0, inFlight = 0, notMapped = 0;
        foreach (var b in facts.Values.OrderBy(b => b.PostingKey, StringComparer.Ordinal))
        {
            events.TryGetValue(b.PostingKey, out var fe);
            if (entity is not null && fe?.LegalEntityId != entity)
            {
                continue; // no entity to attribute it to, or another entity's
            }

            records++;
            if (fe is not null)
            {
                mapped++;
                if (fe.Amount != b.Amount || fe.Currency != b.Currency)
                {
                    breaks.Add(new ReconciliationBreak(BreakKind.MappedAmountMismatch, fe.LegalEntityId, b.Currency, b.PostingKey, b.SourceId, b.Amount, fe.Amount,
                        $"billing record {b.Coordinates} says {b.Amount} {b.Currency}; its finance event says {fe.Amount} {fe.Currency}."));
                }
            }
            else if (b.QuarantineReason is { } reason)
            {
                quarantinedCount++;
                explained.Add(new ExplainedItem(b.PostingKey, b.SourceId, "-", b.Currency, b.Amount, $"quarantined by the mapping stage ({reason})"));
            }
            else if (b.State == SourceFactState.InFlight)
            {
                inFlight++;
                explained.Add(new ExplainedItem(b.PostingKey, b.SourceId, "-", b.Currency, b.Amount, "in flight (the mapping stage has not read it yet)"));
            }
            else
            {
                notMapped++;
                breaks.Add(new ReconciliationBreak(BreakKind.NotMapped, "-", b.Currency, b.PostingKey, b.SourceId, b.Amount, null,
                    $"billing record {b.Coordinates} was read by the mapping stage but has no finance event and no quarantine record."));
            }
        }

        return new BillingSummary(records, mapped, quarantinedCount, inFlight, notMapped);
    }

    /// <summary>
    /// The receivable a journal moves, as a positive amount: AR debit of an issue, AR credit of a void or payment. Zero when the
    /// chart maps no receivable account for the journal's entity any more (the amount check then reports the journal).
    /// </summary>
    public static decimal Receivable(LedgerJournal journal, IChartOfAccounts chart)
    {
        ArgumentNullException.ThrowIfNull(journal);
        ArgumentNullException.ThrowIfNull(chart);
        string ar;
        try
        {
            ar = chart.Account(journal.LegalEntityId, AccountRole.AccountsReceivable);
        }
        catch (UnknownAccountException)
        {
            return 0m;
        }

        var lines = journal.Lines.Where(l => l.Account == ar).ToList();
        return journal.EventKind == FinanceEventKind.InvoiceIssued
            ? lines.Sum(l => l.Debit) - lines.Sum(l => l.Credit)
            : lines.Sum(l => l.Credit) - lines.Sum(l => l.Debit);
    }
}
