using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Posting;
using Streaming.Testing;

namespace Streaming.Sinks.Tests;

/// <summary>
/// Failure handling of the posting sink: a transient outage pauses only the affected partitions and commits nothing past
/// an unposted record; a permanent refusal is quarantined and the sink moves on; a PostgreSQL outage recovers by itself;
/// a second member joining mid-stream (partitions revoked mid-batch) neither loses nor duplicates a posting.
/// </summary>
public sealed class SinkFailureTests(PostgresFixture postgres)
{
    /// <summary>Wraps a ledger; fails (transiently or for good) on demand.</summary>
    private sealed class FaultyLedger(ILedger inner) : ILedger
    {
        public volatile string? DownForEntity;
        public volatile string? RejectKey;
        public int Failures;

        public string Location => "faulty:" + inner.Location;

        public Task MigrateAsync(CancellationToken cancellationToken) => inner.MigrateAsync(cancellationToken);

        public Task<IReadOnlyList<PostingOutcome>> PostBatchAsync(IReadOnlyList<Journal> journals, CancellationToken cancellationToken)
        {
            if (DownForEntity is { } entity && journals.Any(j => j.LegalEntityId == entity))
            {
                Interlocked.Increment(ref Failures);
                throw new LedgerTransientException($"ERP for {entity} answered 503", new HttpRequestException("503", null, System.Net.HttpStatusCode.ServiceUnavailable));
            }

            if (RejectKey is { } key && journals.Any(j => j.PostingKey == key))
            {
                throw new LedgerRejectedException(key, "UNKNOWN_ACCOUNT", "GL account 1000 is not open for this entity in the ERP");
            }

            return inner.PostBatchAsync(journals, cancellationToken);
        }

        public Task<IReadOnlyList<TrialBalanceRow>> TrialBalanceAsync(CancellationToken cancellationToken) => inner.TrialBalanceAsync(cancellationToken);

        public Task<long> CountJournalsAsync(CancellationToken cancellationToken) => inner.CountJournalsAsync(cancellationToken);

        public ValueTask DisposeAsync() => inner.DisposeAsync();
    }

    private static ErpPostingSinkOptions Options(string group) => new()
    {
        GroupId = group, MaxBatchSize = 50, MaxBatchWait = TimeSpan.FromMilliseconds(50),
        InitialRetryBackoff = TimeSpan.FromMilliseconds(50), MaxRetryBackoff = TimeSpan.FromMilliseconds(400),
    };

