using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Streaming.Producers.Usage;

/// <summary>
/// The library API for usage at volume: in-process producers hand it <see cref="UsageRecord"/>s, it writes them to
/// <c>billing.usage.v1</c> as registry-framed Avro keyed by subscription item, never awaiting a single message. It is
/// bounded: at most <see cref="Capacity"/> records are queued and unacknowledged at once; beyond that
/// <see cref="TryEnqueue"/> returns false and <see cref="EnqueueAsync"/> waits, so memory never grows without bound.
/// Delivery failures are counted, logged (error code only, never the payload) and surfaced by <see cref="FlushAsync"/>
/// and by a batch's result.
/// </summary>
public sealed class UsageIngestor : IDisposable
{
    private readonly IProducer<byte[], byte[]> _producer;
    private readonly bool _ownsProducer;
    private readonly UsageAvroEncoder _encoder;
    private readonly UsageIngestorOptions _options;
    private readonly ILogger _log;
    private readonly Action<DeliveryReport<byte[], byte[]>> _onDelivery;
    private readonly UsageContext _defaultContext;
    private readonly TopicPartition _target;
    // Each hot counter on its own cache line: _enqueued is written by producing threads, _delivered by whichever thread
    // serves delivery reports, _inFlight by both; sharing one line would bounce it between cores on every record.
    private PaddedCounter _inFlight;
    private PaddedCounter _enqueued;
    private PaddedCounter _delivered;
    private long _failed;
    private Error? _firstError;
    private int _disposed;
    // Set when the ingestor serves its own producer's delivery reports (see CreateAsync): producing threads poll inline
    // every 64th record (PollEveryMask), and _poller covers the gaps (idle callers, batches waiting for their last reports).
    private readonly Thread? _poller;
    private long _lastInlinePoll;
    private const int PollEveryMask = 63;
    private const long PollerIdleMs = 2;

    /// <summary>Wraps an existing producer (not disposed by the ingestor). <paramref name="capacity"/> defaults to the options' capacity.</summary>
    public UsageIngestor(IProducer<byte[], byte[]> producer, UsageAvroEncoder encoder, UsageIngestorOptions? options = null, ILogger<UsageIngestor>? logger = null)
        : this(producer, ownsProducer: false, encoder, options ?? new UsageIngestorOptions(), (options ?? new UsageIngestorOptions()).Capacity, logger)
    {
    }

    private UsageIngestor(IProducer<byte[], byte[]> producer, bool ownsProducer, UsageAvroEncoder encoder, UsageIngestorOptions options, int capacity, ILogger? logger,
        bool pollsInline = false)
    {
        ArgumentNullException.ThrowIfNull(producer);
        ArgumentNullException.ThrowIfNull(encoder);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _producer = producer;
        _ownsProducer = ownsProducer;
        _encoder = encoder;
        _options = options;
        Capacity = capacity;
        _log = logger ?? NullLogger.Instance;
        _onDelivery = OnDelivery;
        _defaultContext = UsageContext.Create(options.DefaultCorrelationId);
        _target = new TopicPartition(options.Topic, Partition.Any);
        if (pollsInline)
        {
            _poller = new Thread(PollWhileIdle) { IsBackground = true, Name = "usage-ingest-poll" };
            _poller.Start();
        }
    }

