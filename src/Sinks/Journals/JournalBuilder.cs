namespace Streaming.Sinks.Journals;

/// <summary>A fact that cannot become a postable journal (a permanent error: quarantine, never post).</summary>
public sealed class JournalRejectedException(string postingKey, string reasonCode, string message, decimal imbalance = 0m)
    : Exception($"{postingKey}: {message}")
{
    /// <summary>Posting key of the rejected fact.</summary>
    public string PostingKey { get; } = postingKey;

    /// <summary>Machine-readable reason (<c>UNBALANCED_JOURNAL</c>, <c>UNKNOWN_ACCOUNT</c>, <c>INVALID_FACT</c>).</summary>
    public string ReasonCode { get; } = reasonCode;

    /// <summary>Debits minus credits, for an unbalanced journal.</summary>
    public decimal Imbalance { get; } = imbalance;
}

/// <summary>Builds journals from canonical finance events per the templates of DOMAIN.md.</summary>
public sealed class JournalBuilder(IChartOfAccounts chart)
{
    /// <summary>Builds the journal; throws <see cref="JournalRejectedException"/> when it would not balance or cannot be mapped.</summary>
    public Journal Build(FinanceFact fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        Validate(fact);
        List<JournalLine> lines;
        try
        {
            lines = fact.Kind switch
            {
                FinanceEventKind.InvoiceIssued => InvoiceLines(fact, reverse: false),
                FinanceEventKind.InvoiceVoided => InvoiceLines(fact, reverse: true),
                FinanceEventKind.PaymentApplied => PaymentLines(fact),
                FinanceEventKind.CreditIssued => CreditLines(fact),
                FinanceEventKind.RefundIssued =>
                [
                    Dr(AccountRole.AccountsReceivable, fact.TotalAmount, "refund re-opens receivable", fact),
                    Cr(AccountRole.Cash, fact.TotalAmount, "refund paid", fact),
                ],
                FinanceEventKind.UsageAccrued =>
                [
                    Dr(AccountRole.UnbilledReceivable, fact.TotalAmount, "usage accrued", fact),
                    Cr(AccountRole.UsageRevenue, fact.TotalAmount, "usage revenue", fact),
                ],
                FinanceEventKind.RevenueRecognized =>
                [
                    Dr(AccountRole.DeferredRevenue, fact.TotalAmount, "deferred revenue released", fact),
                    Cr(AccountRole.SubscriptionRevenue, fact.TotalAmount, "subscription revenue", fact),
                ],
                _ => throw new JournalRejectedException(fact.PostingKey, "INVALID_FACT", $"unknown event kind {fact.Kind}"),
            };
        }
        catch (UnknownAccountException ex)
        {
            throw new JournalRejectedException(fact.PostingKey, "UNKNOWN_ACCOUNT", ex.Message);
        }

        lines.RemoveAll(l => l.Debit == 0m && l.Credit == 0m);
        var journal = new Journal(fact.PostingKey, fact.CorrelationId, fact.Kind, fact.LegalEntityId, fact.CustomerId, fact.Currency,
            EffectiveDay(fact.EffectiveDate), fact.DocumentNumber, lines, fact.Source);
        if (!journal.IsBalanced)
        {
            throw new JournalRejectedException(fact.PostingKey, "UNBALANCED_JOURNAL",
                $"debits {journal.TotalDebits} and credits {journal.TotalCredits} differ by {journal.Imbalance} {fact.Currency}", journal.Imbalance);
        }

        return journal;
    }

