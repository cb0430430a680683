using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Prometheus;
using Streaming.Contracts;
using Streaming.Contracts.Erp;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using PostingStatus = Streaming.Sinks.Ledger.PostingStatus;

namespace Streaming.Sinks.Posting;

/// <summary>Settings of the posting sink.</summary>
public sealed record ErpPostingSinkOptions
{
    /// <summary>Consumer group.</summary>
    public string GroupId { get; init; } = "streaming-sink-erp-posting";

    /// <summary>Most records written in one ledger transaction.</summary>
    public int MaxBatchSize { get; init; } = 500;

    /// <summary>Longest a partial batch waits before it is written.</summary>
    public TimeSpan MaxBatchWait { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>First wait after a transient ledger error; doubles per failed attempt (with ±20 % jitter).</summary>
    public TimeSpan InitialRetryBackoff { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>Longest wait between two attempts of the same batch.</summary>
    public TimeSpan MaxRetryBackoff { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>After a multi-partition batch failed transiently, the longest the sink spends retrying it partition by partition
    /// (to pause only the affected ones) before parking the untried rest; keeps polling well within <c>max.poll.interval.ms</c>.</summary>
    public TimeSpan MaxFailureProbing { get; init; } = TimeSpan.FromSeconds(30);
}

/// <summary>
/// Consumes <c>finance.events.v1</c>, builds balanced journals and posts them to the ledger in batches: one ledger
/// transaction per batch, then posting results to <c>erp.postings.v1</c> and rejects to <c>ops.quarantine.v1</c>
/// (awaiting delivery), and only then the offsets are committed. Pipelined: batch k+1 is read, decoded and built while batch
/// k is written and batch k-1's results are acknowledged and its offsets committed; ledger writes stay one at a time and
/// commits stay in batch order (see docs/sink.md). A crash anywhere re-reads
/// uncommitted records, and the ledger's unique posting key turns them into duplicates, never second postings.
/// </summary>
public sealed class ErpPostingSink
{
    private static readonly Counter Posted = Metrics.CreateCounter("streaming_sink_journals_posted_total", "Journals newly posted to the ledger.");
    private static readonly Counter Duplicates = Metrics.CreateCounter("streaming_sink_journals_duplicate_total", "Redelivered facts whose journal was already posted.");
    private static readonly Counter Quarantined = Metrics.CreateCounter("streaming_sink_quarantined_total", "Facts sent to quarantine.", "reason");
    private static readonly Counter DeadLettered = Metrics.CreateCounter("streaming_sink_dead_lettered_total", "Undeserializable records sent to the DLQ.");
    private static readonly Counter Retries = Metrics.CreateCounter("streaming_sink_transient_retries_total", "Partition slices parked for retry after a transient ledger failure (per partition and attempt).");

    private readonly ConsumerConfig _consumerConfig;
    private readonly IProducer<string, byte[]> _producer;
    private readonly ILedger _ledger;
    private readonly IChartOfAccountsProvider _charts;
    private readonly AvroWireCodec<FinanceEvent> _events;
    private readonly AvroWireCodec<ErpPostingResult> _results;
    private readonly AvroWireCodec<QuarantineRecord> _quarantine;
    private readonly AvroWireCodec<DeadLetterRecord> _deadLetters;
    private readonly ErpPostingSinkOptions _options;
    private readonly ILogger _logger;

    /// <summary>Creates the sink; <paramref name="producer"/> is shared and not disposed here. Each batch is built with the chart
    /// <paramref name="charts"/> holds when the batch starts (a fixed chart such as <see cref="DefaultChartOfAccounts"/> is its own provider).</summary>
    public ErpPostingSink(ConsumerConfig consumerConfig, IProducer<string, byte[]> producer, ISchemaRegistryClient registry, ILedger ledger,
        IChartOfAccountsProvider charts, ErpPostingSinkOptions options, ILogger<ErpPostingSink> logger)
    {
        ArgumentNullException.ThrowIfNull(consumerConfig);
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _consumerConfig = new ConsumerConfig(new Dictionary<string, string>(consumerConfig))
        {
            GroupId = options.GroupId,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            IsolationLevel = IsolationLevel.ReadCommitted,
        };
        _producer = producer;
        _ledger = ledger;
        _charts = charts ?? throw new ArgumentNullException(nameof(charts));
        _events = new AvroWireCodec<FinanceEvent>(registry);
        _results = new AvroWireCodec<ErpPostingResult>(registry);
        _quarantine = new AvroWireCodec<QuarantineRecord>(registry);
        _deadLetters = new AvroWireCodec<DeadLetterRecord>(registry);
        _logger = logger;
    }

    /// <summary>Journals posted by this instance.</summary>
    public long PostedCount => Interlocked.Read(ref _posted);

    /// <summary>Facts this instance found already posted (redelivery, replay): nothing written.</summary>
    public long DuplicateCount => Interlocked.Read(ref _duplicates);

    /// <summary>Facts this instance sent to quarantine.</summary>
    public long QuarantinedCount => Interlocked.Read(ref _quarantined);

    private long _posted;
    private long _quarantined;
    private long _duplicates;
    private long _deadLettered;

    /// <summary>Records this instance sent to the DLQ (undeserializable, tombstones).</summary>
    public long DeadLetteredCount => Interlocked.Read(ref _deadLettered);

    /// <summary>Partitions currently paused because their records wait for a transient ledger error to clear.</summary>
    public int PausedPartitionCount => Volatile.Read(ref _pausedCount);

    /// <summary>Times a partition's records were parked after a transient ledger failure (one per partition and attempt).</summary>
    public long RetryCount => Interlocked.Read(ref _retries);

    private int _pausedCount;
    private long _retries;

    /// <summary>
    /// Runs until cancelled. A transient ledger error (see <see cref="LedgerErrors"/>) parks the failed records, pauses only
    /// their partitions and retries them with exponential backoff while the other partitions keep flowing; nothing is committed
    /// past a record that is not posted or quarantined. A journal the ledger rejects for good goes to quarantine. Any other
    /// error escapes (nothing committed for the batch) so the host stops and is restarted.
    /// </summary>
    /// <remarks>
    /// The consuming loop runs on a thread of its own: <c>Consume</c> blocks while it waits for records, and a blocked thread-pool thread
    /// would delay the ledger write's I/O continuations and the result publishing, which run on the pool.
    /// </remarks>
    public Task RunAsync(CancellationToken stoppingToken)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var thread = new Thread(() =>
        {
            try
            {
                Run(stoppingToken);
                done.SetResult();
            }
            catch (Exception ex)
            {
                done.SetException(ex);
            }
        })
        {
            IsBackground = true,
            Name = "erp-posting-sink",
        };
        thread.Start();
        return done.Task;
    }

    /// <summary>The consuming loop of <see cref="RunAsync"/>, on its own thread: it blocks on the batch's tasks instead of awaiting them.</summary>
    private void Run(CancellationToken stoppingToken)
    {
        var batch = new List<ConsumeResult<string, byte[]>>(_options.MaxBatchSize);
        var parked = new Dictionary<TopicPartition, Parked>();
        var assigned = new HashSet<TopicPartition>();
        var resumeWhenAssigned = new HashSet<TopicPartition>();
        InFlight? older = null; // batch k-1: ledger committed, its results' deliveries awaited (and its offsets committed) after batch k+1's write starts
        InFlight? inFlight = null; // batch k, between its ledger commit and becoming the older one
        Writing? writing = null;
        using var consumer = new ConsumerBuilder<string, byte[]>(_consumerConfig)
            .SetErrorHandler((_, e) =>
            {
                if (e.IsFatal)
                {
                    _logger.LogCritical("Fatal consumer error {Code}: {Reason}", e.Code, e.Reason);
                }
                else
                {
                    _logger.LogWarning("Consumer error {Code}: {Reason}", e.Code, e.Reason);
                }
            })
            .SetPartitionsAssignedHandler((_, partitions) =>
            {
                assigned.UnionWith(partitions);
            })
            .SetPartitionsRevokedHandler((_, partitions) => Revoke(partitions.Select(p => p.TopicPartition)))
            .SetPartitionsLostHandler((_, partitions) => Revoke(partitions.Select(p => p.TopicPartition)))
            .Build();

        // Called inside Consume (this thread). Records of a revoked partition are dropped unposted and never committed here:
        // the partition's next owner reads them again from the last committed offset.
        void Revoke(IEnumerable<TopicPartition> partitions)
        {
            var revoked = partitions.ToHashSet();
            assigned.ExceptWith(revoked);
            batch.RemoveAll(r => revoked.Contains(r.TopicPartition));
            foreach (var tp in revoked)
            {
                if (parked.Remove(tp))
                {
                    resumeWhenAssigned.Add(tp);
                }
            }

            Volatile.Write(ref _pausedCount, PausedCount(parked, assigned, writing?.Attempts, older?.Attempts, inFlight?.Attempts));
            _logger.LogInformation("Partitions revoked: {Partitions}", string.Join(", ", revoked));
        }

        consumer.Subscribe(Topics.FinanceEvents);
        _logger.LogInformation("ERP posting sink consuming {Topic} as group {Group}; ledger at {Ledger}", Topics.FinanceEvents, _options.GroupId, _ledger.Location);
        try
        {
            while (!stoppingToken.IsCancellationRequested)
            {
                batch.Clear();
                var deadline = DateTime.UtcNow + _options.MaxBatchWait;
                if (parked.Count > 0)
                {
                    var due = parked.Values.Min(p => p.NextAttempt);
                    deadline = due < deadline ? due : deadline;
                }

                while (batch.Count < _options.MaxBatchSize)
                {
                    var remaining = deadline - DateTime.UtcNow;
                    if (remaining <= TimeSpan.Zero)
                    {
                        break;
                    }

                    ConsumeResult<string, byte[]>? result;
                    try
                    {
                        result = consumer.Consume(remaining);
                    }
                    catch (ConsumeException ex) when (!ex.Error.IsFatal)
                    {
                        _logger.LogWarning(ex, "Consume failed at {Coordinates}; retrying", ex.ConsumerRecord?.TopicPartitionOffset);
                        continue;
                    }

                    if (result is null || result.IsPartitionEOF)
                    {
                        if (batch.Count > 0)
                        {
                            break;
                        }

                        continue;
                    }

                    batch.Add(result);
                }

                ResumeReassigned(consumer, resumeWhenAssigned, assigned);

                // Defensive: a record of a parked partition must never overtake the parked ones (it would be committed past them).
                foreach (var late in batch.Where(r => parked.ContainsKey(r.TopicPartition)).ToList())
                {
                    parked[late.TopicPartition].Records.Add(late);
                    batch.Remove(late);
                }

                // Parked records whose backoff is over go first: their partitions are paused, so nothing newer from them is in the batch.
                // Not while the batch being written, or the one whose results are being delivered, holds newer records of the partition:
                // those join the parked ones when it completes.
                var now = DateTime.UtcNow;
                var retrying = parked.Where(p => p.Value.NextAttempt <= now && writing?.Partitions.Contains(p.Key) != true && older?.Partitions.Contains(p.Key) != true)
                    .Select(p => p.Value).ToList();
                foreach (var p in retrying)
                {
                    parked.Remove(p.Partition);
                }

                var work = retrying.SelectMany(p => p.Records).Concat(batch).ToList();
                var attempts = retrying.ToDictionary(p => p.Partition, p => p.Attempt);

                // Pipelined: batch k+1 is read, decoded and built while batch k is written to the ledger and batch k-1's results are
                // published and acknowledged. Ledger writes stay one at a time and in order, and a batch's offsets are committed only after
                // its ledger transaction and every delivery of its results, and after the batch before it.
                var prepared = Prepare(work);
                if (writing is not null)
                {
                    var written = writing;
                    writing = null;
                    Task.WhenAny(written.Ledger).GetAwaiter().GetResult(); // completed, failed or cancelled: CompleteWriteAsync observes which
                    if (!written.Ledger.IsCompletedSuccessfully && older is not null)
                    {
                        // A failed write may commit partition by partition (CompleteWriteAsync): the batch before it is committed first.
                        FinishAsync(consumer, older, parked, assigned, stoppingToken).GetAwaiter().GetResult();
                        older = null;
                    }

                    inFlight = CompleteWriteAsync(consumer, written, parked, assigned, stoppingToken).GetAwaiter().GetResult();
                    if (work.RemoveAll(r => WaitsBehindParked(r, parked)) > 0)
                    {
                        prepared = Prepare(work);
                    }
                }

                if (work.Count > 0)
                {
                    var toWrite = prepared;
                    writing = new Writing(toWrite, attempts, Task.Run(() => PostPreparedAsync(toWrite, stoppingToken), CancellationToken.None));
                }

                if (older is not null)
                {
                    // Batch k-1's acknowledgements (they had the time batch k took to read and write) and offsets, while batch k+1 is written.
                    FinishAsync(consumer, older, parked, assigned, stoppingToken).GetAwaiter().GetResult();
                    older = null;
                }

                older = inFlight;
                inFlight = null;

                Volatile.Write(ref _pausedCount, PausedCount(parked, assigned, writing?.Attempts, older?.Attempts, null));
            }
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Stopping is the normal end: a batch cut short was not committed and is read again by the next run.
        }
        finally
        {
            CommitOnStopAsync(consumer, [older, inFlight], writing, parked, assigned).GetAwaiter().GetResult();

            try
            {
                // Leave the group at once so partitions move to another instance without waiting for the session timeout.
                consumer.Close();
            }
            catch (KafkaException ex)
            {
                // Offsets are committed explicitly after each batch, so a failed leave loses nothing; it only means
                // the group notices this member's departure by its session timeout (e.g. stopped mid-join).
                _logger.LogWarning("Posting sink consumer did not leave the group cleanly: {Reason}", ex.Error.Reason);
            }
        }
    }

    private sealed record Parked(TopicPartition Partition, List<ConsumeResult<string, byte[]>> Records, int Attempt, DateTime NextAttempt);

    /// <summary>
    /// Partitions paused in the consumer: those parked, and those whose parked records are being retried in a batch still in
    /// flight (they are resumed only when that batch commits).
    /// </summary>
    private static int PausedCount(Dictionary<TopicPartition, Parked> parked, HashSet<TopicPartition> assigned, params Dictionary<TopicPartition, int>?[] retries)
    {
        var paused = new HashSet<TopicPartition>(parked.Keys);
        foreach (var attempts in retries)
        {
            if (attempts is not null)
            {
                paused.UnionWith(attempts.Keys.Where(assigned.Contains));
            }
        }

        return paused.Count;
    }

    private static void ResumeReassigned(IConsumer<string, byte[]> consumer, HashSet<TopicPartition> resumeWhenAssigned, HashSet<TopicPartition> assigned)
    {
        // A partition paused when it was revoked may come back to this member: it must not stay paused.
        var back = resumeWhenAssigned.Where(assigned.Contains).ToList();
        if (back.Count > 0)
        {
            consumer.Resume(back);
            resumeWhenAssigned.ExceptWith(back);
        }
    }

    /// <summary>A batch whose ledger transaction committed and whose results are being delivered; its offsets move once all are acknowledged.</summary>
    private sealed record InFlight(List<ConsumeResult<string, byte[]>> Work, Dictionary<TopicPartition, int> Attempts, Task Delivered)
    {
        public HashSet<TopicPartition> Partitions { get; } = Work.Select(r => r.TopicPartition).ToHashSet();
    }

    /// <summary>A prepared batch whose ledger write is running; <see cref="Ledger"/> ends with the task of its deliveries.</summary>
    private sealed record Writing(PreparedBatch Batch, Dictionary<TopicPartition, int> Attempts, Task<Task> Ledger)
    {
        public HashSet<TopicPartition> Partitions { get; } = Batch.Records.Select(r => r.TopicPartition).ToHashSet();
    }

    /// <summary>
    /// True (and the record appended behind them) when its partition has parked records: a record never overtakes a parked one, even
    /// when it was posted after them (it is posted again, as a duplicate, when the partition is retried).
    /// </summary>
    private static bool WaitsBehindParked(ConsumeResult<string, byte[]> record, Dictionary<TopicPartition, Parked> parked)
    {
        if (!parked.TryGetValue(record.TopicPartition, out var p))
        {
            return false;
        }

        p.Records.Add(record);
        return true;
    }

    /// <summary>Waits for the in-flight batch's deliveries, then commits its offsets; deliveries failing transiently park its records instead.</summary>
    private async Task FinishAsync(IConsumer<string, byte[]> consumer, InFlight inFlight, Dictionary<TopicPartition, Parked> parked, HashSet<TopicPartition> assigned,
        CancellationToken ct)
    {
        try
        {
            await inFlight.Delivered.WaitAsync(ct).ConfigureAwait(false);
        }
        catch (Exception ex) when (LedgerErrors.Classify(ex) == LedgerErrorKind.Transient && !ct.IsCancellationRequested)
        {
            // Posted, but not all results delivered: nothing is committed, and the records are posted again later (duplicates, results re-published).
            _logger.LogWarning("Publishing the results of a batch of {Count} records failed: {Type}: {Message}", inFlight.Work.Count, ex.GetType().Name, ex.Message);
            var owned = inFlight.Work.Where(r => assigned.Contains(r.TopicPartition)).ToList();
            if (owned.Count > 0)
            {
                Park(consumer, owned, inFlight.Attempts, parked, ex);
            }

            return;
        }

        inFlight.Work.RemoveAll(r => WaitsBehindParked(r, parked));
        Commit(consumer, inFlight.Work, assigned, inFlight.Attempts.Keys);
    }

    /// <summary>
    /// On stop: commits the batches still in flight, in order, if their ledger writes and deliveries finish within a short grace period;
    /// whatever is not committed is read again on the next start (and found already posted).
    /// </summary>
    private async Task CommitOnStopAsync(IConsumer<string, byte[]> consumer, InFlight?[] inFlights, Writing? writing, Dictionary<TopicPartition, Parked> parked,
        HashSet<TopicPartition> assigned)
    {
        var grace = TimeSpan.FromSeconds(10);
        try
        {
            foreach (var inFlight in inFlights)
            {
                if (inFlight is null)
                {
                    continue;
                }

                await inFlight.Delivered.WaitAsync(grace).ConfigureAwait(false);
                inFlight.Work.RemoveAll(r => WaitsBehindParked(r, parked));
                Commit(consumer, inFlight.Work, assigned, inFlight.Attempts.Keys);
            }

            if (writing is not null)
            {
                await (await writing.Ledger.WaitAsync(grace).ConfigureAwait(false)).WaitAsync(grace).ConfigureAwait(false);
                writing.Batch.Records.RemoveAll(r => WaitsBehindParked(r, parked));
                Commit(consumer, writing.Batch.Records, assigned, writing.Attempts.Keys);
            }
        }
        catch (OperationCanceledException)
        {
            // The stop cancelled a write in progress: nothing of it was committed, and it is read again by the next run.
            _logger.LogInformation("Stopped with a batch's ledger write cancelled; its records will be re-read");
        }
        catch (Exception ex)
        {
            // Stopping (possibly because of this very error): the uncommitted rest is re-read by the next run, and found already posted.
            _logger.LogWarning("Stopping with a batch not committed ({Type}: {Reason}); its records will be re-read", ex.GetType().Name, ex.Message);
        }
    }

    /// <summary>
    /// Waits for a batch's ledger write; returns it in flight (ledger committed, results on their way), or null when a transient ledger
    /// error was handled here: partitions retried one by one, committed or parked.
    /// </summary>
    private async Task<InFlight?> CompleteWriteAsync(IConsumer<string, byte[]> consumer, Writing writing, Dictionary<TopicPartition, Parked> parked,
        HashSet<TopicPartition> assigned, CancellationToken ct)
    {
        var work = writing.Batch.Records;
        var attempts = writing.Attempts;
        try
        {
            return new InFlight(work, attempts, await writing.Ledger.ConfigureAwait(false));
        }
        catch (Exception ex) when (LedgerErrors.Classify(ex) == LedgerErrorKind.Transient && !ct.IsCancellationRequested)
        {
            _logger.LogWarning("Transient ledger error on a batch of {Count} records: {Type}: {Message}", work.Count, ex.GetType().Name, ex.Message);
            work.RemoveAll(r => WaitsBehindParked(r, parked));
            if (work.Select(r => r.TopicPartition).Distinct().Count() <= 1)
            {
                if (work.Count > 0)
                {
                    Park(consumer, work, attempts, parked, ex);
                }

                return null;
            }
        }

        // The batch spans partitions: find which ones are affected, so only those pause and the rest moves on. Partitions that
        // have not failed before go first. The probing is time-boxed (a database that is down may take its whole connect timeout per
        // attempt, and the consumer must poll again well within max.poll.interval.ms): what is left untried is parked too.
        var probing = System.Diagnostics.Stopwatch.StartNew();
        foreach (var group in work.GroupBy(r => r.TopicPartition).OrderBy(g => attempts.GetValueOrDefault(g.Key)).ToList())
        {
            var records = group.ToList();
            if (probing.Elapsed > _options.MaxFailureProbing)
            {
                Park(consumer, records, attempts, parked, new LedgerTransientException($"not tried: probing partitions took longer than {_options.MaxFailureProbing}"));
                continue;
            }

            try
            {
                await (await PostPreparedAsync(Prepare(records), ct).ConfigureAwait(false)).WaitAsync(ct).ConfigureAwait(false);
                Commit(consumer, records, assigned, attempts.Keys);
            }
            catch (Exception ex) when (LedgerErrors.Classify(ex) == LedgerErrorKind.Transient && !ct.IsCancellationRequested)
            {
                Park(consumer, records, attempts, parked, ex);
            }
        }

        return null;
    }

    private void Park(IConsumer<string, byte[]> consumer, List<ConsumeResult<string, byte[]>> records, Dictionary<TopicPartition, int> attempts,
        Dictionary<TopicPartition, Parked> parked, Exception error)
    {
        foreach (var group in records.GroupBy(r => r.TopicPartition))
        {
            var attempt = attempts.GetValueOrDefault(group.Key) + 1;
            var backoff = Backoff(attempt, (error as LedgerTransientException)?.RetryAfter
                ?? (error.InnerException as LedgerTransientException)?.RetryAfter);
            if (parked.TryGetValue(group.Key, out var earlier))
            {
                // Already parked (a batch posted while its predecessor's results were failing): behind the earlier records, same schedule.
                earlier.Records.AddRange(group);
                continue;
            }

            parked[group.Key] = new Parked(group.Key, group.ToList(), attempt, DateTime.UtcNow + backoff);
            Interlocked.Increment(ref _retries);
            Retries.Inc();
            if (attempt == 1)
            {
                consumer.Pause([group.Key]);
            }

            _logger.LogWarning("Partition {Partition} paused at offset {Offset} (attempt {Attempt}, next in {Backoff} ms): {Reason}",
                group.Key, group.First().Offset, attempt, (long)backoff.TotalMilliseconds, error.Message);
        }
    }

    private TimeSpan Backoff(int attempt, TimeSpan? retryAfter)
    {
        var exponential = _options.InitialRetryBackoff.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 20));
        var capped = Math.Min(exponential, _options.MaxRetryBackoff.TotalMilliseconds) * (0.8 + (Random.Shared.NextDouble() * 0.4));
        var wait = TimeSpan.FromMilliseconds(capped);
        return retryAfter is { } ra && ra > wait ? ra : wait;
    }

