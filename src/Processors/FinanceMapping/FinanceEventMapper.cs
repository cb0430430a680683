using System.Globalization;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;

namespace Streaming.Processors.FinanceMapping;

/// <summary>Where a source record was read from.</summary>
public sealed record SourcePosition(string Topic, int Partition, long Offset);

/// <summary>A source fact that cannot be mapped as it is (amounts that do not add up, an impossible line, an event too late to adjust): quarantined with <see cref="ReasonCode"/>.</summary>
public sealed class InvalidFactException(string message, string reasonCode = "INVALID_FACT") : Exception(message)
{
    /// <summary>Quarantine reason code.</summary>
    public string ReasonCode { get; } = reasonCode;
}

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
        => FromInvoice(invoice, link, position, null);

    /// <summary>
    /// Maps a finalized or voided invoice. For a void, <paramref name="recognizedByLine"/> gives the revenue the schedule
    /// of each subscription line has already released: that part is reversed against subscription revenue (a line
    /// without a service period), the rest against deferred revenue, so a void leaves both accounts at zero.
    /// </summary>
    /// <exception cref="InvalidFactException">Lines and tax do not add up to the total, or an amount is not in whole minor units.</exception>
    public static FinanceEvent? FromInvoice(Invoice invoice, AccountLink link, SourcePosition position, IReadOnlyDictionary<string, decimal>? recognizedByLine)
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
            if (type == FinanceEventType.INVOICE_VOIDED && line.kind == LineKind.SUBSCRIPTION
                && recognizedByLine is not null && recognizedByLine.TryGetValue(line.lineId, out var recognized) && recognized != 0m)
            {
                var amount = Money.ToDecimal(line.amount);
                lines.Add(new FinanceEventLine
                {
                    lineId = line.lineId, kind = FinanceLineKind.SUBSCRIPTION, amount = Money.ToAvro(amount - recognized), productId = line.productId,
                    servicePeriodStart = line.servicePeriodStart, servicePeriodEnd = line.servicePeriodEnd,
                });
                lines.Add(new FinanceEventLine
                {
                    lineId = $"{line.lineId}:recognized", kind = FinanceLineKind.SUBSCRIPTION, amount = Money.ToAvro(recognized), productId = line.productId,
                });
                continue;
            }

            lines.Add(new FinanceEventLine
            {
                lineId = line.lineId,
                kind = line.kind switch
                {
                    LineKind.SUBSCRIPTION => FinanceLineKind.SUBSCRIPTION,
                    LineKind.SERVICES => FinanceLineKind.SERVICES,
                    LineKind.USAGE => FinanceLineKind.USAGE,
                    _ => throw new InvalidFactException($"invoice {invoice.invoiceId} line {line.lineId}: unknown line kind {line.kind}"),
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

        CheckAddsUp($"invoice {invoice.invoiceId}", invoice.currency, Money.ToDecimal(invoice.total), lines);
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

    /// <summary>Posting key of a credit note: <c>credit:{id}:issued</c>.</summary>
    public static string CreditPostingKey(string creditNoteId) => $"credit:{creditNoteId}:issued";

    /// <summary>Posting key of one released revenue-schedule period: <c>revenue:{invoice}:{line}:{yyyy-MM}</c>.</summary>
    public static string RevenuePostingKey(string invoiceId, string lineId, string month) => $"revenue:{invoiceId}:{lineId}:{month}";

    /// <summary>
    /// Maps a credit note to <c>CREDIT_ISSUED</c>: one line per credited line with its original kind, tax per
    /// jurisdiction. A credited subscription line is split by <paramref name="deferredByInvoiceLine"/> (what the
    /// schedule of the invoice line has not released yet): up to that much reverses deferred revenue (the line keeps a
    /// service period), the rest reverses recognized subscription revenue.
    /// </summary>
    /// <exception cref="InvalidFactException">Lines and tax do not add up to the total, or an amount is not in whole minor units.</exception>
    public static FinanceEvent FromCreditNote(CreditNote note, AccountLink link, SourcePosition position,
        IReadOnlyDictionary<string, (decimal Remaining, DateTime Start, DateTime End)>? deferredByInvoiceLine = null)
    {
        ArgumentNullException.ThrowIfNull(note);
        ArgumentNullException.ThrowIfNull(link);
        var lines = new List<FinanceEventLine>();
        foreach (var line in note.lines)
        {
            var amount = Money.ToDecimal(line.amount);
            var kind = line.originalLineKind switch
            {
                LineKind.SUBSCRIPTION => FinanceLineKind.SUBSCRIPTION,
                LineKind.SERVICES => FinanceLineKind.SERVICES,
                LineKind.USAGE => FinanceLineKind.USAGE,
                _ => throw new InvalidFactException($"credit note {note.creditNoteId} line {line.lineId}: unknown line kind {line.originalLineKind}"),
            };
            if (kind == FinanceLineKind.SUBSCRIPTION && line.invoiceLineId is { } il && deferredByInvoiceLine is not null
                && deferredByInvoiceLine.TryGetValue(il, out var deferred) && deferred.Remaining > 0m && amount > 0m)
            {
                var fromDeferred = Math.Min(amount, deferred.Remaining);
                lines.Add(new FinanceEventLine
                {
                    lineId = line.lineId, kind = kind, amount = Money.ToAvro(fromDeferred), productId = line.productId,
                    servicePeriodStart = deferred.Start, servicePeriodEnd = deferred.End,
                });
                if (amount - fromDeferred != 0m)
                {
                    lines.Add(new FinanceEventLine { lineId = $"{line.lineId}:recognized", kind = kind, amount = Money.ToAvro(amount - fromDeferred), productId = line.productId });
                }
            }
            else
            {
                lines.Add(new FinanceEventLine { lineId = line.lineId, kind = kind, amount = line.amount, productId = line.productId });
            }

            foreach (var tax in line.taxLines)
            {
                lines.Add(new FinanceEventLine
                {
                    lineId = $"{line.lineId}:tax:{tax.jurisdictionCode}", kind = FinanceLineKind.TAX, amount = tax.amount, taxJurisdiction = tax.jurisdictionCode,
                });
            }
        }

        CheckAddsUp($"credit note {note.creditNoteId}", note.currency, Money.ToDecimal(note.total), lines);
        var postingKey = CreditPostingKey(note.creditNoteId);
        return new FinanceEvent
        {
            eventId = EventId(postingKey),
            eventType = FinanceEventType.CREDIT_ISSUED,
            postingKey = postingKey,
            correlationId = note.correlationId ?? $"invoice:{note.invoiceId}",
            legalEntityId = link.legalEntityId,
            customerId = link.canonicalCustomerId,
            currency = note.currency.ToUpperInvariant(),
            totalAmount = note.total,
            taxAmount = note.tax,
            effectiveDate = note.issuedAt,
            documentNumber = note.number,
            lines = lines,
            source = Source("stripe", "credit_note", note.creditNoteId, note.sourceEventId, position),
            createdAt = note.issuedAt,
        };
    }

    /// <summary>
    /// The <c>REVENUE_RECOGNIZED</c> event of one schedule period (Dr 2400 deferred / Cr 4000 subscription revenue),
    /// effective on the last day of the period.
    /// </summary>
    public static FinanceEvent RevenueRecognized(FinanceEvent issued, FinanceEventLine line, RevenuePeriod period, string invoiceId)
    {
        ArgumentNullException.ThrowIfNull(issued);
        ArgumentNullException.ThrowIfNull(line);
        ArgumentNullException.ThrowIfNull(period);
        var postingKey = RevenuePostingKey(invoiceId, line.lineId, period.Month);
        return new FinanceEvent
        {
            eventId = EventId(postingKey),
            eventType = FinanceEventType.REVENUE_RECOGNIZED,
            postingKey = postingKey,
            correlationId = issued.correlationId,
            legalEntityId = issued.legalEntityId,
            customerId = issued.customerId,
            currency = issued.currency,
            totalAmount = Money.ToAvro(period.Amount),
            taxAmount = Money.ToAvro(0m),
            effectiveDate = period.End.AddDays(-1),
            documentNumber = issued.documentNumber,
            lines =
            [
                new FinanceEventLine
                {
                    lineId = $"{line.lineId}:{period.Month}", kind = FinanceLineKind.SUBSCRIPTION, amount = Money.ToAvro(period.Amount), productId = line.productId,
                    servicePeriodStart = period.Start, servicePeriodEnd = period.End,
                },
            ],
            source = issued.source,
            createdAt = period.End,
        };
    }

    /// <summary>Business context for quarantine records of a credit note.</summary>
    public static Dictionary<string, string> Context(CreditNote note) => new(StringComparer.Ordinal)
    {
        ["customer"] = note.customerId,
        ["amount"] = Money.ToDecimal(note.total).ToString(CultureInfo.InvariantCulture),
        ["currency"] = note.currency,
        ["document_number"] = note.number,
        ["invoice"] = note.invoiceId,
    };

    private static void CheckAddsUp(string what, string currency, decimal total, List<FinanceEventLine> lines)
    {
        var sum = lines.Sum(l => Money.ToDecimal(l.amount));
        if (sum != total)
        {
            throw new InvalidFactException($"{what}: lines and tax add up to {sum.ToString(CultureInfo.InvariantCulture)}, not the total {total.ToString(CultureInfo.InvariantCulture)} {currency}");
        }

        if (!Currencies.IsWholeMinorUnits(total, currency) || lines.FirstOrDefault(l => !Currencies.IsWholeMinorUnits(Money.ToDecimal(l.amount), currency)) is not null)
        {
            throw new InvalidFactException($"{what}: an amount has more decimals than {currency.ToUpperInvariant()} allows ({Currencies.MinorUnits(currency)})");
        }
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
