using System.Globalization;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Streamiz.Kafka.Net.Processors.Public;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Serialization;

namespace Streaming.Processors.FinanceMapping;

/// <summary>One billing fact on its way through the finance mapping: exactly one of the three is set.</summary>
public sealed record BillingFact(Invoice? Invoice = null, CreditNote? CreditNote = null, Payment? Payment = null)
{
    /// <summary>Billing customer of the fact.</summary>
    public string CustomerId => Invoice?.customerId ?? CreditNote?.customerId ?? Payment?.customerId ?? throw new InvalidOperationException("empty billing fact");
}

/// <summary>The state of one subscription line's revenue schedule (JSON in the processor's store).</summary>
internal sealed class ScheduleState
{
    public string InvoiceId { get; set; } = "";
    public string LineId { get; set; } = "";
    public string? ProductId { get; set; }
    public string Currency { get; set; } = "";
    public string LegalEntityId { get; set; } = "";
    public string CustomerId { get; set; } = "";
    public string CorrelationId { get; set; } = "";
    public string? DocumentNumber { get; set; }
    public string SourceObjectId { get; set; } = "";
    public string SourceEventId { get; set; } = "";
    public string SourceTopic { get; set; } = "";
    public int SourcePartition { get; set; }
    public long SourceOffset { get; set; }
    public Dictionary<string, byte[]> Headers { get; set; } = [];
    public decimal LineAmount { get; set; }
    public DateTime ServiceStart { get; set; }
    public DateTime ServiceEnd { get; set; }
    public List<PeriodState> Periods { get; set; } = [];
    public bool Voided { get; set; }
    /// <summary>Deferred revenue each applied credit line took from the schedule (key: credit note id|line id), so a redelivered credit note maps the same way.</summary>
    public Dictionary<string, decimal> Credits { get; set; } = [];

    public decimal Released => Periods.Where(p => p.Released).Sum(p => p.Amount);

    public decimal Remaining => Periods.Where(p => !p.Released).Sum(p => p.Amount);

    public long? NextDueMs => Voided ? null : Periods.Where(p => !p.Released).Select(p => (long?)new DateTimeOffset(p.End, TimeSpan.Zero).ToUnixTimeMilliseconds()).Min();
}

/// <summary>
/// Compile-time JSON metadata for the stored schedules (the same JSON as the reflection-based serializer with default
/// options, written without reflection on the stream thread).
/// </summary>
[System.Text.Json.Serialization.JsonSerializable(typeof(ScheduleState))]
internal sealed partial class ScheduleJson : System.Text.Json.Serialization.JsonSerializerContext;

internal sealed class PeriodState
{
    public DateTime Start { get; set; }
    public DateTime End { get; set; }
    public decimal Amount { get; set; }
    public bool Released { get; set; }
}

/// <summary>
/// Invoices, credit notes and payments → canonical finance events (DOMAIN.md), behind the readiness gate: every
/// record needs its account link, legal entity, the products of its lines, a tax rule per jurisdiction and the GL
/// mappings of the accounts its journal uses. An issued subscription line with a service period gets a revenue
/// schedule (kept in the state store) whose periods are released as <c>REVENUE_RECOGNIZED</c> when they end; a void or
/// credit note reverses what is still deferred against deferred revenue and what was released against revenue.
/// </summary>
public sealed class FinanceMappingProcessor : ReadinessGate<BillingFact>
{
    private const string SchedulePrefix = "s|";
    private readonly SortedSet<(long DueMs, string Key)> _due = [];
    private readonly List<(AccountRole Role, string? Jurisdiction)> _roles = new(8);
    private readonly HashSet<string> _seenProducts = new(StringComparer.Ordinal);
    private readonly HashSet<string> _seenTaxes = new(StringComparer.Ordinal);
    private readonly HashSet<(AccountRole, string?)> _checkedRoles = [];
    private StreamizAvroSerDes<Invoice>? _invoiceSerdes;
    private StreamizAvroSerDes<CreditNote>? _creditSerdes;
    private StreamizAvroSerDes<Payment>? _paymentSerdes;

    /// <summary>Required by Streamiz; instances are created with <see cref="FinanceMappingProcessor(GateSettings)"/>.</summary>
    public FinanceMappingProcessor()
    {
    }

    /// <summary>Instance for one stream task.</summary>
    public FinanceMappingProcessor(GateSettings settings) : base(settings)
    {
    }

