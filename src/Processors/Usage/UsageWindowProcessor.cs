using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Serialization;
using Streaming.Processors.FinanceMapping;

namespace Streaming.Processors.Usage;

/// <summary>One usage window (subscription item × meter × tumbling window) as kept in the state store (JSON).</summary>
internal sealed class UsageWindowState
{
    public string SubscriptionItemId { get; set; } = "";
    public string Meter { get; set; } = "";
    public long StartMs { get; set; }
    public long EndMs { get; set; }
    public decimal Quantity { get; set; }
    public int Events { get; set; }
    public int SourcePartition { get; set; }
    public long LastOffset { get; set; } = -1;
    public bool Closed { get; set; }
    public decimal EmittedAmount { get; set; }
    public string CustomerId { get; set; } = "";
    public string LegalEntityId { get; set; } = "";
    public string Currency { get; set; } = "";
    public string ProductId { get; set; } = "";
    public string PriceId { get; set; } = "";
    public decimal? UnitAmount { get; set; }
    public List<TierState> Tiers { get; set; } = [];
    public string CorrelationId { get; set; } = "";
    public string FirstUsageEventId { get; set; } = "";
    public string SourceTopic { get; set; } = "";
    public long FirstOffset { get; set; }
    public Dictionary<string, byte[]> Headers { get; set; } = [];

    public Price Price() => new()
    {
        priceId = PriceId, currency = Currency, unitAmount = Money.ToAvro(UnitAmount), billingInterval = BillingInterval.MONTH, meter = Meter,
        tiers = Tiers.Select(t => new PriceTier { upTo = t.UpTo is { } u ? Money.Quantity(u) : null, unitAmount = Money.ToAvro(t.Unit), flatAmount = Money.ToAvro(t.Flat) }).ToList(),
    };
}

internal sealed class TierState
{
    public decimal? UpTo { get; set; }
    public decimal Unit { get; set; }
    public decimal? Flat { get; set; }
}

/// <summary>
/// Usage rating in tumbling windows (DOMAIN.md): usage events are summed per subscription item and meter in windows of
/// <see cref="FinanceMappingOptions.UsageWindow"/>; a window closes when stream time (the latest event time this task
/// has seen) passes its end plus <see cref="FinanceMappingOptions.UsageGrace"/>, or, for the last window of a quiet
/// stream, when that moment has passed on the wall clock and the task has seen no usage for
/// <see cref="FinanceMappingOptions.UsageIdleClose"/>. A closed window is rated once on its total quantity (graduated
/// tiers apply per window) with the price found when it opened, and emitted as one <c>USAGE_ACCRUED</c>. An event for a
/// closed window is not dropped: it produces an adjusting <c>USAGE_ACCRUED</c> for the difference the window's new total
/// makes; an event later than <see cref="FinanceMappingOptions.UsageRetention"/> goes to quarantine.
/// </summary>
/// <remarks>
/// A processor with a key-value store and punctuation, not Streamiz's <c>Suppress</c> (reported unreliable upstream,
/// issue #445). Each event passes the readiness gate first (account link, legal entity, a price for its meter in the
/// entity's currency, GL mappings), so a window only holds events that can be rated. The store remembers the last source
/// offset per window, so events redelivered after a restart (at least once) are not counted twice.
/// </remarks>
public sealed class UsageWindowProcessor : ReadinessGate<UsageEvent>
{
    private const string WindowPrefix = "w|";
    private const string StreamTimeKey = "t|stream-time";
    private readonly SortedSet<(long CloseAtMs, string Key)> _open = [];
    private readonly SortedSet<(long PurgeAtMs, string Key)> _closed = [];
    private long _streamTimeMs = long.MinValue;
    private long _lastActivityMs;
    private StreamizAvroSerDes<UsageEvent>? _serdes;

    /// <summary>Required by Streamiz; instances are created with <see cref="UsageWindowProcessor(GateSettings)"/>.</summary>
    public UsageWindowProcessor()
    {
    }

    /// <summary>Instance for one stream task.</summary>
    public UsageWindowProcessor(GateSettings settings) : base(settings)
    {
    }