    /// <summary>
    /// An invoice void as the exact mirror of the posted issue journal (DOMAIN: "mirror of the issued journal"): every debit of
    /// <paramref name="issued"/> becomes a credit and vice versa, whatever lines the void event carries. The void must be for the
    /// same entity, currency and total, else it is rejected (quarantined), never posted as a partial reversal.
    /// </summary>
    public static Journal BuildVoid(FinanceFact voidFact, Journal issued)
    {
        ArgumentNullException.ThrowIfNull(voidFact);
        ArgumentNullException.ThrowIfNull(issued);
        Validate(voidFact);
        if (voidFact.Kind != FinanceEventKind.InvoiceVoided || issued.EventKind != FinanceEventKind.InvoiceIssued)
        {
            throw new JournalRejectedException(voidFact.PostingKey, "INVALID_FACT", $"a void mirrors an InvoiceIssued journal; got {voidFact.Kind} against {issued.EventKind} {issued.PostingKey}");
        }

        if (voidFact.LegalEntityId != issued.LegalEntityId || voidFact.Currency != issued.Currency || voidFact.TotalAmount != issued.TotalDebits)
        {
            throw new JournalRejectedException(voidFact.PostingKey, "VOID_MISMATCH",
                $"void ({voidFact.LegalEntityId}, {voidFact.TotalAmount} {voidFact.Currency}) does not match the posted issue {issued.PostingKey} "
                + $"({issued.LegalEntityId}, {issued.TotalDebits} {issued.Currency})");
        }

        var lines = issued.Lines.Select(l => l with { Debit = l.Credit, Credit = l.Debit, Memo = "void: " + l.Memo }).ToList();
        return new Journal(voidFact.PostingKey, voidFact.CorrelationId, FinanceEventKind.InvoiceVoided, voidFact.LegalEntityId, voidFact.CustomerId, voidFact.Currency,
            EffectiveDay(voidFact.EffectiveDate), voidFact.DocumentNumber, lines, voidFact.Source);
    }

    /// <summary>Posting key of the issue a void reverses: <c>invoice:{id}:voided</c> → <c>invoice:{id}:issued</c>; null for other keys.</summary>
    public static string? IssuedKeyOf(string voidPostingKey)
        => voidPostingKey is not null && voidPostingKey.EndsWith(":voided", StringComparison.Ordinal) ? voidPostingKey[..^":voided".Length] + ":issued" : null;

    /// <summary>
    /// The accounting day of an effective timestamp: its UTC calendar date. DOMAIN.md and the legal-entity record carry no
    /// entity time zone, so UTC is the one rule; a local or unspecified timestamp is converted/treated as UTC first.
    /// </summary>
    public static DateTime EffectiveDay(DateTime effective) => effective.Kind switch
    {
        DateTimeKind.Local => effective.ToUniversalTime().Date,
        _ => DateTime.SpecifyKind(effective.Date, DateTimeKind.Utc),
    };

    private static void Validate(FinanceFact fact)
    {
        string? problem = null;
        if (string.IsNullOrWhiteSpace(fact.PostingKey)) { problem = "posting key is empty"; }
        else if (string.IsNullOrWhiteSpace(fact.LegalEntityId)) { problem = "legal entity is empty"; }
        else if (fact.Currency is not { Length: 3 } || !fact.Currency.All(char.IsAsciiLetterUpper)) { problem = $"currency '{fact.Currency}' is not an ISO 4217 code"; }
        else if (fact.TotalAmount < 0m) { problem = $"total amount {fact.TotalAmount} is negative"; }
        else if (!Contracts.Currencies.IsWholeMinorUnits(fact.TotalAmount, fact.Currency))
        {
            problem = $"total amount {fact.TotalAmount} has more decimals than {fact.Currency} allows ({Contracts.Currencies.MinorUnits(fact.Currency)})";
        }
        else if (fact.Lines.FirstOrDefault(l => !Contracts.Currencies.IsWholeMinorUnits(l.Amount, fact.Currency)) is { } odd)
        {
            problem = $"line {odd.LineId} amount {odd.Amount} has more decimals than {fact.Currency} allows ({Contracts.Currencies.MinorUnits(fact.Currency)})";
        }
        if (problem is not null)
        {
            throw new JournalRejectedException(string.IsNullOrWhiteSpace(fact.PostingKey) ? $"event:{fact.EventId}" : fact.PostingKey, "INVALID_FACT", problem);
        }
    }

