namespace Streaming.Sinks.Journals;

/// <summary>The canonical finance event types of DOMAIN.md.</summary>
public enum FinanceEventKind
{
    /// <summary>Invoice finalized: receivable created.</summary>
    InvoiceIssued,
    /// <summary>Invoice voided: full reversal of the issue.</summary>
    InvoiceVoided,
    /// <summary>Cash received against the receivable.</summary>
    PaymentApplied,
    /// <summary>Credit note: reduces receivable, reverses revenue and tax.</summary>
    CreditIssued,
    /// <summary>Cash paid back.</summary>
    RefundIssued,
    /// <summary>Rated usage accrued as unbilled revenue.</summary>
    UsageAccrued,
    /// <summary>Deferred revenue released for a schedule period.</summary>
    RevenueRecognized,
}

/// <summary>What a finance-event line stands for; decides its GL account.</summary>
public enum FinanceLineKind
{
    /// <summary>Subscription fee (deferred when it has a service period).</summary>
    Subscription,
    /// <summary>Professional services.</summary>
    Services,
    /// <summary>Usage charge.</summary>
    Usage,
    /// <summary>Sales tax for one jurisdiction.</summary>
    Tax,
    /// <summary>Payment processing fee.</summary>
    Fee,
    /// <summary>Cash movement.</summary>
    Cash,
}

/// <summary>One line of a canonical finance event.</summary>
public sealed record FinanceLine(string LineId, FinanceLineKind Kind, decimal Amount, string? ProductId = null, string? TaxJurisdiction = null, bool HasServicePeriod = false);

/// <summary>Where a fact came from, for lineage and quarantine.</summary>
public sealed record SourceCoordinates(string System, string ObjectType, string ObjectId, string EventId, string? Topic = null, int? Partition = null, long? Offset = null);

/// <summary>A canonical finance event as the sink sees it (mapped from the Avro <c>FinanceEvent</c>).</summary>
public sealed record FinanceFact(
    string EventId,
    FinanceEventKind Kind,
    string PostingKey,
    string CorrelationId,
    string LegalEntityId,
    string CustomerId,
    string Currency,
    decimal TotalAmount,
    decimal TaxAmount,
    DateTime EffectiveDate,
    string? DocumentNumber,
    IReadOnlyList<FinanceLine> Lines,
    SourceCoordinates Source);