    private StreamizAvroSerDes<UsageEvent> Serdes => _serdes ??= (StreamizAvroSerDes<UsageEvent>)Settings.Serdes.Avro<UsageEvent>();

    private FinanceMappingOptions Options => Settings.Options;

    /// <inheritdoc />
    protected override int HeldBack => _open.Count;

    /// <summary>Posting key of a window's accrual: <c>usage:{item}:{meter}:{window start, UTC}</c>.</summary>
    public static string PostingKey(string subscriptionItemId, string meter, DateTime windowStart)
        => $"usage:{subscriptionItemId}:{meter}:{windowStart.ToString("yyyy-MM-dd'T'HH:mm'Z'", CultureInfo.InvariantCulture)}";

    /// <summary>Posting key of the adjusting accrual a late event makes.</summary>
    public static string LatePostingKey(string subscriptionItemId, string meter, DateTime windowStart, string usageEventId)
        => $"{PostingKey(subscriptionItemId, meter, windowStart)}:late:{usageEventId}";

    /// <inheritdoc />
    protected override IReadOnlyList<MissingMasterData> Check(UsageEvent fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        var linkKey = FinanceMappingTopology.BillingLinkKey(fact.customerId);
        if (MasterData.Link(linkKey) is not { } link)
        {
            return [MissingMasterData.Link(linkKey)];
        }

        if (MasterData.Entity(link.legalEntityId) is not { } entity)
        {
            return [MissingMasterData.Entity(link.legalEntityId)];
        }

        var missing = new List<MissingMasterData>();
        var currency = entity.functionalCurrency.Trim().ToUpperInvariant();
        if (MasterData.MeterPrice(fact.meter, currency) is null)
        {
            missing.Add(MissingMasterData.Price(fact.meter, currency));
        }

        foreach (var role in new[] { AccountRole.UNBILLED_RECEIVABLE, AccountRole.USAGE_REVENUE })
        {
            if (MasterData.GlMapping(entity.legalEntityId, role) is null)
            {
                missing.Add(MissingMasterData.GlMapping(entity.legalEntityId, role, null));
            }
        }

        return missing;
    }

    /// <inheritdoc />
    protected override void Apply(UsageEvent fact, Headers headers, SourcePosition position)
    {
        ArgumentNullException.ThrowIfNull(fact);
        var quantity = Money.ToDecimal(fact.quantity);
        if (quantity < 0m)
        {
            throw new InvalidFactException($"usage event {fact.usageEventId}: negative quantity {quantity}", "INVALID_USAGE");
        }

        var size = (long)Options.UsageWindow.TotalMilliseconds;
        var occurredMs = new DateTimeOffset(DateTime.SpecifyKind(fact.occurredAt, DateTimeKind.Utc)).ToUnixTimeMilliseconds();
        var startMs = occurredMs - (((occurredMs % size) + size) % size);
        var endMs = startMs + size;
        var key = WindowKey(fact.subscriptionItemId, fact.meter, startMs);
        _lastActivityMs = NowMs;

        if (endMs + (long)Options.UsageRetention.TotalMilliseconds <= _streamTimeMs)
        {
            throw new InvalidFactException(
                $"usage event {fact.usageEventId} for window {Iso(startMs)} arrived after the window's retention ({Options.UsageRetention.TotalDays:0.#} days): it can no longer be adjusted automatically",
                "LATE_BEYOND_RETENTION");
        }

        var state = Load(key);
        if (state is null)
        {
            state = NewWindow(fact, startMs, endMs, headers, position);
            // A window that never had an event and whose time has passed is born closed: its first event is late.
            state.Closed = endMs + (long)Options.UsageGrace.TotalMilliseconds <= _streamTimeMs;
        }
        else if (state.SourcePartition == position.Partition && position.Offset <= state.LastOffset)
        {
            return; // redelivered after a restart: already counted
        }

        state.Quantity += quantity;
        state.Events++;
        state.LastOffset = position.Offset;
        state.SourcePartition = position.Partition;
        if (state.Closed)
        {
            var total = UsageRater.Rate(state.Quantity, state.Price());
            var adjustment = total - state.EmittedAmount;
            state.EmittedAmount = total;
            Save(key, state);
            if (adjustment != 0m)
            {
                Emit(Accrual(state, adjustment, LatePostingKey(state.SubscriptionItemId, state.Meter, Utc(state.StartMs), fact.usageEventId),
                    $"late:{fact.usageEventId}", fact.usageEventId, position), headers);
            }
        }
        else
        {
            Save(key, state);
            _open.Add((state.EndMs + (long)Options.UsageGrace.TotalMilliseconds, key));
        }

        if (occurredMs > _streamTimeMs)
        {
            _streamTimeMs = occurredMs;
            State.Put(StreamTimeKey, _streamTimeMs.ToString(CultureInfo.InvariantCulture));
        }

        CloseDue(_streamTimeMs);
    }