    /// <summary>
    /// Builds an ingestor with its own producer from <paramref name="config"/> (idempotent and <c>acks=all</c> unless the
    /// config says otherwise) and the registry id of the usage schema. The capacity is the smaller of the options'
    /// and the producer's <c>queue.buffering.max.messages</c> (librdkafka default 100,000). Unless the config sets
    /// <c>dotnet.producer.enable.background.poll=true</c>, delivery reports are served by the producing threads (every
    /// 64th record, and when at capacity) and by the ingestor's own <c>usage-ingest-poll</c> thread when no caller has
    /// polled for 2 ms, instead of by Confluent's background poll thread.
    /// </summary>
    public static async Task<UsageIngestor> CreateAsync(ProducerConfig config, ISchemaRegistryClient registry, UsageIngestorOptions? options = null,
        ILoggerFactory? loggerFactory = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(config);
        options ??= new UsageIngestorOptions();
        var encoder = await UsageAvroEncoder.CreateAsync(registry, options.Topic, cancellationToken).ConfigureAwait(false);
        var producerConfig = new ProducerConfig(config.ToDictionary(kv => kv.Key, kv => kv.Value));
        producerConfig.EnableIdempotence ??= true;
        producerConfig.Acks ??= Acks.All;
        // Reports carry the error only: copying key, value or the persistence status back per record would cost
        // throughput (one more native call per report for the status) for nothing.
        producerConfig.DeliveryReportFields ??= "none";
        var capacity = Math.Min(options.Capacity, producerConfig.QueueBufferingMaxMessages ?? 100_000);
        var logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<UsageIngestor>();
        // Delivery reports are served by the producing threads themselves (every 64 records) instead of Confluent's
        // background poll thread: librdkafka mallocs each message and its headers on the producing thread and frees them
        // when the report is served, and freeing on another thread made both threads contend for the allocator's lock.
        // Only an explicit "true" keeps Confluent's poll thread.
        var pollsInline = !string.Equals(producerConfig.Get(BackgroundPollKey), "true", StringComparison.OrdinalIgnoreCase);
        producerConfig.Set(BackgroundPollKey, pollsInline ? "false" : "true");

        var producer = new ProducerBuilder<byte[], byte[]>(producerConfig)
            .SetLogHandler((_, m) => logger.Log(m.Level <= SyslogLevel.Error ? LogLevel.Error : m.Level <= SyslogLevel.Warning ? LogLevel.Warning : LogLevel.Debug,
                "librdkafka {Facility}: {Message}", m.Facility, m.Message))
            .SetErrorHandler((_, e) => logger.Log(e.IsFatal ? LogLevel.Critical : LogLevel.Warning, "Usage producer error {Code}: {Reason}", e.Code, e.Reason))
            .Build();
        return new UsageIngestor(producer, ownsProducer: true, encoder, options, capacity, logger, pollsInline);
    }

    private const string BackgroundPollKey = "dotnet.producer.enable.background.poll";

    /// <summary>Most records queued and unacknowledged at once.</summary>
    public int Capacity { get; }

    /// <summary>Records queued and not yet acknowledged (or reserved by an open batch).</summary>
    public long InFlight => Interlocked.Read(ref _inFlight.Value);

    /// <summary>Records handed to the producer.</summary>
    public long Enqueued => Interlocked.Read(ref _enqueued.Value);

    /// <summary>Records acknowledged by Kafka.</summary>
    public long Delivered => Interlocked.Read(ref _delivered.Value);

    /// <summary>Records whose delivery failed.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    /// <summary>The encoder (and so the schema id) in use.</summary>
    public UsageAvroEncoder Encoder => _encoder;

    /// <summary>The topic written to.</summary>
    public string Topic => _options.Topic;

    /// <summary>
    /// Queues one record unless the ingestor is at capacity (then false: back off and retry, nothing was queued).
    /// Validates first: a record that cannot be encoded throws <see cref="ArgumentException"/> naming the field.
    /// </summary>
    public bool TryEnqueue(in UsageRecord record, UsageContext? context = null)
    {
        Validate(record);
        // Room first: a caller at capacity retries the same record, and encoding it on every refused try would spend
        // the CPU the producer needs to drain the queue.
        if (!TryReserve(1))
        {
            // Serving the reports that are ready frees their room; only then is the caller told to back off.
            if (_poller is null)
            {
                return false;
            }

            PollInline();
            if (!TryReserve(1))
            {
                return false;
            }
        }

        byte[] value;
        try
        {
            value = _encoder.Encode(record);
        }
        catch
        {
            Release(1);
            throw;
        }

        return TryProduceReserved(Encoding.UTF8.GetBytes(record.SubscriptionItemId), value, (context ?? _defaultContext).Headers);
    }