    private void Commit(IConsumer<string, byte[]> consumer, List<ConsumeResult<string, byte[]>> records, HashSet<TopicPartition> assigned,
        IEnumerable<TopicPartition> wereParked)
    {
        // Only partitions this member still owns: a revoked partition's records are the next owner's to commit.
        var offsets = records.Where(r => assigned.Contains(r.TopicPartition)).GroupBy(r => r.TopicPartition)
            .Select(g => new TopicPartitionOffset(g.Key, g.Max(r => r.Offset.Value) + 1)).ToList();
        if (offsets.Count > 0)
        {
            try
            {
                // Only now, with the ledger committed and results delivered, may the offsets move.
                consumer.Commit(offsets);
            }
            catch (KafkaException ex) when (!ex.Error.IsFatal)
            {
                // Everything in the batch is posted: a lost commit only means those records are read again and found duplicate.
                _logger.LogWarning("Offset commit failed ({Reason}); the records will be re-read and found already posted", ex.Error.Reason);
            }
        }

        var resume = records.Select(r => r.TopicPartition).Distinct().Where(tp => assigned.Contains(tp) && wereParked.Contains(tp)).ToList();
        if (resume.Count > 0)
        {
            consumer.Resume(resume);
            _logger.LogInformation("Partitions resumed after retry: {Partitions}", string.Join(", ", resume));
        }
    }