    private StreamizAvroSerDes<Invoice> InvoiceSerdes => _invoiceSerdes ??= (StreamizAvroSerDes<Invoice>)Settings.Serdes.Avro<Invoice>();
    private StreamizAvroSerDes<CreditNote> CreditSerdes => _creditSerdes ??= (StreamizAvroSerDes<CreditNote>)Settings.Serdes.Avro<CreditNote>();
    private StreamizAvroSerDes<Payment> PaymentSerdes => _paymentSerdes ??= (StreamizAvroSerDes<Payment>)Settings.Serdes.Avro<Payment>();

    /// <inheritdoc />
    protected override int HeldBack => 0;

    /// <inheritdoc />
    protected override SourcePosition PositionOf(Record<string, BillingFact> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        // Credit notes reach this processor through a repartition topic (re-keyed by invoice); their source
        // coordinates travel in internal headers.
        var h = record.Headers;
        if (TracingHeaders.Get(h, SourceTopicHeader) is { } topic
            && int.TryParse(TracingHeaders.Get(h, SourcePartitionHeader), CultureInfo.InvariantCulture, out var partition)
            && long.TryParse(TracingHeaders.Get(h, SourceOffsetHeader), CultureInfo.InvariantCulture, out var offset))
        {
            return new SourcePosition(topic, partition, offset);
        }

        return base.PositionOf(record);
    }

    /// <inheritdoc />
    protected override string? OriginalKey(Record<string, BillingFact> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return TracingHeaders.Get(record.Headers, SourceKeyHeader) ?? record.Key;
    }

    /// <summary>Internal header with the source topic of a re-keyed record.</summary>
    public const string SourceTopicHeader = InternalHeaderPrefix + "source-topic";

    /// <summary>Internal header with the source partition of a re-keyed record.</summary>
    public const string SourcePartitionHeader = InternalHeaderPrefix + "source-partition";

    /// <summary>Internal header with the source offset of a re-keyed record.</summary>
    public const string SourceOffsetHeader = InternalHeaderPrefix + "source-offset";

    /// <summary>Internal header with the source key of a re-keyed record.</summary>
    public const string SourceKeyHeader = InternalHeaderPrefix + "source-key";

    /// <inheritdoc />
    protected override IReadOnlyList<MissingMasterData> Check(BillingFact fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        if (!Posts(fact))
        {
            return [];
        }

        var linkKey = FinanceMappingTopology.BillingLinkKey(fact.CustomerId);
        var link = MasterData.Link(linkKey);
        if (link is null)
        {
            return [MissingMasterData.Link(linkKey)];
        }

        var entity = MasterData.Entity(link.legalEntityId);
        if (entity is null)
        {
            return [MissingMasterData.Entity(link.legalEntityId)];
        }

        var e = entity.legalEntityId;
        // Loops rather than LINQ, and collections reused from record to record: this runs for every record. Order
        // matters (the first missing item gives the reason code): products, tax rules per jurisdiction, then GL
        // mappings per role, each in first-seen order.
        List<MissingMasterData>? missing = null;
        var roles = _roles;
        roles.Clear();
        roles.Add((AccountRole.AR, null));
        var seenProducts = _seenProducts;
        seenProducts.Clear();
        var seenTaxes = _seenTaxes;
        seenTaxes.Clear();
        void Product(string? id)
        {
            if (id is not null && seenProducts.Add(id) && MasterData.Product(id) is null)
            {
                (missing ??= []).Add(MissingMasterData.Product(id));
            }
        }

        void Tax(string jurisdiction, DateTime on)
        {
            if (!seenTaxes.Add(jurisdiction))
            {
                return;
            }

            if (MasterData.TaxRule(e, jurisdiction, on) is null)
            {
                (missing ??= []).Add(MissingMasterData.TaxRule(e, jurisdiction));
            }

            roles.Add((AccountRole.TAX_PAYABLE, jurisdiction));
        }

        // Revenue accounts of a line: a subscription with a service period also defers; anything else than
        // subscriptions and services books to `other`.
        void LineRoles(LineKind kind, bool deferred, AccountRole other)
        {
            if (kind == LineKind.SUBSCRIPTION && deferred)
            {
                roles.Add((AccountRole.DEFERRED_REVENUE, null));
            }

            roles.Add((kind switch { LineKind.SUBSCRIPTION => AccountRole.SUBSCRIPTION_REVENUE, LineKind.SERVICES => AccountRole.SERVICES_REVENUE, _ => other }, null));
        }

        if (fact.Invoice is { } invoice)
        {
            foreach (var line in invoice.lines)
            {
                Product(line.productId);
            }

            foreach (var tax in invoice.taxLines)
            {
                Tax(tax.jurisdictionCode, invoice.issuedAt);
            }

            foreach (var line in invoice.lines)
            {
                LineRoles(line.kind, deferred: line.servicePeriodStart is not null && line.servicePeriodEnd is not null, AccountRole.UNBILLED_RECEIVABLE);
            }
        }
        else if (fact.CreditNote is { } note)
        {
            foreach (var line in note.lines)
            {
                Product(line.productId);
            }

            foreach (var line in note.lines)
            {
                foreach (var tax in line.taxLines)
                {
                    Tax(tax.jurisdictionCode, note.issuedAt);
                }
            }

            foreach (var line in note.lines)
            {
                LineRoles(line.originalLineKind, deferred: true, AccountRole.USAGE_REVENUE);
            }
        }
        else if (fact.Payment is { } payment)
        {
            roles.Add((AccountRole.CASH, null));
            if (payment.kind == PaymentKind.PAYMENT && payment.fee is { } fee && Money.ToDecimal(fee) != 0m)
            {
                roles.Add((AccountRole.PAYMENT_FEES, null));
            }
        }

        var checkedRoles = _checkedRoles;
        checkedRoles.Clear();
        foreach (var (role, jurisdiction) in roles)
        {
            if (checkedRoles.Add((role, jurisdiction)) && MasterData.GlMapping(e, role, jurisdiction) is null)
            {
                (missing ??= []).Add(MissingMasterData.GlMapping(e, role, jurisdiction));
            }
        }

        return missing ?? (IReadOnlyList<MissingMasterData>)[];
    }

