using System.Globalization;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;

namespace Streaming.Processors.FinanceMapping;

/// <summary>Where a source record was read from.</summary>
public sealed record SourcePosition(string Topic, int Partition, long Offset);

/// <summary>
/// Pure mapping from billing facts (joined with their account link) to canonical finance events, per DOMAIN.md.
/// Deterministic: the same fact always gives the same posting key and event id, so replays post nothing twice.
/// </summary>
public static class FinanceEventMapper
{
    /// <summary>Posting key of an invoice fact: <c>invoice:{id}:issued</c> or <c>invoice:{id}:voided</c>.</summary>
    public static string InvoicePostingKey(string invoiceId, FinanceEventType type)
        => $"invoice:{invoiceId}:{(type == FinanceEventType.INVOICE_VOIDED ? "voided" : "issued")}";

    /// <summary>Maps a finalized or voided invoice; other invoice events (paid, payment failed) carry no posting and give null.</summary>
    public static FinanceEvent? FromInvoice(Invoice invoice, AccountLink link, SourcePosition position)
    {
        ArgumentNullException.ThrowIfNull(invoice);
        ArgumentNullException.ThrowIfNull(link);
        FinanceEventType type;
        switch (invoice.eventType)
        {
            case InvoiceEventType.FINALIZED:
                type = FinanceEventType.INVOICE_ISSUED;
                break;
            case InvoiceEventType.VOIDED:
                type = FinanceEventType.INVOICE_VOIDED;
                break;
            default:
                return null; // paid → the payment event posts; payment_failed → nothing to book
        }

        var lines = new List<FinanceEventLine>();
        foreach (var line in invoice.lines)
        {
            lines.Add(new FinanceEventLine
            {
                lineId = line.lineId,
                kind = line.kind switch
                {
                    LineKind.SUBSCRIPTION => FinanceLineKind.SUBSCRIPTION,
                    LineKind.SERVICES => FinanceLineKind.SERVICES,
                    LineKind.USAGE => FinanceLineKind.USAGE,
                    _ => throw new ArgumentOutOfRangeException(nameof(invoice), line.kind, $"invoice {invoice.invoiceId} line {line.lineId}: unknown line kind"),
                },
                amount = line.amount,
                productId = line.productId,
                taxJurisdiction = null,
                servicePeriodStart = line.servicePeriodStart,
                servicePeriodEnd = line.servicePeriodEnd,
            });
        }

        foreach (var tax in invoice.taxLines)
        {
            lines.Add(new FinanceEventLine
            {
                lineId = tax.lineId is { Length: > 0 } l ? $"{l}:tax:{tax.jurisdictionCode}" : $"tax:{tax.jurisdictionCode}",
                kind = FinanceLineKind.TAX,
                amount = tax.amount,
                taxJurisdiction = tax.jurisdictionCode,
            });
        }

        var postingKey = InvoicePostingKey(invoice.invoiceId, type);
        return new FinanceEvent
        {
            eventId = EventId(postingKey),
            eventType = type,
            postingKey = postingKey,
            correlationId = invoice.correlationId ?? $"invoice:{invoice.invoiceId}",
            legalEntityId = link.legalEntityId,
            customerId = link.canonicalCustomerId,
            currency = invoice.currency.ToUpperInvariant(),
            totalAmount = invoice.total,
            taxAmount = invoice.tax,
            effectiveDate = type == FinanceEventType.INVOICE_VOIDED ? invoice.voidedAt ?? invoice.occurredAt : invoice.issuedAt,
            documentNumber = invoice.number,
            lines = lines,
            source = Source("stripe", "invoice", invoice.invoiceId, invoice.sourceEventId, position),
            createdAt = invoice.occurredAt,
        };
    }

    /// <summary>Maps a succeeded payment (→ PaymentApplied) or refund (→ RefundIssued); failed or pending ones give null.</summary>
    public static FinanceEvent? FromPayment(Payment payment, AccountLink link, SourcePosition position)
    {
        ArgumentNullException.ThrowIfNull(payment);
        ArgumentNullException.ThrowIfNull(link);
        if (payment.status != PaymentStatus.SUCCEEDED)
        {
            return null;
        }

        var refund = payment.kind == PaymentKind.REFUND;
        var postingKey = refund ? $"refund:{payment.paymentId}:issued" : $"payment:{payment.paymentId}:applied";
        var lines = new List<FinanceEventLine>
        {
            new() { lineId = $"{payment.paymentId}:cash", kind = FinanceLineKind.CASH, amount = payment.amount },
        };
        if (!refund && payment.fee is { } fee && Money.ToDecimal(fee) != 0m)
        {
            lines.Add(new FinanceEventLine { lineId = $"{payment.paymentId}:fee", kind = FinanceLineKind.FEE, amount = fee });
        }

        return new FinanceEvent
        {
            eventId = EventId(postingKey),
            eventType = refund ? FinanceEventType.REFUND_ISSUED : FinanceEventType.PAYMENT_APPLIED,
            postingKey = postingKey,
            correlationId = payment.correlationId ?? (payment.invoiceId is { } inv ? $"invoice:{inv}" : $"payment:{payment.paymentId}"),
            legalEntityId = link.legalEntityId,
            customerId = link.canonicalCustomerId,
            currency = payment.currency.ToUpperInvariant(),
            totalAmount = payment.amount,
            taxAmount = Money.ToAvro(0m),
            effectiveDate = payment.occurredAt,
            documentNumber = payment.invoiceId,
            lines = lines,
            source = Source("stripe", refund ? "refund" : "payment", payment.paymentId, payment.sourceEventId, position),
            createdAt = payment.occurredAt,
        };
    }

    /// <summary>Business context for quarantine records: customer, amount, document number.</summary>
    public static Dictionary<string, string> Context(Invoice invoice) => new(StringComparer.Ordinal)
    {
        ["customer"] = invoice.customerId,
        ["amount"] = Money.ToDecimal(invoice.total).ToString(CultureInfo.InvariantCulture),
        ["currency"] = invoice.currency,
        ["document_number"] = invoice.number ?? invoice.invoiceId,
    };

    /// <summary>Business context for quarantine records of a payment.</summary>
    public static Dictionary<string, string> Context(Payment payment) => new(StringComparer.Ordinal)
    {
        ["customer"] = payment.customerId,
        ["amount"] = Money.ToDecimal(payment.amount).ToString(CultureInfo.InvariantCulture),
        ["currency"] = payment.currency,
        ["document_number"] = payment.invoiceId ?? payment.paymentId,
    };

    /// <summary>Canonical event id: deterministic from the posting key (<c>fe_</c> + 24 hex digits of its SHA-256).</summary>
    public static string EventId(string postingKey)
        => "fe_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(postingKey)))[..24];

    private static SourceRef Source(string system, string objectType, string objectId, string eventId, SourcePosition position) => new()
    {
        system = system,
        objectType = objectType,
        objectId = objectId,
        eventId = eventId,
        topic = position.Topic,
        partition = position.Partition,
        offset = position.Offset,
    };
}