    /// <inheritdoc />
    protected override void OnPunctuate(long nowMs)
    {
        CloseDue(_streamTimeMs);
        if (_lastActivityMs < 0)
        {
            _lastActivityMs = nowMs; // activity before the first punctuation counts from now
        }

        if (nowMs - _lastActivityMs >= (long)Options.UsageIdleClose.TotalMilliseconds)
        {
            CloseDue(nowMs);
        }

        // Closed windows are kept for late events until stream time passes their retention.
        while (_closed.Count > 0 && _closed.Min.PurgeAtMs <= _streamTimeMs)
        {
            var (_, key) = _closed.Min;
            _closed.Remove(_closed.Min);
            State.Delete(key);
        }
    }

    /// <inheritdoc />
    protected override void OnLoad(IEnumerable<KeyValuePair<string, string>> entries)
    {
        ArgumentNullException.ThrowIfNull(entries);
        foreach (var (key, value) in entries)
        {
            if (key == StreamTimeKey)
            {
                _streamTimeMs = long.Parse(value, CultureInfo.InvariantCulture);
            }
            else if (key.StartsWith(WindowPrefix, StringComparison.Ordinal) && JsonSerializer.Deserialize<UsageWindowState>(value) is { } w)
            {
                if (w.Closed)
                {
                    _closed.Add((w.EndMs + (long)Options.UsageRetention.TotalMilliseconds, key));
                }
                else
                {
                    _open.Add((w.EndMs + (long)Options.UsageGrace.TotalMilliseconds, key));
                }
            }
        }
    }

    private void CloseDue(long timeMs)
    {
        while (_open.Count > 0 && _open.Min.CloseAtMs <= timeMs)
        {
            var (_, key) = _open.Min;
            _open.Remove(_open.Min);
            if (Load(key) is not { Closed: false } state)
            {
                continue;
            }

            var amount = UsageRater.Rate(state.Quantity, state.Price());
            state.Closed = true;
            state.EmittedAmount = amount;
            Save(key, state);
            _closed.Add((state.EndMs + (long)Options.UsageRetention.TotalMilliseconds, key));
            if (amount != 0m)
            {
                var headers = new Headers();
                foreach (var (name, value) in state.Headers)
                {
                    headers.Add(name, value);
                }

                Emit(Accrual(state, amount, PostingKey(state.SubscriptionItemId, state.Meter, Utc(state.StartMs)), "window", state.FirstUsageEventId,
                    new SourcePosition(state.SourceTopic, state.SourcePartition, state.FirstOffset)), headers);
            }
        }
    }

    private UsageWindowState NewWindow(UsageEvent fact, long startMs, long endMs, Headers headers, SourcePosition position)
    {
        var link = MasterData.Link(FinanceMappingTopology.BillingLinkKey(fact.customerId))!;
        var entity = MasterData.Entity(link.legalEntityId)!;
        var currency = entity.functionalCurrency.Trim().ToUpperInvariant();
        var (productId, price) = MasterData.MeterPrice(fact.meter, currency)!.Value;
        var correlation = TracingHeaders.Get(headers, TracingHeaders.CorrelationId) is { Length: > 0 } c ? c : $"usage:{fact.subscriptionItemId}";
        return new UsageWindowState
        {
            SubscriptionItemId = fact.subscriptionItemId, Meter = fact.meter, StartMs = startMs, EndMs = endMs, SourcePartition = position.Partition,
            CustomerId = link.canonicalCustomerId, LegalEntityId = entity.legalEntityId, Currency = currency, ProductId = productId, PriceId = price.priceId,
            UnitAmount = Money.ToDecimal(price.unitAmount),
            Tiers = price.tiers.Select(t => new TierState { UpTo = Money.ToDecimal(t.upTo), Unit = Money.ToDecimal(t.unitAmount), Flat = Money.ToDecimal(t.flatAmount) }).ToList(),
            CorrelationId = correlation, FirstUsageEventId = fact.usageEventId, SourceTopic = position.Topic, FirstOffset = position.Offset,
            Headers = TracingHeaders.ToMap(OutputHeaders(headers, correlation)),
        };
    }