    /// <summary>The records of a batch, decoded and, except voids (built at posting time, against the ledger), built into journals.</summary>
    private sealed class PreparedBatch(List<ConsumeResult<string, byte[]>> records, JournalBuilder builder)
    {
        public List<ConsumeResult<string, byte[]>> Records { get; } = records;

        /// <summary>The batch's journal builder: GL mappings as they were when the batch was prepared, also for its voids built at posting time.</summary>
        public JournalBuilder Builder { get; } = builder;

        public List<PreparedFact> Facts { get; } = [];

        /// <summary>Dead letters and quarantine records found while preparing; published with the batch's results.</summary>
        public List<Outgoing> Rejects { get; } = [];
    }

    private sealed record PreparedFact(ConsumeResult<string, byte[]> Record, FinanceEvent Event, FinanceFact Fact, Journal? Journal, string? IssuedKey);

    /// <summary>A record to publish; <paramref name="QuarantineReason"/> is set for quarantine records (metrics).</summary>
    private sealed record Outgoing(string Topic, Message<string, byte[]> Message, string? QuarantineReason = null);

    /// <summary>Decodes and builds a batch's journals: pure work, done while the previous batch is still in flight.</summary>
    private PreparedBatch Prepare(List<ConsumeResult<string, byte[]>> records)
    {
        var batch = new PreparedBatch(records, new JournalBuilder(_charts.Current)); // GL mappings as they are now, one chart for the whole batch
        foreach (var record in records)
        {
            FinanceEvent? fe;
            try
            {
                fe = record.Message.Value is null ? null : _events.DeserializeValue(record.Message.Value, record.Topic);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                batch.Rejects.Add(new Outgoing(Topics.DeadLetters, DeadLetter(record, ex)));
                continue;
            }

            if (fe is null)
            {
                // A tombstone carries no fact; it must not stop the partition, and it must not vanish either.
                batch.Rejects.Add(new Outgoing(Topics.DeadLetters,
                    DeadLetter(record, new InvalidDataException($"{record.Topic} carries finance events; a null value (tombstone) at {record.TopicPartitionOffset} is not one."))));
                continue;
            }

            try
            {
                var fact = FinanceFactMapper.ToFact(fe, record.Topic, record.Partition.Value, record.Offset.Value);
                batch.Facts.Add(fact.Kind == FinanceEventKind.InvoiceVoided && JournalBuilder.IssuedKeyOf(fact.PostingKey) is { } issuedKey
                    ? new PreparedFact(record, fe, fact, null, issuedKey)
                    : new PreparedFact(record, fe, fact, batch.Builder.Build(fact), null));
            }
            catch (Exception ex) when (Rejection(record, fe, ex) is { } rejection)
            {
                batch.Rejects.Add(rejection);
            }
        }

        return batch;
    }