    /// <summary>Queues one record, waiting (asynchronously) while the ingestor is at capacity.</summary>
    public async ValueTask EnqueueAsync(UsageRecord record, UsageContext? context = null, CancellationToken cancellationToken = default)
    {
        Validate(record);
        var value = _encoder.Encode(record);
        var key = Encoding.UTF8.GetBytes(record.SubscriptionItemId);
        var headers = (context ?? _defaultContext).Headers;
        while (!TryProduceReserving(key, value, headers))
        {
            // Room comes back as delivery reports are served: first those ready now, on this thread; then a short
            // sleep, cheaper than a signal per delivery report.
            if (_poller is not null)
            {
                PollInline();
                if (TryProduceReserving(key, value, headers))
                {
                    return;
                }
            }

            await Task.Delay(1, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reserves room for <paramref name="count"/> records at once, so a batch is admitted whole or not at all (the HTTP
    /// endpoint answers 429 instead of storing half a request). False when there is no room now; a count above
    /// <see cref="Capacity"/> can never be admitted and throws.
    /// </summary>
    public bool TryBeginBatch(int count, UsageContext? context, out UsageBatch batch)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, Capacity);
        if (!TryReserve(count))
        {
            batch = null!;
            return false;
        }

        batch = new UsageBatch(this, count, context ?? _defaultContext);
        return true;
    }

    /// <summary>Waits until every queued record is acknowledged; throws naming the first error when any delivery failed since start.</summary>
    public Task FlushAsync(TimeSpan timeout, CancellationToken cancellationToken = default) => Task.Run(() =>
    {
        var deadline = Stopwatch.StartNew();
        while (_producer.Flush(TimeSpan.FromMilliseconds(200)) > 0 || InFlight > 0)
        {
            cancellationToken.ThrowIfCancellationRequested();
            if (deadline.Elapsed > timeout)
            {
                throw new TimeoutException($"{InFlight} usage record(s) still unacknowledged after {timeout.TotalSeconds:0} s.");
            }
        }

        if (Volatile.Read(ref _firstError) is { } error)
        {
            throw new KafkaException(error);
        }
    }, cancellationToken);

    /// <summary>
    /// The rules every usage record meets whichever way it enters (the NDJSON parser applies these and stricter ones per line):
    /// ids and meter present and not blank, quantity not negative. The encoder adds the decimal(18,6) check.
    /// </summary>
    /// <exception cref="ArgumentException">Naming the field at fault.</exception>
    public static void Validate(in UsageRecord record)
    {
        static void Required(string? value, string field)
        {
            if (string.IsNullOrWhiteSpace(value))
            {
                throw new ArgumentException($"{field} is required and must not be blank.", field);
            }
        }

        Required(record.UsageEventId, nameof(UsageRecord.UsageEventId));
        Required(record.SubscriptionItemId, nameof(UsageRecord.SubscriptionItemId));
        Required(record.CustomerId, nameof(UsageRecord.CustomerId));
        Required(record.Meter, nameof(UsageRecord.Meter));
        Required(record.Source, nameof(UsageRecord.Source));
        if (record.Quantity < 0)
        {
            throw new ArgumentException("Quantity must not be negative.", nameof(UsageRecord.Quantity));
        }
    }

    /// <summary>Produces an encoded record whose room is already reserved, waiting for librdkafka's queue if it is full.</summary>
    internal bool ProduceReserved(byte[] key, byte[] value, Headers headers, Action<DeliveryReport<byte[], byte[]>> onDelivery, out Error? error)
    {
        error = null;
        var waited = default(Stopwatch);
        var message = new Message<byte[], byte[]> { Key = key, Value = value, Headers = headers };
        while (true)
        {
            try
            {
                _producer.Produce(_target, message, onDelivery);
                Produced();
                return true;
            }
            catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
            {
                waited ??= Stopwatch.StartNew();
                if (waited.Elapsed > _options.QueueFullWait)
                {
                    error = ex.Error;
                    return false;
                }

                Thread.Sleep(1);
            }
            catch (ProduceException<byte[], byte[]> ex)
            {
                error = ex.Error;
                return false;
            }
        }
    }

    private bool TryProduceReserving(byte[] key, byte[] value, Headers headers) => TryReserve(1) && TryProduceReserved(key, value, headers);

    /// <summary>Produces a record whose room (1) is reserved; on a full librdkafka queue or an error the room is released.</summary>
    private bool TryProduceReserved(byte[] key, byte[] value, Headers headers)
    {
        try
        {
            _producer.Produce(_target, new Message<byte[], byte[]> { Key = key, Value = value, Headers = headers }, _onDelivery);
            Produced();
            return true;
        }
        catch (ProduceException<byte[], byte[]> ex) when (ex.Error.Code == ErrorCode.Local_QueueFull)
        {
            Release(1);
            return false;
        }
        catch
        {
            Release(1);
            throw;
        }
    }

    private void Produced()
    {
        if ((Interlocked.Increment(ref _enqueued.Value) & PollEveryMask) == 0 && _poller is not null)
        {
            PollInline();
        }
    }

    /// <summary>Serves the delivery reports that are ready on the calling thread (never blocks).</summary>
    private void PollInline()
    {
        Volatile.Write(ref _lastInlinePoll, Environment.TickCount64);
        _producer.Poll(TimeSpan.Zero);
    }

    /// <summary>
    /// The poller thread: while producing threads poll inline it only sleeps; when they have not polled for a couple of
    /// milliseconds (idle caller, batch waiting for its last reports, flush) it serves reports itself as they arrive.
    /// </summary>
    private void PollWhileIdle()
    {
        while (Volatile.Read(ref _disposed) == 0)
        {
            if (Environment.TickCount64 - Volatile.Read(ref _lastInlinePoll) < PollerIdleMs)
            {
                Thread.Sleep(1);
                continue;
            }

            try
            {
                _producer.Poll(TimeSpan.FromMilliseconds(10));
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (Exception ex)
            {
                // An exception must not end this thread (nor the process): without it, idle records would never be acknowledged.
                _log.LogError(ex, "Usage ingestor poll failed; retrying");
                Thread.Sleep(100);
            }
        }
    }

    private bool TryReserve(int count)
    {
        var current = Interlocked.Read(ref _inFlight.Value);
        while (true)
        {
            if (current + count > Capacity)
            {
                return false;
            }

            var seen = Interlocked.CompareExchange(ref _inFlight.Value, current + count, current);
            if (seen == current)
            {
                return true;
            }

            current = seen;
        }
    }

    internal void Release(int count) => Interlocked.Add(ref _inFlight.Value, -count);

    private void OnDelivery(DeliveryReport<byte[], byte[]> report) => Completed(report.Error);

    /// <summary>Accounts one finished delivery (success or failure) and frees its room.</summary>
    internal void Completed(Error error)
    {
        Release(1);
        if (!error.IsError)
        {
            Interlocked.Increment(ref _delivered.Value);
            return;
        }

        var failed = Interlocked.Increment(ref _failed);
        Interlocked.CompareExchange(ref _firstError, error, null);
        // Error codes only: a usage payload may carry customer data, and it is not needed to diagnose a broker problem.
        if (failed == 1 || failed % 10_000 == 0)
        {
            _log.LogError("Usage record delivery to {Topic} failed ({Failed} so far): {Code}: {Reason}",
                _options.Topic, failed.ToString(CultureInfo.InvariantCulture), error.Code, error.Reason);
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0 || !_ownsProducer)
        {
            return;
        }

        // Flush serves the remaining reports itself; the poller must be gone before the producer is.
        if (_poller is not null && _poller != Thread.CurrentThread)
        {
            _poller.Join();
        }

        var left = _producer.Flush(_options.QueueFullWait);
        if (left > 0)
        {
            _log.LogError("Usage ingestor disposed with {Left} record(s) unacknowledged by Kafka", left);
        }

        _producer.Dispose();
    }
}

/// <summary>What happened to the records of one <see cref="UsageBatch"/>.</summary>
/// <param name="Delivered">Records acknowledged by Kafka.</param>
/// <param name="Failed">Records that could not be queued or delivered.</param>
/// <param name="FirstError">The first failure, if any.</param>
public readonly record struct UsageBatchResult(int Delivered, int Failed, Error? FirstError);

/// <summary>
/// A group of records admitted together (room reserved up front). <see cref="Add"/> queues them; <see cref="CompleteAsync"/>
/// releases unused room and completes when Kafka has acknowledged (or failed) every one of them. Adding is meant for one
/// thread at a time (one request, one producer loop); delivery reports may arrive on any thread.
/// </summary>
public sealed class UsageBatch
{
    private readonly UsageIngestor _ingestor;
    private readonly UsageContext _context;
    private readonly Action<DeliveryReport<byte[], byte[]>> _onDelivery;
    private readonly TaskCompletionSource<UsageBatchResult> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly int _reserved;
    private int _added;
    private int _pending = 1; // the open batch itself holds one, so it cannot complete before CompleteAsync
    private int _delivered;
    private int _failed;
    private Error? _firstError;
    private int _sealed;

    internal UsageBatch(UsageIngestor ingestor, int reserved, UsageContext context)
    {
        _ingestor = ingestor;
        _reserved = reserved;
        _context = context;
        _onDelivery = OnDelivery;
    }

    /// <summary>Records added so far.</summary>
    public int Count => _added;

    /// <summary>Encodes and queues one record in the reserved room; throws when more records are added than reserved.</summary>
    /// <exception cref="ArgumentException">The record breaks <see cref="UsageIngestor.Validate"/> or does not fit the schema; nothing was queued.</exception>
    public void Add(in UsageRecord record)
    {
        UsageIngestor.Validate(record);
        AddEncoded(Encoding.UTF8.GetBytes(record.SubscriptionItemId), _ingestor.Encoder.Encode(record));
    }

    internal void AddEncoded(byte[] key, byte[] value)
    {
        if (Volatile.Read(ref _sealed) != 0 || _added >= _reserved)
        {
            throw new InvalidOperationException($"Batch is {(_sealed != 0 ? "complete" : $"full ({_reserved} reserved)")}.");
        }

        _added++;
        Interlocked.Increment(ref _pending);
        if (!_ingestor.ProduceReserved(key, value, _context.Headers, _onDelivery, out var error))
        {
            // Never reached librdkafka: no report will come, so account it here.
            Finish(error!);
        }
    }

    /// <summary>Ends the batch: frees the room of records never added and waits for every added record's delivery report.</summary>
    public Task<UsageBatchResult> CompleteAsync()
    {
        if (Interlocked.Exchange(ref _sealed, 1) == 0)
        {
            _ingestor.Release(_reserved - _added);
            Done();
        }

        return _done.Task;
    }

    private void OnDelivery(DeliveryReport<byte[], byte[]> report) => Finish(report.Error);

    private void Finish(Error error)
    {
        _ingestor.Completed(error);
        if (error.IsError)
        {
            Interlocked.Increment(ref _failed);
            Interlocked.CompareExchange(ref _firstError, error, null);
        }
        else
        {
            Interlocked.Increment(ref _delivered);
        }

        Done();
    }

    private void Done()
    {
        if (Interlocked.Decrement(ref _pending) == 0)
        {
            _done.TrySetResult(new UsageBatchResult(Volatile.Read(ref _delivered), Volatile.Read(ref _failed), Volatile.Read(ref _firstError)));
        }
    }
}

/// <summary>A counter alone on its cache line (64 bytes of padding before and after it).</summary>
[System.Runtime.InteropServices.StructLayout(System.Runtime.InteropServices.LayoutKind.Explicit, Size = 136)]
internal struct PaddedCounter
{
    [System.Runtime.InteropServices.FieldOffset(64)]
    public long Value;
}