    private static FinanceEvent Accrual(UsageWindowState w, decimal amount, string postingKey, string lineSuffix, string sourceEventId, SourcePosition position)
    {
        var total = Money.ToAvro(amount);
        var start = Utc(w.StartMs);
        return new FinanceEvent
        {
            eventId = FinanceEventMapper.EventId(postingKey),
            eventType = FinanceEventType.USAGE_ACCRUED,
            postingKey = postingKey,
            correlationId = w.CorrelationId,
            legalEntityId = w.LegalEntityId,
            customerId = w.CustomerId,
            currency = w.Currency,
            totalAmount = total,
            taxAmount = Money.ToAvro(0m),
            effectiveDate = start,
            documentNumber = null,
            lines =
            [
                new FinanceEventLine
                {
                    lineId = $"{w.SubscriptionItemId}:{w.Meter}:{Iso(w.StartMs)}:{lineSuffix}", kind = FinanceLineKind.USAGE, amount = total, productId = w.ProductId,
                    servicePeriodStart = start, servicePeriodEnd = Utc(w.EndMs),
                },
            ],
            source = new SourceRef
            {
                system = "usage", objectType = "usage_window", objectId = $"{w.SubscriptionItemId}:{w.Meter}:{Iso(w.StartMs)}", eventId = sourceEventId,
                topic = position.Topic, partition = position.Partition, offset = position.Offset,
            },
            createdAt = Utc(w.EndMs),
        };
    }

    private UsageWindowState? Load(string key) => State.Get(key) is { } json ? JsonSerializer.Deserialize<UsageWindowState>(json) : null;

    private void Save(string key, UsageWindowState state) => State.Put(key, JsonSerializer.Serialize(state));

    private static string WindowKey(string item, string meter, long startMs) => $"{WindowPrefix}{item}|{meter}|{startMs:D15}";

    private static DateTime Utc(long ms) => DateTimeOffset.FromUnixTimeMilliseconds(ms).UtcDateTime;

    private static string Iso(long ms) => Utc(ms).ToString("yyyy-MM-dd'T'HH:mm'Z'", CultureInfo.InvariantCulture);

    /// <inheritdoc />
    protected override (string CorrelationId, Dictionary<string, string> Context, string? PostingKey) Describe(UsageEvent fact, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(fact);
        var correlation = TracingHeaders.Get(headers, TracingHeaders.CorrelationId) is { Length: > 0 } c ? c : $"usage:{fact.subscriptionItemId}";
        return (correlation, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["customer"] = fact.customerId,
            ["quantity"] = Money.ToDecimal(fact.quantity).ToString(CultureInfo.InvariantCulture),
            ["meter"] = fact.meter,
            ["subscription_item"] = fact.subscriptionItemId,
            ["usage_event"] = fact.usageEventId,
            ["occurred_at"] = fact.occurredAt.ToString("O", CultureInfo.InvariantCulture),
        }, null);
    }

    /// <inheritdoc />
    protected override (string Kind, byte[] Bytes) Encode(UsageEvent fact, string topic)
        => ("usage", Serdes.Serialize(fact, new SerializationContext(MessageComponentType.Value, topic)));

    /// <inheritdoc />
    protected override UsageEvent Decode(string kind, byte[] bytes, string topic)
        => Serdes.Deserialize(bytes, new SerializationContext(MessageComponentType.Value, topic));
}