    /// <summary>The quarantine record for a fact the builder refuses (or the mapper cannot read); null for any other error.</summary>
    private Outgoing? Rejection(ConsumeResult<string, byte[]> record, FinanceEvent fe, Exception ex) => ex switch
    {
        JournalRejectedException r => Quarantine(record, fe, r.ReasonCode, r.Message, r.Imbalance),
        // A fact the mapper cannot read (out-of-range amount, unknown enum, missing field) is a permanent
        // error of that record: quarantine it with the reason and keep the partition moving.
        ArgumentException or OverflowException or InvalidOperationException or FormatException
            => Quarantine(record, fe, "INVALID_FACT", $"{fe.postingKey}: {ex.GetType().Name}: {ex.Message}", 0m),
        _ => null,
    };

    private Outgoing Quarantine(ConsumeResult<string, byte[]> record, FinanceEvent fe, string reason, string detail, decimal imbalance,
        IEnumerable<KeyValuePair<string, string>>? context = null)
        => new(Topics.Quarantine, QuarantineMessage(record, fe, reason, detail, imbalance, context), reason);

    /// <summary>
    /// Builds the voids, writes the batch's journals in one ledger transaction and starts publishing results, quarantine and dead
    /// letters; returns the task of their deliveries (awaited before the batch's offsets are committed).
    /// </summary>
    private async Task<Task> PostPreparedAsync(PreparedBatch batch, CancellationToken ct)
    {
        var outgoing = new List<Outgoing>(batch.Rejects);
        // Each journal travels with its event and the record it came from (for results, quarantine and tracing headers).
        var journals = new List<(Journal Journal, FinanceEvent Event, ConsumeResult<string, byte[]> Record)>(batch.Facts.Count);
        foreach (var f in batch.Facts)
        {
            if (f.Journal is { } built)
            {
                journals.Add((built, f.Event, f.Record));
                continue;
            }

            try
            {
                journals.Add((await VoidAsync(batch.Builder, f.Fact, f.IssuedKey!, journals.Select(j => j.Journal).LastOrDefault(j => j.PostingKey == f.IssuedKey), ct).ConfigureAwait(false),
                    f.Event, f.Record));
            }
            catch (Exception ex) when (Rejection(f.Record, f.Event, ex) is { } rejection)
            {
                outgoing.Add(rejection);
            }
        }

        void AddQuarantine(ConsumeResult<string, byte[]> record, FinanceEvent fe, string reason, string detail, decimal imbalance,
            IEnumerable<KeyValuePair<string, string>>? context = null) => outgoing.Add(Quarantine(record, fe, reason, detail, imbalance, context));

        IReadOnlyList<PostingOutcome> outcomes = [];
        while (journals.Count > 0)
        {
            try
            {
                outcomes = await _ledger.PostBatchAsync(journals.Select(j => j.Journal).ToList(), ct).ConfigureAwait(false);
                break;
            }
            catch (LedgerRejectedException ex)
            {
                // A permanent refusal of one journal (the ledger wrote none of the batch): quarantine it, post the others.
                var index = journals.FindIndex(j => j.Journal.PostingKey == ex.PostingKey);
                if (index < 0)
                {
                    throw new InvalidOperationException($"Ledger {_ledger.Location} rejected posting key {ex.PostingKey}, which is not in the batch.", ex);
                }

                var (_, rejectedEvent, rejectedRecord) = journals[index];
                journals.RemoveAt(index);
                AddQuarantine(rejectedRecord, rejectedEvent, ex.ReasonCode, ex.Message, 0m);
            }
            catch (LedgerPartiallyRejectedException ex)
            {
                // A ledger without a batch transaction (a REST ERP) refused some journals and posted the others: quarantine the
                // refused ones with the ledger's reason and context, and take the others' real outcomes as they are (no re-post).
                var rejections = ex.Rejections.GroupBy(r => r.PostingKey, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First(), StringComparer.Ordinal);
                if (rejections.Keys.FirstOrDefault(k => !journals.Exists(j => j.Journal.PostingKey == k)) is { } stranger)
                {
                    throw new InvalidOperationException($"Ledger {_ledger.Location} rejected posting key {stranger}, which is not in the batch.", ex);
                }

                foreach (var (journal, fe, record) in journals.Where(j => rejections.ContainsKey(j.Journal.PostingKey)))
                {
                    var rejection = rejections[journal.PostingKey];
                    AddQuarantine(record, fe, rejection.ReasonCode, $"{journal.PostingKey}: {rejection.Detail}", 0m,
                        rejection.Context.Append(new("ledger", _ledger.Location)));
                }

                journals.RemoveAll(j => rejections.ContainsKey(j.Journal.PostingKey));
                outcomes = ex.Outcomes;
                break;
            }
        }

        if (outcomes.Count != journals.Count)
        {
            throw new InvalidOperationException($"Ledger {_ledger.Location} returned {outcomes.Count} outcomes for {journals.Count} journals.");
        }

        // The ledger transaction is committed: the next batch's ledger write may start now. The results are built and published on
        // another thread meanwhile, in batch order (a batch's Produce calls come after the previous batch's).
        var before = _publishing;
        var publishing = Task.Run(async () =>
        {
            await before.ContinueWith(static _ => { }, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default).ConfigureAwait(false);
            return Publish(journals, outcomes, outgoing);
        }, CancellationToken.None);
        _publishing = publishing;
        return publishing.Unwrap();
    }

