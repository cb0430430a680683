using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Producers.Edge;

namespace Streaming.Producers.Billing;

/// <summary>
/// Maps a Stripe event (webhook body or an item of <c>GET /v1/events</c>) to billing source records. Amounts arrive as integers
/// in the currency's minor unit and leave as decimals (JPY 1500 → 1500, USD 1500 → 15.00, KWD 1500 → 1.500). Vendor ids and the
/// event id are kept. Both the classic shapes (<c>invoice.subscription</c>, <c>total_tax_amounts</c>, <c>line.price</c>) and the
/// 2025 ones (<c>invoice.parent</c>, <c>total_taxes</c>, <c>line.pricing</c>) are read. Event types not listed in
/// <see cref="HandledTypes"/> are ignored (counted), as Stripe recommends.
/// </summary>
public static class StripeEventMapper
{
    /// <summary>Event types that produce records.</summary>
    public static readonly IReadOnlySet<string> HandledTypes = new HashSet<string>(StringComparer.Ordinal)
    {
        "customer.created", "customer.updated", "customer.deleted",
        "customer.subscription.created", "customer.subscription.updated", "customer.subscription.deleted",
        "customer.subscription.paused", "customer.subscription.resumed",
        "invoice.finalized", "invoice.paid", "invoice.payment_failed", "invoice.voided",
        "payment_intent.succeeded", "payment_intent.payment_failed", "payment_intent.canceled", "payment_intent.processing",
        "charge.refunded",
        "credit_note.created",
    };

    /// <summary>Metadata key whose value, when present on the Stripe object, becomes the record's correlation id.</summary>
    public const string CorrelationMetadataKey = "correlation_id";

    /// <summary>Maps one event object.</summary>
    /// <exception cref="VendorPayloadException">The event lacks a field its type requires; the message names the field.</exception>
    public static EdgeBatch Map(JsonElement evt)
    {
        if (evt.ValueKind != JsonValueKind.Object)
        {
            throw new VendorPayloadException("the body is not a JSON object");
        }

        var eventId = evt.ReqStr("id", "event");
        var type = evt.ReqStr("type", "event");
        if (!HandledTypes.Contains(type))
        {
            return new EdgeBatch([], 1);
        }

        var created = Json.UnixSeconds(evt.ReqLong("created", "event"));
        var obj = evt.Obj("data", "event").Obj("object", "event.data");
        IReadOnlyList<EdgeRecord> records = type switch
        {
            _ when type.StartsWith("customer.subscription.", StringComparison.Ordinal) => [Subscription(obj, eventId, created)],
            _ when type.StartsWith("customer.", StringComparison.Ordinal) => [Customer(obj, eventId, created, type == "customer.deleted")],
            _ when type.StartsWith("invoice.", StringComparison.Ordinal) => [Invoice(obj, eventId, type, created)],
            _ when type.StartsWith("payment_intent.", StringComparison.Ordinal) => [PaymentIntent(obj, eventId, type, created)],
            "charge.refunded" => Refunds(obj, eventId, created),
            "credit_note.created" => [CreditNote(obj, eventId)],
            _ => [],
        };
        return new EdgeBatch(records, 0);
    }

    /// <summary>A Stripe minor-unit integer as a decimal in <paramref name="currency"/> (ISO 4217 exponent).</summary>
    public static decimal FromMinorUnits(long minor, string currency)
    {
        var exponent = Currencies.MinorUnits(currency);
        var value = (decimal)minor;
        for (var i = 0; i < exponent; i++)
        {
            value /= 10m;
        }

        return value;
    }

    private static string Currency(JsonElement obj, string path) => obj.ReqStr("currency", path).ToUpperInvariant();

    private static string? Correlation(JsonElement obj) => obj.StringMap("metadata").GetValueOrDefault(CorrelationMetadataKey);

    private static EdgeRecord Customer(JsonElement c, string eventId, DateTime created, bool deletedEvent)
    {
        var id = c.ReqStr("id", "customer");
        var metadata = c.StringMap("metadata");
        var record = new BillingCustomer
        {
            customerId = id,
            name = c.Str("name"),
            email = c.Str("email"),
            currency = c.Str("currency")?.ToUpperInvariant(),
            addressCountry = c.Prop("address")?.Str("country"),
            crmAccountId = metadata.GetValueOrDefault("crm_account_id"),
            metadata = metadata,
            deleted = deletedEvent || c.Bool("deleted") == true,
            sourceEventId = eventId,
            sourceSystem = BillingSourceSystem.STRIPE,
            createdAt = c.Long("created") is { } at ? Json.UnixSeconds(at) : created,
            updatedAt = created,
        };
        return new EdgeRecord(Topics.BillingCustomers, id, record, metadata.GetValueOrDefault(CorrelationMetadataKey) ?? $"customer:{id}", eventId);
    }