    /// <summary>True when the fact gives a posting (finalized or voided invoices, succeeded payments and refunds, credit notes).</summary>
    public static bool Posts(BillingFact fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        return fact.Invoice is { eventType: InvoiceEventType.FINALIZED or InvoiceEventType.VOIDED }
               || fact.CreditNote is not null
               || fact.Payment is { status: PaymentStatus.SUCCEEDED };
    }

    /// <inheritdoc />
    protected override void Apply(BillingFact fact, Headers headers, SourcePosition position)
    {
        ArgumentNullException.ThrowIfNull(fact);
        if (!Posts(fact))
        {
            return;
        }

        var link = MasterData.Link(FinanceMappingTopology.BillingLinkKey(fact.CustomerId))!;
        if (fact.Payment is { } payment)
        {
            if (FinanceEventMapper.FromPayment(payment, link, position) is { } fe)
            {
                Emit(fe, headers);
            }
        }
        else if (fact.CreditNote is { } note)
        {
            ApplyCredit(note, link, headers, position);
        }
        else if (fact.Invoice is { eventType: InvoiceEventType.VOIDED } voided)
        {
            ApplyVoid(voided, link, headers, position);
        }
        else if (fact.Invoice is { } issued)
        {
            ApplyIssue(issued, link, headers, position);
        }
    }

    private void ApplyIssue(Invoice invoice, AccountLink link, Headers headers, SourcePosition position)
    {
        var fe = FinanceEventMapper.FromInvoice(invoice, link, position)!;
        var schedules = new List<(string Key, ScheduleState State)>();
        foreach (var line in invoice.lines.Where(l => l.kind == LineKind.SUBSCRIPTION && l.servicePeriodStart is not null && l.servicePeriodEnd is not null))
        {
            var key = ScheduleKey(invoice.invoiceId, line.lineId);
            if (Load(key) is not null)
            {
                continue; // redelivered: the schedule exists and keeps its releases
            }

            IReadOnlyList<RevenuePeriod> periods;
            try
            {
                periods = RevenueSchedule.Split(Money.ToDecimal(line.amount), line.servicePeriodStart!.Value, line.servicePeriodEnd!.Value, invoice.currency);
            }
            catch (ArgumentException ex)
            {
                throw new InvalidFactException($"invoice {invoice.invoiceId} line {line.lineId}: {ex.Message}");
            }

            schedules.Add((key, new ScheduleState
            {
                InvoiceId = invoice.invoiceId, LineId = line.lineId, ProductId = line.productId, Currency = fe.currency,
                LegalEntityId = fe.legalEntityId, CustomerId = fe.customerId, CorrelationId = fe.correlationId, DocumentNumber = fe.documentNumber,
                SourceObjectId = invoice.invoiceId, SourceEventId = invoice.sourceEventId, SourceTopic = position.Topic,
                SourcePartition = position.Partition, SourceOffset = position.Offset,
                Headers = TracingHeaders.ToMap(OutputHeaders(headers, fe.correlationId)), LineAmount = Money.ToDecimal(line.amount),
                ServiceStart = line.servicePeriodStart.Value, ServiceEnd = line.servicePeriodEnd.Value,
                Periods = periods.Select(p => new PeriodState { Start = p.Start, End = p.End, Amount = p.Amount }).ToList(),
            }));
        }

        Emit(fe, headers);
        foreach (var (key, state) in schedules)
        {
            Save(key, state);
        }

        ReleaseDue(AsOfMs());
    }