    /// <summary>The Produce calls of the last batch handed to <see cref="Publish"/> (not their deliveries): publishing keeps batch order.</summary>
    private Task _publishing = Task.CompletedTask;

    /// <summary>
    /// Counts a committed batch's outcomes, quarantines its conflicts and publishes its results with the batch's other outgoing records;
    /// returns the task of their deliveries.
    /// </summary>
    private Task Publish(List<(Journal Journal, FinanceEvent Event, ConsumeResult<string, byte[]> Record)> journals, IReadOnlyList<PostingOutcome> outcomes,
        List<Outgoing> outgoing)
    {
        long posted = 0, duplicates = 0;
        for (var i = 0; i < outcomes.Count; i++)
        {
            var (journal, fe, source) = journals[i];
            var outcome = outcomes[i];
            if (outcome.PostingKey != journal.PostingKey)
            {
                throw new InvalidOperationException($"Ledger {_ledger.Location} returned the outcome of {outcome.PostingKey} for journal {journal.PostingKey} (position {i}).");
            }

            switch (outcome.Status)
            {
                case PostingStatus.Posted:
                    posted++;
                    break;
                case PostingStatus.Duplicate:
                    duplicates++;
                    break;
                case PostingStatus.Conflict:
                    outgoing.Add(Quarantine(source, fe, "POSTING_KEY_CONFLICT",
                        $"{journal.PostingKey} was already posted as {outcome.ErpDocumentId} with different content (hash {outcome.ContentHash})", 0m));
                    continue;
            }

            // Re-published for duplicates too: erp.postings.v1 is compacted by posting key, so this is harmless
            // and repairs a result lost when a crash came between the ledger commit and the publish.
            var result = new ErpPostingResult
            {
                postingKey = journal.PostingKey,
                correlationId = journal.CorrelationId,
                erpDocumentId = outcome.ErpDocumentId,
                status = outcome.Status == PostingStatus.Posted ? Contracts.Erp.PostingStatus.POSTED : Contracts.Erp.PostingStatus.DUPLICATE,
                contentHash = outcome.ContentHash,
                legalEntityId = journal.LegalEntityId,
                currency = journal.Currency,
                totalDebits = Money.ToAvro(journal.TotalDebits),
                postedAt = outcome.PostedAt.UtcDateTime,
                ledgerName = _ledger.Location,
                rejectionReason = null,
            };
            outgoing.Add(new Outgoing(Topics.ErpPostings, new Message<string, byte[]>
            {
                Key = journal.PostingKey,
                Value = _results.SerializeValue(result, Topics.ErpPostings),
                Headers = TracingHeaders.Create(journal.CorrelationId, TracingHeaders.Get(source.Message.Headers, TracingHeaders.TraceParent)),
            }));
        }

        Posted.Inc(posted);
        Interlocked.Add(ref _posted, posted);
        Duplicates.Inc(duplicates);
        Interlocked.Add(ref _duplicates, duplicates);

        // Not awaited here: the caller commits the offsets only after every delivery is acknowledged, and meanwhile prepares the next
        // batch. Nothing cancels the deliveries, so a stop does not turn delivered results into cancelled ones (the wait for them is bounded).
        var deliveries = new Deliveries(outgoing.Count);
        foreach (var o in outgoing)
        {
            if (o.QuarantineReason is { } reason)
            {
                Quarantined.WithLabels(reason).Inc();
                Interlocked.Increment(ref _quarantined);
            }
            else if (o.Topic == Topics.DeadLetters)
            {
                DeadLettered.Inc();
                Interlocked.Increment(ref _deadLettered);
            }

            try
            {
                _producer.Produce(o.Topic, o.Message, deliveries.Report);
            }
            catch (Exception ex)
            {
                // Refused before it was queued (e.g. the local queue is full): as if its delivery had failed.
                deliveries.Failed(ex);
            }
        }

        return deliveries.Task;
    }