    private List<JournalLine> InvoiceLines(FinanceFact fact, bool reverse)
    {
        var lines = new List<JournalLine> { Dr(AccountRole.AccountsReceivable, fact.TotalAmount, "invoice receivable", fact) };
        foreach (var line in fact.Lines)
        {
            var (role, jurisdiction, memo) = line.Kind switch
            {
                FinanceLineKind.Subscription when line.HasServicePeriod => (AccountRole.DeferredRevenue, (string?)null, "subscription deferred"),
                FinanceLineKind.Subscription => (AccountRole.SubscriptionRevenue, null, "subscription revenue"),
                FinanceLineKind.Services => (AccountRole.ServicesRevenue, null, "services revenue"),
                FinanceLineKind.Usage => (AccountRole.UnbilledReceivable, null, "usage billed: relieves accrual"),
                FinanceLineKind.Tax => (AccountRole.TaxPayable, line.TaxJurisdiction, $"sales tax {line.TaxJurisdiction}"),
                _ => throw new JournalRejectedException(fact.PostingKey, "INVALID_FACT", $"line {line.LineId} of kind {line.Kind} cannot appear on an invoice"),
            };
            lines.Add(Cr(role, line.Amount, memo, fact, jurisdiction));
        }

        // A void is the mirror image of the issue: every debit becomes a credit and vice versa.
        return reverse ? lines.Select(l => l with { Debit = l.Credit, Credit = l.Debit, Memo = "void: " + l.Memo }).ToList() : lines;
    }

    private List<JournalLine> PaymentLines(FinanceFact fact)
    {
        var fee = fact.Lines.Where(l => l.Kind == FinanceLineKind.Fee).Sum(l => l.Amount);
        if (fee < 0m || fee > fact.TotalAmount)
        {
            throw new JournalRejectedException(fact.PostingKey, "INVALID_FACT", $"fee {fee} is outside 0..{fact.TotalAmount}");
        }

        return
        [
            Dr(AccountRole.Cash, fact.TotalAmount - fee, "cash received (net of fee)", fact),
            Dr(AccountRole.PaymentFees, fee, "payment processing fee", fact),
            Cr(AccountRole.AccountsReceivable, fact.TotalAmount, "receivable settled", fact),
        ];
    }

    private List<JournalLine> CreditLines(FinanceFact fact)
    {
        var lines = new List<JournalLine>();
        foreach (var line in fact.Lines)
        {
            var (role, jurisdiction) = line.Kind switch
            {
                FinanceLineKind.Subscription when line.HasServicePeriod => (AccountRole.DeferredRevenue, (string?)null),
                FinanceLineKind.Subscription => (AccountRole.SubscriptionRevenue, null),
                FinanceLineKind.Services => (AccountRole.ServicesRevenue, null),
                FinanceLineKind.Usage => (AccountRole.UsageRevenue, null),
                FinanceLineKind.Tax => (AccountRole.TaxPayable, line.TaxJurisdiction),
                _ => throw new JournalRejectedException(fact.PostingKey, "INVALID_FACT", $"line {line.LineId} of kind {line.Kind} cannot appear on a credit note"),
            };
            lines.Add(Dr(role, line.Amount, $"credit {line.Kind.ToString().ToLowerInvariant()}", fact, jurisdiction));
        }

        lines.Add(Cr(AccountRole.AccountsReceivable, fact.TotalAmount, "credit reduces receivable", fact));
        return lines;
    }

    private JournalLine Dr(AccountRole role, decimal amount, string memo, FinanceFact fact, string? jurisdiction = null)
        => amount >= 0m ? new(chart.Account(fact.LegalEntityId, role, jurisdiction), amount, 0m, memo) : new(chart.Account(fact.LegalEntityId, role, jurisdiction), 0m, -amount, memo);

    private JournalLine Cr(AccountRole role, decimal amount, string memo, FinanceFact fact, string? jurisdiction = null)
        => amount >= 0m ? new(chart.Account(fact.LegalEntityId, role, jurisdiction), 0m, amount, memo) : new(chart.Account(fact.LegalEntityId, role, jurisdiction), -amount, 0m, memo);
}