    private void ApplyVoid(Invoice invoice, AccountLink link, Headers headers, SourcePosition position)
    {
        var recognized = new Dictionary<string, decimal>(StringComparer.Ordinal);
        var states = new List<(string Key, ScheduleState State)>();
        foreach (var line in invoice.lines.Where(l => l.kind == LineKind.SUBSCRIPTION))
        {
            var key = ScheduleKey(invoice.invoiceId, line.lineId);
            if (Load(key) is { } state)
            {
                // Released so far (plus anything credited out of the schedule is already reversed by its credit note).
                recognized[line.lineId] = state.Released;
                states.Add((key, state));
            }
        }

        Emit(FinanceEventMapper.FromInvoice(invoice, link, position, recognized)!, headers);
        foreach (var (key, state) in states.Where(s => !s.State.Voided))
        {
            // Kept (not deleted) and marked void: a redelivered void finds the same released amount and maps the same way.
            state.Voided = true;
            Save(key, state);
        }
    }

    private void ApplyCredit(CreditNote note, AccountLink link, Headers headers, SourcePosition position)
    {
        var deferred = new Dictionary<string, (decimal Remaining, DateTime Start, DateTime End)>(StringComparer.Ordinal);
        var touched = new List<(string Key, ScheduleState State, string CreditKey, decimal Taken)>();
        var remainingByKey = new Dictionary<string, decimal>(StringComparer.Ordinal);
        foreach (var line in note.lines.Where(l => l.originalLineKind == LineKind.SUBSCRIPTION && l.invoiceLineId is not null))
        {
            var key = ScheduleKey(note.invoiceId, line.invoiceLineId!);
            if (Load(key) is not { } state)
            {
                continue;
            }

            var creditKey = $"{note.creditNoteId}|{line.lineId}";
            var amount = Money.ToDecimal(line.amount);
            decimal taken;
            if (state.Credits.TryGetValue(creditKey, out var already))
            {
                taken = already; // redelivered: same split as the first time
            }
            else
            {
                var available = remainingByKey.TryGetValue(key, out var r) ? r : (state.Voided ? 0m : state.Remaining);
                taken = amount > 0m ? Math.Min(amount, available) : 0m;
                remainingByKey[key] = available - taken;
                touched.Add((key, state, creditKey, taken));
            }

            var unreleased = state.Periods.Where(p => !p.Released).ToList();
            var start = unreleased.Count > 0 ? unreleased[0].Start : state.ServiceStart;
            deferred[line.invoiceLineId!] = (taken, start, state.ServiceEnd);
        }

        var fe = FinanceEventMapper.FromCreditNote(note, link, position, deferred);
        Emit(fe, headers);
        foreach (var group in touched.GroupBy(t => t.Key))
        {
            var state = group.First().State;
            foreach (var t in group)
            {
                state.Credits[t.CreditKey] = t.Taken;
            }

            var newRemaining = state.Remaining - group.Sum(t => t.Taken);
            var open = state.Periods.Where(p => !p.Released).ToList();
            if (open.Count > 0)
            {
                // What is left of the schedule is spread again over the periods still to come (rounding to the last).
                var spread = RevenueSchedule.Spread(newRemaining, open.Select(p => (p.Start, p.End)).ToList(), state.Currency);
                for (var i = 0; i < open.Count; i++)
                {
                    open[i].Amount = spread[i].Amount;
                }
            }

            Save(group.Key, state);
        }
    }

    /// <inheritdoc />
    protected override void OnPunctuate(long nowMs) => ReleaseDue(AsOfMs());