    private static EdgeRecord Subscription(JsonElement s, string eventId, DateTime created)
    {
        var id = s.ReqStr("id", "subscription");
        var metadata = s.StringMap("metadata");
        var items = new List<SubscriptionItem>();
        DateTime? periodStart = s.Long("current_period_start") is { } ps ? Json.UnixSeconds(ps) : null;
        DateTime? periodEnd = s.Long("current_period_end") is { } pe ? Json.UnixSeconds(pe) : null;
        foreach (var item in s.Items("items"))
        {
            var price = item.Obj("price", "subscription.items[]");
            var itemStart = item.Long("current_period_start") is { } a ? Json.UnixSeconds(a) : periodStart;
            var itemEnd = item.Long("current_period_end") is { } b ? Json.UnixSeconds(b) : periodEnd;
            var metered = price.Prop("recurring")?.Str("usage_type") == "metered";
            items.Add(new SubscriptionItem
            {
                subscriptionItemId = item.ReqStr("id", "subscription.items[]"),
                priceId = price.ReqStr("id", "subscription.items[].price"),
                productId = price.Id("product") ?? throw new VendorPayloadException("subscription.items[].price.product is missing"),
                quantity = metered ? null : item.Long("quantity"),
                currentPeriodStart = itemStart ?? throw new VendorPayloadException("subscription current_period_start is missing (on the subscription and its item)"),
                currentPeriodEnd = itemEnd ?? throw new VendorPayloadException("subscription current_period_end is missing (on the subscription and its item)"),
            });
        }

        var record = new Subscription
        {
            subscriptionId = id,
            customerId = s.Id("customer") ?? throw new VendorPayloadException("subscription.customer is missing"),
            status = s.ReqStr("status", "subscription") switch
            {
                "incomplete" => SubscriptionStatus.INCOMPLETE,
                "incomplete_expired" => SubscriptionStatus.INCOMPLETE_EXPIRED,
                "trialing" => SubscriptionStatus.TRIALING,
                "active" => SubscriptionStatus.ACTIVE,
                "past_due" => SubscriptionStatus.PAST_DUE,
                "canceled" => SubscriptionStatus.CANCELED,
                "unpaid" => SubscriptionStatus.UNPAID,
                "paused" => SubscriptionStatus.PAUSED,
                var other => throw new VendorPayloadException($"subscription.status '{other}' is not a known Stripe status"),
            },
            currency = Currency(s, "subscription"),
            items = items,
            currentPeriodStart = periodStart ?? items.Select(i => (DateTime?)i.currentPeriodStart).Min() ?? Json.UnixSeconds(s.ReqLong("start_date", "subscription")),
            currentPeriodEnd = periodEnd ?? items.Select(i => (DateTime?)i.currentPeriodEnd).Max() ?? Json.UnixSeconds(s.ReqLong("start_date", "subscription")),
            startedAt = Json.UnixSeconds(s.Long("start_date") ?? s.ReqLong("created", "subscription")),
            canceledAt = s.Long("canceled_at") is { } c ? Json.UnixSeconds(c) : null,
            crmOpportunityId = metadata.GetValueOrDefault("crm_opportunity_id"),
            correlationId = metadata.GetValueOrDefault(CorrelationMetadataKey),
            sourceEventId = eventId,
            sourceSystem = BillingSourceSystem.STRIPE,
            updatedAt = created,
        };
        return new EdgeRecord(Topics.BillingSubscriptions, id, record, record.correlationId ?? $"subscription:{id}", eventId);
    }