    private static ErpPostingSink Sink(SinkTestStack stack, ILedger ledger, string group) => new(
        new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers, SessionTimeoutMs = 6000, HeartbeatIntervalMs = 500 }, stack.Producer, stack.Client, ledger,
        DefaultChartOfAccounts.Instance, Options(group), NullLogger<ErpPostingSink>.Instance);

    [Fact]
    public async Task A_transient_outage_pauses_only_the_affected_partition_and_loses_nothing_when_it_heals()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(2, ct);
        for (var i = 0; i < 100; i++)
        {
            stack.Produce(0, SinkTestStack.Payment($"us{i}", "US01", "USD", 10m + i));
            stack.Produce(1, SinkTestStack.Payment($"de{i}", "DE01", "EUR", 20m + i, fee: 0.5m));
        }

        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        var ends = await stack.EndOffsetsAsync();
        await using var ledger = new FaultyLedger(await PostgresLedger.OpenAsync(await postgres.NewDatabaseAsync(), PostgresWriteMode.BatchedUpsert, ct)) { DownForEntity = "DE01" };
        var sink = Sink(stack, ledger, "failure-pause");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);

        // US01's partition runs to its end while DE01's stays paused at its first record, retried with backoff.
        var committed = await stack.WaitCommittedAsync("failure-pause", c => c.GetValueOrDefault(0) == ends[0] && sink.RetryCount >= 3, TimeSpan.FromSeconds(60), run, ct);
        Assert.Equal(ends[0], committed.GetValueOrDefault(0));
        Assert.Equal(0, committed.GetValueOrDefault(1));
        Assert.Equal(1, sink.PausedPartitionCount);
        Assert.Equal(100, await ledger.CountJournalsAsync(ct));

        ledger.DownForEntity = null;
        committed = await stack.WaitCommittedAsync("failure-pause", c => c.GetValueOrDefault(0) == ends[0] && c.GetValueOrDefault(1) == ends[1], TimeSpan.FromSeconds(60), run, ct);
        await stop.CancelAsync();
        await run;

        Assert.Equal(ends, committed);
        Assert.Equal(0, sink.PausedPartitionCount);
        Assert.Equal(200, await ledger.CountJournalsAsync(ct));
        Assert.True(sink.RetryCount >= 3, $"retries {sink.RetryCount}, ledger failures {ledger.Failures}");
        var balances = await ledger.TrialBalanceAsync(ct);
        Assert.All(balances.GroupBy(r => (r.LegalEntityId, r.Currency)), g => Assert.Equal(0m, g.Sum(r => r.Balance)));
    }

    [Fact]
    public async Task A_journal_the_ledger_refuses_for_good_is_quarantined_and_the_rest_is_posted()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(1, ct);
        for (var i = 0; i < 20; i++)
        {
            stack.Produce(0, SinkTestStack.Payment($"p{i}", "US01", "USD", 5m));
        }

        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        var ends = await stack.EndOffsetsAsync();
        var path = Path.Combine(Path.GetTempPath(), $"reject-{Guid.NewGuid():N}.db");
        await using var ledger = new FaultyLedger(await SqliteLedger.OpenAsync(path, ct)) { RejectKey = "payment:p7:applied" };
        var sink = Sink(stack, ledger, "failure-reject");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);
        var committed = await stack.WaitCommittedAsync("failure-reject", c => c.GetValueOrDefault(0) == ends[0], TimeSpan.FromSeconds(60), run, ct);
        await stop.CancelAsync();
        await run;

        Assert.Equal(ends, committed);
        Assert.Equal(19, await ledger.CountJournalsAsync(ct));
        var q = Assert.Single(stack.Read<QuarantineRecord>(Topics.Quarantine));
        Assert.Equal(("UNKNOWN_ACCOUNT", "payment:p7:applied", Topics.FinanceEvents), (q.reasonCode, q.postingKey, q.sourceTopic));
        Assert.NotNull(q.originalValue);
        Assert.Contains("1000", q.reasonDetail, StringComparison.Ordinal);
        File.Delete(path);
    }

    [Fact]
    public async Task PostgreSQL_going_down_mid_stream_is_waited_out_and_every_fact_is_posted_once()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(3, ct);
        await using var pg = await ThrowawayPostgres.StartAsync(durable: false, ct);
        var cs = await pg.CreateDatabaseAsync("outage", ct) + ";Timeout=3;Command Timeout=5";
        await using var ledger = await PostgresLedger.OpenAsync(cs, PostgresWriteMode.BatchedUpsert, ct);
        var sink = Sink(stack, ledger, "failure-pg");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);

        for (var i = 0; i < 300; i++)
        {
            stack.Produce(i % 3, SinkTestStack.Invoice($"in{i}", "US01", "USD", 100m, 50.25m + i, 8.13m, "US-CA"));
        }

        stack.Producer.Flush(TimeSpan.FromSeconds(20));
        await stack.WaitCommittedAsync("failure-pg", c => c.Values.Sum() > 0, TimeSpan.FromSeconds(30), run, ct);
        await pg.StopAsync(ct);
        for (var i = 300; i < 600; i++)
        {
            stack.Produce(i % 3, SinkTestStack.Invoice($"in{i}", "US01", "USD", 100m, 50.25m + i, 8.13m, "US-CA"));
        }

        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        var ends = await stack.EndOffsetsAsync();
        await stack.WaitCommittedAsync("failure-pg", _ => sink.RetryCount >= 2, TimeSpan.FromSeconds(30), run, ct);
        var during = await stack.CommittedAsync("failure-pg");
        Assert.True(during.Values.Sum() < 600, "nothing may be committed past records the ledger has not taken");
        await pg.RestartAsync(ct);

        var committed = await stack.WaitCommittedAsync("failure-pg", c => ends.All(e => c.GetValueOrDefault(e.Key) == e.Value), TimeSpan.FromSeconds(90), run, ct);
        await stop.CancelAsync();
        await run;

        Assert.Equal(ends, committed);
        Assert.Equal(600, await ledger.CountJournalsAsync(ct));
        Assert.True(sink.RetryCount >= 2);
        Assert.All((await ledger.TrialBalanceAsync(ct)).GroupBy(r => r.LegalEntityId), g => Assert.Equal(0m, g.Sum(r => r.Balance)));
    }

    [Fact]
    public async Task A_member_joining_mid_stream_revokes_partitions_without_losing_or_duplicating_a_posting()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(4, ct);
        for (var i = 0; i < 4000; i++)
        {
            stack.Produce(i % 4, SinkTestStack.Payment($"r{i}", i % 2 == 0 ? "US01" : "DE01", i % 2 == 0 ? "USD" : "EUR", 1m + (i % 97)));
        }

        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        var ends = await stack.EndOffsetsAsync();
        await using var ledger = await PostgresLedger.OpenAsync(await postgres.NewDatabaseAsync(), PostgresWriteMode.BatchedUpsert, ct);
        var first = Sink(stack, ledger, "failure-rebalance");
        var second = Sink(stack, ledger, "failure-rebalance");
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var runFirst = Task.Run(() => first.RunAsync(stop.Token), ct);
        await stack.WaitCommittedAsync("failure-rebalance", c => c.Values.Sum() > 200, TimeSpan.FromSeconds(30), runFirst, ct);
        var runSecond = Task.Run(() => second.RunAsync(stop.Token), ct);

        var committed = await stack.WaitCommittedAsync("failure-rebalance", c => ends.All(e => c.GetValueOrDefault(e.Key) == e.Value), TimeSpan.FromSeconds(90), runSecond, ct);
        await stop.CancelAsync();
        await Task.WhenAll(runFirst, runSecond);

        Assert.Equal(ends, committed);
        Assert.Equal(4000, await ledger.CountJournalsAsync(ct));
        Assert.Equal(4000, first.PostedCount + second.PostedCount);
    }

    [Fact]
    public async Task Results_that_cannot_be_delivered_hold_the_offsets_back_and_are_published_once_delivery_heals()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(2, ct);
        for (var i = 0; i < 100; i++)
        {
            stack.Produce(0, SinkTestStack.Payment($"us{i}", "US01", "USD", 10m + i));
            stack.Produce(1, SinkTestStack.Payment($"de{i}", "DE01", "EUR", 20m + i));
        }

        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        var ends = await stack.EndOffsetsAsync();
        var producer = FailingResultsProducer.Wrap(stack.Producer, ":de");
        var path = Path.Combine(Path.GetTempPath(), $"undelivered-{Guid.NewGuid():N}.db");
        await using var ledger = await SqliteLedger.OpenAsync(path, ct);
        var sink = new ErpPostingSink(new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers }, producer, stack.Client, ledger,
            DefaultChartOfAccounts.Instance, Options("failure-undelivered"), NullLogger<ErpPostingSink>.Instance);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);

        // DE01's journals are posted, but their results fail to deliver: its partition's offset stays at 0 while US01's runs to its end.
        var committed = await stack.WaitCommittedAsync("failure-undelivered", c => c.GetValueOrDefault(0) == ends[0] && sink.RetryCount >= 3, TimeSpan.FromSeconds(60), run, ct);
        Assert.Equal(ends[0], committed.GetValueOrDefault(0));
        Assert.Equal(0, committed.GetValueOrDefault(1));
        Assert.True(((FailingResultsProducer)(object)producer).Failed > 0);

        ((FailingResultsProducer)(object)producer).Failing = false;
        committed = await stack.WaitCommittedAsync("failure-undelivered", c => c.GetValueOrDefault(0) == ends[0] && c.GetValueOrDefault(1) == ends[1], TimeSpan.FromSeconds(60), run, ct);
        await stop.CancelAsync();
        await run;

        Assert.Equal(ends, committed);
        Assert.Equal(200, await ledger.CountJournalsAsync(ct));
        Assert.True(sink.DuplicateCount > 0, "the parked records were posted again and found already posted");
        var results = stack.ReadAll(Topics.ErpPostings).Select(v => new AvroSerdes<Contracts.Erp.ErpPostingResult>(stack.Client).DeserializeValue(v, Topics.ErpPostings)).ToList();
        Assert.Equal(200, results.Select(r => r.postingKey).Distinct().Count());
        Assert.All(results.GroupBy(r => r.postingKey), g => Assert.Single(g.Select(r => r.erpDocumentId).Distinct()));
        foreach (var f in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(f);
        }
    }
}

