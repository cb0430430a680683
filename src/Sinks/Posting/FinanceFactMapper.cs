using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Posting;

/// <summary>Maps the Avro canonical finance event to the sink's <see cref="FinanceFact"/>.</summary>
public static class FinanceFactMapper
{
    /// <summary>Maps one event; amounts stay exact decimals.</summary>
    public static FinanceFact ToFact(FinanceEvent e) => ToFact(e, null, null, null);

    /// <summary>Maps one event read from <paramref name="topic"/> at <paramref name="partition"/>/<paramref name="offset"/> (kept in its source coordinates).</summary>
    public static FinanceFact ToFact(FinanceEvent e, string? topic, int? partition, long? offset)
    {
        ArgumentNullException.ThrowIfNull(e);
        var kind = e.eventType switch
        {
            FinanceEventType.INVOICE_ISSUED => FinanceEventKind.InvoiceIssued,
            FinanceEventType.INVOICE_VOIDED => FinanceEventKind.InvoiceVoided,
            FinanceEventType.PAYMENT_APPLIED => FinanceEventKind.PaymentApplied,
            FinanceEventType.CREDIT_ISSUED => FinanceEventKind.CreditIssued,
            FinanceEventType.REFUND_ISSUED => FinanceEventKind.RefundIssued,
            FinanceEventType.USAGE_ACCRUED => FinanceEventKind.UsageAccrued,
            FinanceEventType.REVENUE_RECOGNIZED => FinanceEventKind.RevenueRecognized,
            _ => throw new ArgumentOutOfRangeException(nameof(e), e.eventType, $"{e.postingKey}: unknown event type"),
        };
        var lines = new List<FinanceLine>(e.lines.Count);
        foreach (var l in e.lines)
        {
            if (l.kind == Contracts.Finance.FinanceLineKind.CASH)
            {
                continue; // cash is implied by the payment templates
            }

            lines.Add(new FinanceLine(l.lineId, l.kind switch
            {
                Contracts.Finance.FinanceLineKind.SUBSCRIPTION => Journals.FinanceLineKind.Subscription,
                Contracts.Finance.FinanceLineKind.SERVICES => Journals.FinanceLineKind.Services,
                Contracts.Finance.FinanceLineKind.USAGE => Journals.FinanceLineKind.Usage,
                Contracts.Finance.FinanceLineKind.TAX => Journals.FinanceLineKind.Tax,
                Contracts.Finance.FinanceLineKind.FEE => Journals.FinanceLineKind.Fee,
                _ => Journals.FinanceLineKind.Cash,
            }, Money.ToDecimal(l.amount), l.productId, l.taxJurisdiction, l.servicePeriodStart is not null && l.servicePeriodEnd is not null));
        }

        var s = e.source;
        return new FinanceFact(e.eventId, kind, e.postingKey, e.correlationId, e.legalEntityId, e.customerId, e.currency,
            Money.ToDecimal(e.totalAmount), Money.ToDecimal(e.taxAmount), e.effectiveDate, e.documentNumber, lines,
            new SourceCoordinates(s.system, s.objectType, s.objectId, s.eventId, topic ?? s.topic, partition ?? s.partition, offset ?? s.offset));
    }
}