    /// <summary>
    /// The deliveries of one batch's outgoing records: one task for all of them, without a task per record. It completes when every
    /// record is acknowledged, or faults with the first failure (a <see cref="ProduceException{TKey,TValue}"/>, as
    /// <c>ProduceAsync</c> would throw) once every record has been answered.
    /// </summary>
    private sealed class Deliveries
    {
        private readonly TaskCompletionSource _done = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private int _pending;
        private Exception? _error;

        public Deliveries(int count)
        {
            _pending = count;
            if (count == 0)
            {
                _done.SetResult();
            }
        }

        public Task Task => _done.Task;

        /// <summary>The producer's delivery handler (called on its polling thread).</summary>
        public void Report(DeliveryReport<string, byte[]> report)
        {
            if (report.Error.IsError)
            {
                Failed(new ProduceException<string, byte[]>(report.Error, report));
                return;
            }

            Answered();
        }

        public void Failed(Exception error)
        {
            Interlocked.CompareExchange(ref _error, error, null);
            Answered();
        }

        private void Answered()
        {
            if (Interlocked.Decrement(ref _pending) != 0)
            {
                return;
            }

            if (Volatile.Read(ref _error) is { } error)
            {
                _done.SetException(error);
            }
            else
            {
                _done.SetResult();
            }
        }
    }