/// <summary>A producer that fails, with a non-fatal delivery error, the <c>erp.postings.v1</c> results whose key contains a marker while <see cref="Failing"/>
/// (through <c>ProduceAsync</c> or <c>Produce</c> with a delivery handler).</summary>
public class FailingResultsProducer : System.Reflection.DispatchProxy
{
    private IProducer<string, byte[]> _inner = null!;
    private string _marker = "";

    public volatile bool Failing = true;
    public int Failed;

    public static IProducer<string, byte[]> Wrap(IProducer<string, byte[]> inner, string marker)
    {
        var proxy = Create<IProducer<string, byte[]>, FailingResultsProducer>();
        var self = (FailingResultsProducer)(object)proxy;
        self._inner = inner;
        self._marker = marker;
        return proxy;
    }

    protected override object? Invoke(System.Reflection.MethodInfo? targetMethod, object?[]? args)
    {
        ArgumentNullException.ThrowIfNull(targetMethod);
        if (Failing && targetMethod.Name == nameof(IProducer<string, byte[]>.ProduceAsync) && args is [string topic, Message<string, byte[]> message, ..]
            && topic == Topics.ErpPostings && message.Key.Contains(_marker, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref Failed);
            return Task.FromException<DeliveryResult<string, byte[]>>(new ProduceException<string, byte[]>(new Error(ErrorCode.Local_MsgTimedOut),
                new DeliveryResult<string, byte[]> { Topic = topic, Message = message, Status = PersistenceStatus.NotPersisted }));
        }

        // The same failure through the callback form: the delivery handler gets the error report later, on another thread (as librdkafka's poll thread would).
        if (Failing && targetMethod.Name == nameof(IProducer<string, byte[]>.Produce) && args is [string t, Message<string, byte[]> m, Action<DeliveryReport<string, byte[]>> handler]
            && t == Topics.ErpPostings && m.Key.Contains(_marker, StringComparison.Ordinal))
        {
            Interlocked.Increment(ref Failed);
            var report = new DeliveryReport<string, byte[]> { Topic = t, Message = m, Status = PersistenceStatus.NotPersisted, Error = new Error(ErrorCode.Local_MsgTimedOut) };
            ThreadPool.QueueUserWorkItem(_ => handler(report));
            return null;
        }

        try
        {
            return targetMethod.Invoke(_inner, args);
        }
        catch (System.Reflection.TargetInvocationException ex) when (ex.InnerException is not null)
        {
            throw ex.InnerException;
        }
    }
}