    private static EdgeRecord Invoice(JsonElement inv, string eventId, string type, DateTime created)
    {
        var id = inv.ReqStr("id", "invoice");
        var currency = Currency(inv, "invoice");
        var transitions = inv.Prop("status_transitions");
        var lines = new List<InvoiceLine>();
        foreach (var line in inv.Items("lines"))
        {
            lines.Add(InvoiceLineOf(line, currency));
        }

        var taxLines = TaxLines(inv, currency, lineId: null);
        var tax = inv.Long("tax") is { } t ? FromMinorUnits(t, currency) : taxLines.Sum(x => Money.ToDecimal(x.amount));
        var subscriptionId = inv.Id("subscription") ?? inv.Prop("parent")?.Prop("subscription_details")?.Id("subscription");
        var record = new Invoice
        {
            invoiceId = id,
            number = inv.Str("number"),
            customerId = inv.Id("customer") ?? throw new VendorPayloadException("invoice.customer is missing"),
            subscriptionId = subscriptionId,
            status = inv.ReqStr("status", "invoice") switch
            {
                "draft" => InvoiceStatus.DRAFT,
                "open" => InvoiceStatus.OPEN,
                "paid" => InvoiceStatus.PAID,
                "void" => InvoiceStatus.VOID,
                "uncollectible" => InvoiceStatus.UNCOLLECTIBLE,
                var other => throw new VendorPayloadException($"invoice.status '{other}' is not a known Stripe status"),
            },
            eventType = type switch
            {
                "invoice.finalized" => InvoiceEventType.FINALIZED,
                "invoice.paid" => InvoiceEventType.PAID,
                "invoice.payment_failed" => InvoiceEventType.PAYMENT_FAILED,
                _ => InvoiceEventType.VOIDED,
            },
            currency = currency,
            subtotal = Money.ToAvro(FromMinorUnits(inv.ReqLong("subtotal", "invoice"), currency)),
            tax = Money.ToAvro(tax),
            total = Money.ToAvro(FromMinorUnits(inv.ReqLong("total", "invoice"), currency)),
            amountPaid = Money.ToAvro(FromMinorUnits(inv.Long("amount_paid") ?? 0, currency)),
            lines = lines,
            taxLines = taxLines,
            issuedAt = Json.UnixSeconds(transitions?.Long("finalized_at") ?? inv.ReqLong("created", "invoice")),
            paidAt = transitions?.Long("paid_at") is { } p ? Json.UnixSeconds(p) : null,
            voidedAt = transitions?.Long("voided_at") is { } v ? Json.UnixSeconds(v) : null,
            dueDate = inv.Long("due_date") is { } d ? Json.UnixSeconds(d).Date : null,
            correlationId = Correlation(inv),
            sourceEventId = eventId,
            sourceSystem = BillingSourceSystem.STRIPE,
            occurredAt = created,
        };
        // The processors fall back to invoice:{id} too, so header and payload name the same flow.
        return new EdgeRecord(Topics.BillingInvoices, id, record, record.correlationId ?? $"invoice:{id}", eventId);
    }

    private static InvoiceLine InvoiceLineOf(JsonElement line, string currency)
    {
        var lineId = line.ReqStr("id", "invoice.lines[]");
        var price = line.Prop("price");
        var pricing = line.Prop("pricing")?.Prop("price_details");
        var parent = line.Prop("parent");
        var subscriptionItem = line.Id("subscription_item") ?? parent?.Prop("subscription_item_details")?.Id("subscription_item");
        var isSubscription = line.Str("type") == "subscription" || parent?.Str("type") == "subscription_item_details";
        var metered = price?.Prop("recurring")?.Str("usage_type") == "metered";
        var period = line.Prop("period");
        return new InvoiceLine
        {
            lineId = lineId,
            description = line.Str("description"),
            kind = metered ? LineKind.USAGE : isSubscription ? LineKind.SUBSCRIPTION : LineKind.SERVICES,
            productId = price?.Id("product") ?? pricing?.Id("product"),
            priceId = price?.Str("id") ?? pricing?.Id("price"),
            subscriptionItemId = subscriptionItem,
            quantity = Money.Quantity(line.Long("quantity") ?? 1),
            amount = Money.ToAvro(FromMinorUnits(line.ReqLong("amount", "invoice.lines[]"), currency)),
            servicePeriodStart = isSubscription && period?.Long("start") is { } s ? Json.UnixSeconds(s) : null,
            servicePeriodEnd = isSubscription && period?.Long("end") is { } e ? Json.UnixSeconds(e) : null,
        };
    }