    /// <summary>
    /// A void mirrors the posted issue journal (found earlier in this batch or in the ledger). No posted issue means nothing to
    /// reverse: a permanent error (quarantine). A ledger that cannot read journals back gets the void built from its own lines.
    /// </summary>
    private async Task<Journal> VoidAsync(JournalBuilder builder, FinanceFact fact, string issuedKey, Journal? inBatch, CancellationToken ct)
    {
        Journal? issued = inBatch;
        if (issued is null)
        {
            try
            {
                issued = await _ledger.FindJournalAsync(issuedKey, ct).ConfigureAwait(false);
            }
            catch (NotSupportedException)
            {
                return builder.Build(fact);
            }
        }

        return issued is null
            ? throw new JournalRejectedException(fact.PostingKey, "VOID_WITHOUT_ISSUE", $"no posted journal {issuedKey} to reverse")
            : JournalBuilder.BuildVoid(fact, issued);
    }

    private Message<string, byte[]> QuarantineMessage(ConsumeResult<string, byte[]> record, FinanceEvent fe, string reason, string detail, decimal imbalance,
        IEnumerable<KeyValuePair<string, string>>? extraContext)
    {
        var context = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["customer"] = fe.customerId,
            ["amount"] = Money.ToDecimal(fe.totalAmount).ToString(CultureInfo.InvariantCulture),
            ["currency"] = fe.currency,
            ["legal_entity"] = fe.legalEntityId,
            ["document_number"] = fe.documentNumber ?? fe.source.objectId,
        };
        if (imbalance != 0m)
        {
            context["imbalance"] = imbalance.ToString(CultureInfo.InvariantCulture);
        }

