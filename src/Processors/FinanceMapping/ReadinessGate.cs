using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Streamiz.Kafka.Net.Processors.Public;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;

namespace Streaming.Processors.FinanceMapping;

/// <summary>Tunables of the finance topologies.</summary>
public sealed record FinanceMappingOptions
{
    /// <summary>How long a record whose master data is missing waits for it before it goes to quarantine (zero: at once).</summary>
    public TimeSpan ReadinessTimeout { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>How often parked records are retried, revenue periods released and usage windows closed (wall clock).</summary>
    public TimeSpan PunctuationInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// The clock up to which revenue-schedule periods are released; null = the stream task's wall clock. A fixed
    /// instant makes a replay (or the demo) release the same periods whatever the day it runs.
    /// </summary>
    public Func<DateTime>? RevenueClock { get; init; }

    /// <summary>Tumbling usage window size (hourly by default).</summary>
    public TimeSpan UsageWindow { get; init; } = TimeSpan.FromHours(1);

    /// <summary>How long after its end a usage window still takes events before it is rated and emitted.</summary>
    public TimeSpan UsageGrace { get; init; } = TimeSpan.FromMinutes(10);

    /// <summary>
    /// A window whose end plus grace has passed on the wall clock also closes when its task has seen no usage for this
    /// long, so the last window of a quiet stream is not held until the next event.
    /// </summary>
    public TimeSpan UsageIdleClose { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long a closed usage window is kept for late events (which produce adjusting accruals); later ones go to quarantine.</summary>
    public TimeSpan UsageRetention { get; init; } = TimeSpan.FromDays(35);

    /// <summary>State stores on RocksDB (true, the default) or in memory; both are backed by a changelog topic.</summary>
    public bool PersistentState { get; init; } = true;

    /// <summary>Counters other components (the demo, tests) read to know the topology has nothing parked or open.</summary>
    public FinanceMappingMonitor Monitor { get; init; } = new();
}

/// <summary>Live counts of what the finance topologies hold back: parked records and open usage windows, per task.</summary>
public sealed class FinanceMappingMonitor
{
    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, int> _held = new(StringComparer.Ordinal);

    /// <summary>Records parked by readiness gates plus usage windows not yet emitted, over all tasks.</summary>
    public int Held => _held.Values.Sum();

    internal void Set(string owner, int count) => _held[owner] = count;
}

/// <summary>What a finance processor emits: a finance event, an order or a quarantine record, with the key to write it under.</summary>
public sealed record FinanceOutput(FinanceEvent? Event, QuarantineRecord? Quarantine, FinanceOrder? Order = null);

/// <summary>A record parked by a readiness gate, as kept in its state store (JSON).</summary>
internal sealed class ParkedRecord
{
    public string Kind { get; set; } = "";

    public string? Key { get; set; }

    public byte[] Value { get; set; } = [];

    public Dictionary<string, byte[]> Headers { get; set; } = [];

    public string Topic { get; set; } = "";

    public int Partition { get; set; }

    public long Offset { get; set; }

    public long FirstSeenMs { get; set; }
}

/// <summary>
/// The readiness gate shared by the finance processors. A record whose master data is missing is not emitted
/// half-joined: it is parked in the processor's state store (so it survives a restart), retried every
/// <see cref="FinanceMappingOptions.PunctuationInterval"/>, emitted as soon as its data is there, and sent to
/// <c>ops.quarantine.v1</c> when <see cref="FinanceMappingOptions.ReadinessTimeout"/> has passed, with a reason code,
/// what was missing, the correlation id, business context and its source coordinates. A quarantined record keeps its
/// original key, bytes and headers, so producing them again to the source topic resubmits it.
/// </summary>
public abstract class ReadinessGate<TFact> : ITransformer<string, TFact, string, FinanceOutput>
    where TFact : class
{
    private const string ParkedPrefix = "p|";

    private ProcessorContext<string, FinanceOutput> _context = null!;
    private readonly SortedDictionary<string, ParkedRecord> _parked = new(StringComparer.Ordinal);
    private bool _loaded;
    private string _owner = "";

    /// <summary>Settings given by the topology.</summary>
    protected GateSettings Settings { get; }

    /// <summary>Master-data lookups.</summary>
    protected MasterDataLookup MasterData { get; private set; } = null!;

    /// <summary>This processor's key-value state store (JSON values).</summary>
    protected IKeyValueStore<string, string> State { get; private set; } = null!;

    /// <summary>
    /// Wall clock of the stream task, in ms, as of the last punctuation (-1 before the first). Streamiz hands a
    /// transformer a context whose own clock is the system's, while punctuations receive the task's clock (the test
    /// driver's mock clock under test); only the latter is used, so waiting is measured on one clock, to within one
    /// <see cref="FinanceMappingOptions.PunctuationInterval"/>.
    /// </summary>
    protected long NowMs => _lastPunctuationMs;

    private long _lastPunctuationMs = -1;

    /// <summary>Parameterless constructor (Streamiz requires one; the real instances are created with settings).</summary>
    protected ReadinessGate() => Settings = GateSettings.Unset;

    /// <summary>Instance for one stream task.</summary>
    protected ReadinessGate(GateSettings settings) => Settings = settings ?? throw new ArgumentNullException(nameof(settings));

    /// <inheritdoc />
    public void Init(ProcessorContext<string, FinanceOutput> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        _context = context;
        MasterData = new MasterDataLookup(context);
        State = context.GetStateStore(Settings.StoreName) as IKeyValueStore<string, string>
            ?? throw new InvalidOperationException($"state store {Settings.StoreName} is not connected to {GetType().Name}");
        _owner = $"{Settings.StoreName}/{context.Id}";
        context.Schedule(Settings.Options.PunctuationInterval, PunctuationType.PROCESSING_TIME, Punctuate);
    }

    /// <inheritdoc />
    public Record<string, FinanceOutput> Process(Record<string, TFact> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        EnsureLoaded();
        if (record.Value is null)
        {
            return null!;
        }

        var position = PositionOf(record);
        var headers = record.Headers ?? new Headers();
        Handle(record.Value, OriginalKey(record), headers, position, NowMs, parkedKey: null);
        Publish();
        return null!; // everything is forwarded through the context (one input can give several outputs)
    }

    /// <inheritdoc />
    public void Close()
    {
    }

    /// <summary>Where the record was read from (overridden where the record came through a repartition topic).</summary>
    protected virtual SourcePosition PositionOf(Record<string, TFact> record)
        => new(record.TopicPartitionOffset.Topic, record.TopicPartitionOffset.Partition.Value, record.TopicPartitionOffset.Offset.Value);

    /// <summary>The key the record had on its source topic.</summary>
    protected virtual string? OriginalKey(Record<string, TFact> record) => record.Key;

    /// <summary>What the fact needs and did not find (empty = ready).</summary>
    protected abstract IReadOnlyList<MissingMasterData> Check(TFact fact);

    /// <summary>Maps a ready fact and forwards what it gives with <see cref="Emit"/>; throws <see cref="InvalidFactException"/> for a fact that cannot be mapped.</summary>
    protected abstract void Apply(TFact fact, Headers headers, SourcePosition position);

    /// <summary>Correlation id, business context and posting key (if known) for a quarantine record.</summary>
    protected abstract (string CorrelationId, Dictionary<string, string> Context, string? PostingKey) Describe(TFact fact, Headers headers);

    /// <summary>Kind tag and bytes of a fact, to park it.</summary>
    protected abstract (string Kind, byte[] Bytes) Encode(TFact fact, string topic);

    /// <summary>A parked fact back from its kind tag and bytes.</summary>
    protected abstract TFact Decode(string kind, byte[] bytes, string topic);

    /// <summary>Periodic work of the processor beyond the gate (revenue releases, window closing).</summary>
    protected virtual void OnPunctuate(long nowMs)
    {
    }

    /// <summary>Extra items the processor holds back, for the monitor.</summary>
    protected virtual int HeldBack => 0;

    /// <summary>Called once, after the state store is restored, to rebuild in-memory indexes.</summary>
    protected virtual void OnLoad(IEnumerable<KeyValuePair<string, string>> entries)
    {
    }

    /// <summary>Forwards a finance event keyed by canonical customer, with the input's tracing headers.</summary>
    protected void Emit(FinanceEvent financeEvent, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(financeEvent);
        _context.SetHeaders(OutputHeaders(headers, financeEvent.correlationId));
        _context.Forward(financeEvent.customerId, new FinanceOutput(financeEvent, null));
    }

    /// <summary>Forwards a canonical order keyed by order id.</summary>
    protected void EmitOrder(FinanceOrder order, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(order);
        _context.SetHeaders(OutputHeaders(headers, order.correlationId));
        _context.Forward(order.orderId, new FinanceOutput(null, null, order));
    }

    /// <summary>Forwards a quarantine record keyed by correlation id.</summary>
    protected void EmitQuarantine(QuarantineRecord record, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(record);
        _context.SetHeaders(OutputHeaders(headers, record.correlationId));
        _context.Forward(record.correlationId, new FinanceOutput(null, record));
    }

    /// <summary>Builds a quarantine record.</summary>
    protected QuarantineRecord Quarantine(string reasonCode, List<string> missing, string detail, string correlationId, string? postingKey,
        Dictionary<string, string> context, SourcePosition position, string? key, byte[] originalValue, Headers headers)
        => OpsRecords.Quarantine(
            new FailedRecord(position.Topic, position.Partition, position.Offset, FailedRecord.KeyBytes(key), originalValue, TracingHeaders.ToMap(Strip(headers))),
            reasonCode, detail, missing, Settings.Stage, correlationId, postingKey, context,
            NowMs >= 0 ? DateTimeOffset.FromUnixTimeMilliseconds(NowMs).UtcDateTime : DateTime.UtcNow);

    /// <summary>Headers of an output: the input's, minus internal ones, with a correlation id.</summary>
    protected static Headers OutputHeaders(Headers input, string correlationId)
    {
        var output = Strip(input);
        if (TracingHeaders.Get(output, TracingHeaders.CorrelationId) is not { Length: > 0 })
        {
            output.Add(TracingHeaders.CorrelationId, Encoding.UTF8.GetBytes(correlationId));
        }

        return output;
    }

    /// <summary>Headers a processor adds for its own use (source coordinates across a repartition); never copied to outputs.</summary>
    public const string InternalHeaderPrefix = "x-streaming-";

    private static Headers Strip(Headers? input)
    {
        var output = new Headers();
        if (input is null)
        {
            return output;
        }

        foreach (var h in input)
        {
            if (!h.Key.StartsWith(InternalHeaderPrefix, StringComparison.Ordinal))
            {
                output.Add(h.Key, h.GetValueBytes());
            }
        }

        return output;
    }

    private void Handle(TFact fact, string? key, Headers headers, SourcePosition position, long firstSeenMs, string? parkedKey)
    {
        var missing = Check(fact);
        if (missing.Count > 0)
        {
            var timeout = (long)Settings.Options.ReadinessTimeout.TotalMilliseconds;
            if (timeout <= 0 || (firstSeenMs >= 0 && NowMs - firstSeenMs >= timeout))
            {
                var (correlation, context, postingKey) = Describe(fact, headers);
                var items = missing.Select(m => m.Item).ToList();
                EmitQuarantine(Quarantine(missing[0].ReasonCode, items,
                    $"{Settings.Stage}: record from {position.Topic}[{position.Partition}]@{position.Offset} cannot be mapped: missing {string.Join(", ", items)} (waited {TimeSpan.FromMilliseconds(firstSeenMs >= 0 ? NowMs - firstSeenMs : 0).TotalSeconds:0.#} s)",
                    correlation, postingKey, context, position, key, Encode(fact, position.Topic).Bytes, headers), headers);
                Unpark(parkedKey);
            }
            else if (parkedKey is null)
            {
                Park(fact, key, headers, position, firstSeenMs);
            }

            return;
        }

        try
        {
            Apply(fact, headers, position);
        }
        catch (InvalidFactException ex)
        {
            var (correlation, context, postingKey) = Describe(fact, headers);
            EmitQuarantine(Quarantine(ex.ReasonCode, [], $"{Settings.Stage}: record from {position.Topic}[{position.Partition}]@{position.Offset}: {ex.Message}",
                correlation, postingKey, context, position, key, Encode(fact, position.Topic).Bytes, headers), headers);
        }

        Unpark(parkedKey);
    }

    private void Park(TFact fact, string? key, Headers headers, SourcePosition position, long firstSeenMs)
    {
        var (kind, bytes) = Encode(fact, position.Topic);
        var parked = new ParkedRecord
        {
            Kind = kind, Key = key, Value = bytes, Headers = TracingHeaders.ToMap(headers), Topic = position.Topic, Partition = position.Partition,
            Offset = position.Offset, FirstSeenMs = firstSeenMs,
        };
        // Keyed by source coordinates: a redelivered record parks once.
        var storeKey = $"{ParkedPrefix}{position.Topic}|{position.Partition:D5}|{position.Offset:D19}";
        if (_parked.TryAdd(storeKey, parked))
        {
            State.Put(storeKey, JsonSerializer.Serialize(parked));
        }
    }

    private void Unpark(string? storeKey)
    {
        if (storeKey is not null && _parked.Remove(storeKey))
        {
            State.Delete(storeKey);
        }
    }

    private void Punctuate(long nowMs)
    {
        _lastPunctuationMs = nowMs;
        EnsureLoaded();
        // Oldest first (keys sort by topic, partition, offset), so records of one partition keep their order.
        foreach (var (storeKey, parked) in _parked.ToList())
        {
            var headers = new Headers();
            foreach (var (name, value) in parked.Headers)
            {
                headers.Add(name, value);
            }

            if (parked.FirstSeenMs < 0)
            {
                // Parked before the first punctuation: the wait counts from now.
                parked.FirstSeenMs = nowMs;
                State.Put(storeKey, JsonSerializer.Serialize(parked));
            }

            Handle(Decode(parked.Kind, parked.Value, parked.Topic), parked.Key, headers, new SourcePosition(parked.Topic, parked.Partition, parked.Offset),
                parked.FirstSeenMs, storeKey);
        }

        OnPunctuate(nowMs);
        Publish();
    }

    private void EnsureLoaded()
    {
        if (_loaded)
        {
            return;
        }

        _loaded = true;
        var entries = State.All().ToList();
        foreach (var (key, value) in entries.Where(e => e.Key.StartsWith(ParkedPrefix, StringComparison.Ordinal)))
        {
            _parked[key] = JsonSerializer.Deserialize<ParkedRecord>(value)!;
        }

        OnLoad(entries.Where(e => !e.Key.StartsWith(ParkedPrefix, StringComparison.Ordinal)));
    }

    private void Publish() => Settings.Options.Monitor.Set(_owner, _parked.Count + HeldBack);
}

/// <summary>What a gate instance needs from its topology.</summary>
public sealed record GateSettings(string StoreName, string Stage, FinanceSerdes Serdes, FinanceMappingOptions Options)
{
    internal static readonly GateSettings Unset = new("unset", "unset", null!, new FinanceMappingOptions());
}