    /// <summary>Tax per jurisdiction: the classic <c>total_tax_amounts</c>/<c>tax_amounts</c> or the 2025 <c>total_taxes</c>/<c>taxes</c>.</summary>
    private static List<TaxLine> TaxLines(JsonElement owner, string currency, string? lineId)
    {
        var result = new List<TaxLine>();
        var classic = owner.Items(lineId is null ? "total_tax_amounts" : "tax_amounts").ToList();
        var modern = owner.Items(lineId is null ? "total_taxes" : "taxes").ToList();
        foreach (var t in classic.Count > 0 ? classic : modern)
        {
            var amount = FromMinorUnits(t.ReqLong("amount", "tax"), currency);
            var taxable = FromMinorUnits(t.Long("taxable_amount") ?? 0, currency);
            var rate = t.Prop("tax_rate") ?? t.Prop("tax_rate_details")?.Prop("tax_rate");
            string jurisdiction;
            decimal fraction;
            if (rate is { ValueKind: JsonValueKind.Object } r)
            {
                var country = r.Str("country");
                var state = r.Str("state");
                jurisdiction = country is null ? r.Str("jurisdiction") ?? r.ReqStr("id", "tax_rate") : state is null ? country : $"{country}-{state}";
                fraction = r.Prop("percentage") is { ValueKind: JsonValueKind.Number } pct ? pct.GetDecimal() / 100m : RateOf(amount, taxable);
            }
            else
            {
                // Not expanded: the tax rate id stands for the jurisdiction (md.tax-rules.v1 can key on it) and the rate is derived.
                jurisdiction = rate?.GetString() ?? throw new VendorPayloadException("tax amount has no tax_rate");
                fraction = RateOf(amount, taxable);
            }

            result.Add(new TaxLine
            {
                jurisdictionCode = jurisdiction,
                rate = Money.Rate(decimal.Round(fraction, Money.RateScale, MidpointRounding.AwayFromZero)),
                taxableAmount = Money.ToAvro(taxable),
                amount = Money.ToAvro(amount),
                lineId = lineId,
            });
        }

        return result;
    }

    private static decimal RateOf(decimal amount, decimal taxable) => taxable == 0 ? 0 : amount / taxable;

    private static EdgeRecord PaymentIntent(JsonElement pi, string eventId, string type, DateTime created)
    {
        var id = pi.ReqStr("id", "payment_intent");
        var currency = Currency(pi, "payment_intent");
        var succeeded = type == "payment_intent.succeeded";
        var amount = succeeded ? pi.Long("amount_received") ?? pi.ReqLong("amount", "payment_intent") : pi.ReqLong("amount", "payment_intent");
        var invoiceId = pi.Id("invoice");
        var record = new Payment
        {
            paymentId = id,
            invoiceId = invoiceId,
            customerId = pi.Id("customer") ?? throw new VendorPayloadException("payment_intent.customer is missing"),
            amount = Money.ToAvro(FromMinorUnits(amount, currency)),
            fee = null, // Stripe puts the fee on the balance transaction, not on the payment intent.
            currency = currency,
            status = type switch
            {
                "payment_intent.succeeded" => PaymentStatus.SUCCEEDED,
                "payment_intent.payment_failed" => PaymentStatus.FAILED,
                "payment_intent.canceled" => PaymentStatus.CANCELED,
                _ => PaymentStatus.PENDING,
            },
            kind = PaymentKind.PAYMENT,
            refundedPaymentId = null,
            failureReason = pi.Prop("last_payment_error")?.Str("code") ?? pi.Str("cancellation_reason"),
            occurredAt = created,
            correlationId = Correlation(pi),
            sourceEventId = eventId,
            sourceSystem = BillingSourceSystem.STRIPE,
        };
        return new EdgeRecord(Topics.BillingPayments, id, record, record.correlationId ?? (invoiceId is null ? $"payment:{id}" : $"invoice:{invoiceId}"), eventId);
    }