        foreach (var (key, value) in extraContext ?? [])
        {
            context[key] = value;
        }

        var q = OpsRecords.Quarantine(Failed(record), reason, detail, [], _options.GroupId, fe.correlationId, fe.postingKey, context, DateTime.UtcNow);
        _logger.LogWarning("Quarantined {PostingKey} ({Reason}): {Detail}", fe.postingKey, reason, detail);
        return new Message<string, byte[]> { Key = fe.correlationId, Value = _quarantine.SerializeValue(q, Topics.Quarantine), Headers = record.Message.Headers };
    }

    private Message<string, byte[]> DeadLetter(ConsumeResult<string, byte[]> record, Exception ex)
    {
        _logger.LogError(ex, "Undeserializable record at {Coordinates} sent to {Dlq}", record.TopicPartitionOffset, Topics.DeadLetters);
        var d = OpsRecords.DeadLetter(Failed(record), record.Message.Timestamp.UtcDateTime, ex.GetType().FullName ?? ex.GetType().Name, ex.Message, _options.GroupId, DateTime.UtcNow);
        return new Message<string, byte[]> { Key = record.Message.Key ?? string.Empty, Value = _deadLetters.SerializeValue(d, Topics.DeadLetters), Headers = record.Message.Headers };
    }

    private static FailedRecord Failed(ConsumeResult<string, byte[]> record) => new(record.Topic, record.Partition.Value, record.Offset.Value,
        FailedRecord.KeyBytes(record.Message.Key), record.Message.Value, Streaming.Platform.Serialization.TracingHeaders.ToMap(record.Message.Headers));
}