    /// <inheritdoc />
    protected override void OnLoad(IEnumerable<KeyValuePair<string, string>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var (key, value) in entries.Where(e => e.Key.StartsWith(SchedulePrefix, StringComparison.Ordinal)))
        {
            if (JsonSerializer.Deserialize(value, ScheduleJson.Default.ScheduleState)?.NextDueMs is { } due)
            {
                _due.Add((due, key));
            }
        }
    }

    private long AsOfMs() => Settings.Options.RevenueClock is { } clock
        ? new DateTimeOffset(DateTime.SpecifyKind(clock(), DateTimeKind.Utc)).ToUnixTimeMilliseconds()
        : NowMs;

    private void ReleaseDue(long asOfMs)
    {
        while (_due.Count > 0 && _due.Min.DueMs <= asOfMs)
        {
            var (due, key) = _due.Min;
            _due.Remove(_due.Min);
            if (Load(key) is not { } state || state.Voided)
            {
                continue;
            }

            var asOf = DateTimeOffset.FromUnixTimeMilliseconds(asOfMs).UtcDateTime;
            var headers = new Headers();
            foreach (var (name, value) in state.Headers)
            {
                headers.Add(name, value);
            }

            var template = new FinanceEvent
            {
                correlationId = state.CorrelationId, legalEntityId = state.LegalEntityId, customerId = state.CustomerId, currency = state.Currency,
                documentNumber = state.DocumentNumber,
                source = new SourceRef
                {
                    system = "stripe", objectType = "invoice", objectId = state.SourceObjectId, eventId = state.SourceEventId,
                    topic = state.SourceTopic, partition = state.SourcePartition, offset = state.SourceOffset,
                },
            };
            var line = new FinanceEventLine { lineId = state.LineId, productId = state.ProductId };
            foreach (var period in state.Periods.Where(p => !p.Released && p.End <= asOf))
            {
                period.Released = true;
                if (period.Amount > 0m)
                {
                    Emit(FinanceEventMapper.RevenueRecognized(template, line, new RevenuePeriod(period.Start, period.End, period.Amount), state.InvoiceId), headers);
                }
            }

            Save(key, state);
        }
    }

    private ScheduleState? Load(string key) => State.Get(key) is { } json ? JsonSerializer.Deserialize(json, ScheduleJson.Default.ScheduleState) : null;

    private void Save(string key, ScheduleState state)
    {
        State.Put(key, JsonSerializer.Serialize(state, ScheduleJson.Default.ScheduleState));
        if (state.NextDueMs is { } due)
        {
            _due.Add((due, key));
        }
    }

    private static string ScheduleKey(string invoiceId, string lineId) => $"{SchedulePrefix}{invoiceId}|{lineId}";

    /// <inheritdoc />
    protected override (string CorrelationId, Dictionary<string, string> Context, string? PostingKey) Describe(BillingFact fact, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(fact);
        var header = TracingHeaders.Get(headers, TracingHeaders.CorrelationId);
        return fact switch
        {
            { Invoice: { } i } => (i.correlationId ?? header ?? $"invoice:{i.invoiceId}", FinanceEventMapper.Context(i),
                i.eventType is InvoiceEventType.FINALIZED or InvoiceEventType.VOIDED ? FinanceEventMapper.InvoicePostingKey(i.invoiceId, i.eventType == InvoiceEventType.VOIDED ? FinanceEventType.INVOICE_VOIDED : FinanceEventType.INVOICE_ISSUED) : null),
            { CreditNote: { } c } => (c.correlationId ?? header ?? $"invoice:{c.invoiceId}", FinanceEventMapper.Context(c), FinanceEventMapper.CreditPostingKey(c.creditNoteId)),
            { Payment: { } p } => (p.correlationId ?? header ?? (p.invoiceId is { } inv ? $"invoice:{inv}" : $"payment:{p.paymentId}"), FinanceEventMapper.Context(p),
                p.kind == PaymentKind.REFUND ? $"refund:{p.paymentId}:issued" : $"payment:{p.paymentId}:applied"),
            _ => throw new InvalidOperationException("empty billing fact"),
        };
    }

    /// <inheritdoc />
    protected override (string Kind, byte[] Bytes) Encode(BillingFact fact, string topic)
    {
        ArgumentNullException.ThrowIfNull(fact);
        var ctx = new SerializationContext(MessageComponentType.Value, topic);
        return fact switch
        {
            { Invoice: { } i } => ("invoice", InvoiceSerdes.Serialize(i, ctx)),
            { CreditNote: { } c } => ("credit_note", CreditSerdes.Serialize(c, ctx)),
            { Payment: { } p } => ("payment", PaymentSerdes.Serialize(p, ctx)),
            _ => throw new InvalidOperationException("empty billing fact"),
        };
    }

    /// <inheritdoc />
    protected override BillingFact Decode(string kind, byte[] bytes, string topic)
    {
        var ctx = new SerializationContext(MessageComponentType.Value, topic);
        return kind switch
        {
            "invoice" => new BillingFact(Invoice: InvoiceSerdes.Deserialize(bytes, ctx)),
            "credit_note" => new BillingFact(CreditNote: CreditSerdes.Deserialize(bytes, ctx)),
            "payment" => new BillingFact(Payment: PaymentSerdes.Deserialize(bytes, ctx)),
            _ => throw new InvalidOperationException($"parked record of unknown kind '{kind}'"),
        };
    }

    internal static byte[] Utf8(string value) => Encoding.UTF8.GetBytes(value);
}