    /// <summary><c>charge.refunded</c>: one REFUND record per refund in <c>charge.refunds</c> (key = refund id).</summary>
    private static List<EdgeRecord> Refunds(JsonElement charge, string eventId, DateTime created)
    {
        var chargeId = charge.ReqStr("id", "charge");
        var customer = charge.Id("customer") ?? throw new VendorPayloadException("charge.customer is missing");
        var paymentId = charge.Id("payment_intent") ?? chargeId;
        var refunds = charge.Items("refunds").ToList();
        if (refunds.Count == 0)
        {
            throw new VendorPayloadException("charge.refunds has no refunds (include them: the API version or expand[]=refunds)");
        }

        var records = new List<EdgeRecord>();
        foreach (var refund in refunds)
        {
            var id = refund.ReqStr("id", "charge.refunds[]");
            var currency = Currency(refund, "charge.refunds[]");
            var correlation = Correlation(refund) ?? Correlation(charge);
            var record = new Payment
            {
                paymentId = id,
                invoiceId = charge.Id("invoice"),
                customerId = customer,
                amount = Money.ToAvro(FromMinorUnits(refund.ReqLong("amount", "charge.refunds[]"), currency)),
                fee = null,
                currency = currency,
                status = refund.Str("status") switch
                {
                    "succeeded" => PaymentStatus.SUCCEEDED,
                    "failed" => PaymentStatus.FAILED,
                    "canceled" => PaymentStatus.CANCELED,
                    _ => PaymentStatus.PENDING,
                },
                kind = PaymentKind.REFUND,
                refundedPaymentId = paymentId,
                failureReason = refund.Str("failure_reason"),
                occurredAt = refund.Long("created") is { } at ? Json.UnixSeconds(at) : created,
                correlationId = correlation,
                sourceEventId = eventId,
                sourceSystem = BillingSourceSystem.STRIPE,
            };
            records.Add(new EdgeRecord(Topics.BillingPayments, id, record, correlation ?? $"payment:{paymentId}", eventId));
        }

        return records;
    }

    private static EdgeRecord CreditNote(JsonElement cn, string eventId)
    {
        var id = cn.ReqStr("id", "credit_note");
        var currency = Currency(cn, "credit_note");
        var lines = new List<CreditNoteLine>();
        foreach (var line in cn.Items("lines"))
        {
            var lineId = line.ReqStr("id", "credit_note.lines[]");
            var lineMetadata = line.StringMap("metadata");
            lines.Add(new CreditNoteLine
            {
                lineId = lineId,
                invoiceLineId = line.Id("invoice_line_item"),
                description = line.Str("description"),
                amount = Money.ToAvro(FromMinorUnits(line.ReqLong("amount", "credit_note.lines[]"), currency)),
                // Stripe does not say what the credited line sold: metadata line_kind wins; else a credited invoice line is taken
                // as a subscription line and a custom line as services (documented in docs/connectors.md).
                originalLineKind = lineMetadata.GetValueOrDefault("line_kind")?.ToUpperInvariant() switch
                {
                    "USAGE" => LineKind.USAGE,
                    "SERVICES" => LineKind.SERVICES,
                    "SUBSCRIPTION" => LineKind.SUBSCRIPTION,
                    _ => line.Str("type") == "custom_line_item" ? LineKind.SERVICES : LineKind.SUBSCRIPTION,
                },
                productId = lineMetadata.GetValueOrDefault("product_id"),
                taxLines = TaxLines(line, currency, lineId),
            });
        }

        var taxLines = TaxLines(cn, currency, null);
        var total = FromMinorUnits(cn.ReqLong("total", "credit_note"), currency);
        var subtotal = FromMinorUnits(cn.ReqLong("subtotal", "credit_note"), currency);
        var record = new CreditNote
        {
            creditNoteId = id,
            invoiceId = cn.Id("invoice") ?? throw new VendorPayloadException("credit_note.invoice is missing"),
            number = cn.ReqStr("number", "credit_note"),
            customerId = cn.Id("customer") ?? throw new VendorPayloadException("credit_note.customer is missing"),
            currency = currency,
            subtotal = Money.ToAvro(subtotal),
            tax = Money.ToAvro(taxLines.Count > 0 ? taxLines.Sum(t => Money.ToDecimal(t.amount)) : total - subtotal),
            total = Money.ToAvro(total),
            reason = cn.Str("reason"),
            lines = lines,
            issuedAt = Json.UnixSeconds(cn.ReqLong("created", "credit_note")),
            correlationId = Correlation(cn),
            sourceEventId = eventId,
            sourceSystem = BillingSourceSystem.STRIPE,
        };
        return new EdgeRecord(Topics.BillingCreditNotes, id, record, record.correlationId ?? $"invoice:{record.invoiceId}", eventId);
    }
}
