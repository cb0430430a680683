using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Erp;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Sinks.Journals;
using Streaming.Sinks.NetSuite;
using Streaming.Sinks.Posting;
using FinanceLineKind = Streaming.Contracts.Finance.FinanceLineKind;

namespace Streaming.Sinks.Tests.NetSuite;

/// <summary>
/// The NetSuite adapter as the <see cref="ErpPostingSink"/>'s ledger, on the embedded broker, against the fake NetSuite:
/// throttling (429) and 5xx (also after writing) absorbed by the adapter; an outage of several seconds (every request 503/429)
/// that pauses the sink's partitions, commits nothing past an unposted record and recovers by itself with every journal posted
/// once; a journal NetSuite refuses (400, unknown account) quarantined with NetSuite's reason while the rest of its batch is
/// reported POSTED and never re-posted.
/// </summary>
public sealed class NetSuiteSinkTests
{
    private static FinanceEvent Invoice(int i, string jurisdiction = "US-CA") => new()
    {
        eventId = $"fe_{i}", eventType = FinanceEventType.INVOICE_ISSUED, postingKey = Key(i), correlationId = $"corr-{i}",
        legalEntityId = "US01", customerId = $"C-{i % 3}", currency = "USD", totalAmount = Money.ToAvro(200m + i + 14.50m), taxAmount = Money.ToAvro(14.50m),
        effectiveDate = new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc), documentNumber = $"INV-{i}",
        lines =
        [
            new FinanceEventLine { lineId = $"in_{i}:l1", kind = FinanceLineKind.SERVICES, amount = Money.ToAvro(200m + i) },
            new FinanceEventLine { lineId = $"in_{i}:tax", kind = FinanceLineKind.TAX, amount = Money.ToAvro(14.50m), taxJurisdiction = jurisdiction },
        ],
        source = new SourceRef { system = "stripe", objectType = "invoice", objectId = $"in_{i}", eventId = $"evt_{i}" },
        createdAt = new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc),
    };

    private static string Key(int i) => $"invoice:in_{i}:issued";

    [Fact]
    public async Task The_sink_posts_every_event_once_to_NetSuite_through_429s_and_5xx()
    {
        const int events = 30;
        var ct = TestContext.Current.CancellationToken;
        var fake = new FakeNetSuiteOptions { MaxConcurrentRequests = 2, RetryAfterSeconds = null, FaultRate = 0.15, FaultAfterCommitRate = 0.1, Latency = TimeSpan.FromMilliseconds(10) };
        await using var h = await Harness.StartAsync(fake, o => { o.MaxAttempts = 15; o.MaxBackoffMs = 200; }, new ErpPostingSinkOptions { GroupId = "sink-netsuite", MaxBatchSize = 8 }, ct);
        await h.ProduceAsync(Enumerable.Range(1, events).Append(7).Select(i => Invoice(i)), ct); // invoice 7 is delivered twice
        h.StartSink(ct);

        Assert.Equal(events + 1, await h.WaitForCommittedAsync(events + 1, TimeSpan.FromSeconds(60), ct));
        await h.StopSinkAsync();

        Assert.True(h.Server.Throttled > 0 && h.Server.Faults > 0, $"expected injected 429s and 5xx, got {h.Server.Throttled} and {h.Server.Faults}");
        Assert.Equal((events, 1L, 0L), (h.Sink.PostedCount, h.Sink.DuplicateCount, h.Sink.QuarantinedCount));
        Assert.Equal(events, h.Server.Records.Count);
        foreach (var i in Enumerable.Range(1, events))
        {
            var record = h.Server.Records[NetSuiteExternalId.FromPostingKey(Key(i))];
            Assert.Equal([("1100", 214.50m + i, 0m), ("4200", 0m, 200m + i), ("2300-US-CA", 0m, 14.50m)], record.Lines);
        }
    }

    [Fact]
    public async Task NetSuite_down_for_seconds_pauses_the_sink_commits_nothing_unposted_and_recovers_with_every_journal_posted_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = new FakeNetSuiteOptions { MaxConcurrentRequests = 50, RetryAfterSeconds = 1, Latency = TimeSpan.FromMilliseconds(5) };
        var sinkOptions = new ErpPostingSinkOptions
        {
            GroupId = "sink-netsuite-outage", MaxBatchSize = 5, MaxBatchWait = TimeSpan.FromMilliseconds(100),
            InitialRetryBackoff = TimeSpan.FromMilliseconds(100), MaxRetryBackoff = TimeSpan.FromSeconds(1),
        };
        // The adapter gives up quickly (2 attempts), so the outage reaches the sink, which parks and retries the batches.
        await using var h = await Harness.StartAsync(fake, o => { o.MaxAttempts = 2; o.InitialBackoffMs = 20; o.MaxBackoffMs = 1000; }, sinkOptions, ct);
        await h.ProduceAsync(Enumerable.Range(1, 20).Select(i => Invoice(i)), ct);
        h.StartSink(ct);
        Assert.Equal(20, await h.WaitForCommittedAsync(20, TimeSpan.FromSeconds(30), ct));

        h.Server.Down = true;
        await h.ProduceAsync(Enumerable.Range(21, 20).Select(i => Invoice(i)), ct);
        var maxPaused = 0;
        var outageEnds = DateTime.UtcNow.AddSeconds(4);
        while (DateTime.UtcNow < outageEnds)
        {
            // Nothing can post while NetSuite is down, so nothing may be committed past what was posted before.
            Assert.Equal(20, (await h.CheckCommittedAsync()).Sum());
            maxPaused = Math.Max(maxPaused, h.Sink.PausedPartitionCount);
            await Task.Delay(100, ct);
        }

        Assert.True(maxPaused > 0, "the sink never paused a partition during the outage");
        Assert.True(h.Sink.RetryCount > 0 && h.Server.OutageResponses > 0, $"retries {h.Sink.RetryCount}, outage responses {h.Server.OutageResponses}");
        Assert.Equal(20, h.Server.Records.Count);

        h.Server.Down = false; // recovers by itself: no restart, no intervention
        Assert.Equal(40, await h.WaitForCommittedAsync(40, TimeSpan.FromSeconds(30), ct));
        await h.StopSinkAsync();

        Assert.Equal(0, h.Sink.PausedPartitionCount);
        Assert.Equal((40L, 0L, 0L), (h.Sink.PostedCount, h.Sink.DuplicateCount, h.Sink.QuarantinedCount));
        Assert.Equal(40, h.Server.Records.Count);
        Assert.All(h.Server.Records.Values, r => Assert.Equal(0, r.Updates));
        var results = h.Read<ErpPostingResult>(Topics.ErpPostings);
        Assert.Equal(Enumerable.Range(1, 40).Select(Key).Order(StringComparer.Ordinal), results.Select(r => r.postingKey).Order(StringComparer.Ordinal));
        Assert.All(results, r => Assert.Equal((Contracts.Erp.PostingStatus.POSTED, h.Server.Records[NetSuiteExternalId.FromPostingKey(r.postingKey)].InternalId),
            (r.status, r.erpDocumentId)));
        Assert.Empty(h.Read<QuarantineRecord>(Topics.Quarantine));
    }

    [Fact]
    public async Task A_journal_NetSuite_refuses_is_quarantined_with_its_reason_and_the_rest_of_its_batch_is_reported_posted()
    {
        var ct = TestContext.Current.CancellationToken;
        // NetSuite knows the accounts of US-CA invoices; invoice 7 is taxed in US-NY, whose account 2300-US-NY does not exist there.
        var fake = new FakeNetSuiteOptions { MaxConcurrentRequests = 50, Latency = TimeSpan.FromMilliseconds(5), Accounts = new HashSet<string>(["1100", "4200", "2300-US-CA"]) };
        await using var h = await Harness.StartAsync(fake, _ => { }, new ErpPostingSinkOptions { GroupId = "sink-netsuite-reject", MaxBatchSize = 10 }, ct);
        await h.ProduceAsync(Enumerable.Range(1, 20).Select(i => Invoice(i, i == 7 ? "US-NY" : "US-CA")), ct);
        h.StartSink(ct);

        Assert.Equal(20, await h.WaitForCommittedAsync(20, TimeSpan.FromSeconds(30), ct));
        await h.StopSinkAsync();

        Assert.Equal((19L, 0L, 1L), (h.Sink.PostedCount, h.Sink.DuplicateCount, h.Sink.QuarantinedCount));
        Assert.Equal(19, h.Server.Records.Count);
        Assert.DoesNotContain(NetSuiteExternalId.FromPostingKey(Key(7)), h.Server.Records.Keys);
        // Each journal was sent once: the rejected one is not retried, the others of its batch are not re-posted.
        foreach (var i in Enumerable.Range(1, 20))
        {
            var requests = h.Server.RequestLog.Where(r => r.ExternalId == NetSuiteExternalId.FromPostingKey(Key(i))).Select(r => (r.Method, r.Status)).ToList();
            Assert.Equal([("GET", 404), ("PUT", i == 7 ? 400 : 204)], requests);
        }

        var q = Assert.Single(h.Read<QuarantineRecord>(Topics.Quarantine));
        var (partition, offset) = h.Produced.Single(p => p.Value.PostingKey == Key(7)).Key;
        Assert.Equal((Key(7), "INVALID_KEY_OR_REF", partition, offset), (q.postingKey, q.reasonCode, q.sourcePartition, q.sourceOffset));
        Assert.Contains("NetSuite answered 400 INVALID_KEY_OR_REF", q.reasonDetail, StringComparison.Ordinal);
        Assert.Contains("2300-US-NY", q.reasonDetail, StringComparison.Ordinal);
        Assert.Equal(("400", "INVALID_KEY_OR_REF"), (q.businessContext["erp_http_status"], q.businessContext["erp_error_code"]));
        Assert.StartsWith("NetSuite ", q.businessContext["ledger"], StringComparison.Ordinal);
        Assert.Equal(h.Produced[(partition, offset)].Value, q.originalValue);

        var results = h.Read<ErpPostingResult>(Topics.ErpPostings);
        Assert.Equal(Enumerable.Range(1, 20).Where(i => i != 7).Select(Key).Order(StringComparer.Ordinal), results.Select(r => r.postingKey).Order(StringComparer.Ordinal));
        Assert.All(results, r => Assert.Equal(Contracts.Erp.PostingStatus.POSTED, r.status));
    }

    /// <summary>Embedded broker and registry, the fake NetSuite, the adapter and the sink; checks the commit invariant on every look.</summary>
    private sealed class Harness : IAsyncDisposable
    {
        private const int Partitions = 3;

        private SinkTestStack _stack = null!;
        private HttpClient _http = null!;
        private NetSuiteLedger _ledger = null!;
        private ErpPostingSinkOptions _sinkOptions = null!;
        private CancellationTokenSource? _stop;
        private Task? _run;

        public FakeNetSuiteServer Server { get; private set; } = null!;
        public ErpPostingSink Sink { get; private set; } = null!;

        /// <summary>(partition, offset) → posting key and the exact bytes produced.</summary>
        public Dictionary<(int Partition, long Offset), (string PostingKey, byte[] Value)> Produced { get; } = [];

        public static async Task<Harness> StartAsync(FakeNetSuiteOptions fake, Action<NetSuiteOptions> tweak, ErpPostingSinkOptions sinkOptions, CancellationToken ct)
        {
            var h = new Harness { _sinkOptions = sinkOptions };
            h._stack = await SinkTestStack.StartAsync(Partitions, ct);
            h.Server = await FakeNetSuiteServer.StartAsync(fake, ct);
            h._http = new HttpClient();
            var options = new NetSuiteOptions
            {
                BaseUrl = h.Server.BaseUrl, AccountId = fake.AccountId, ConsumerKey = fake.ConsumerKey, ConsumerSecret = fake.ConsumerSecret,
                TokenId = fake.TokenId, TokenSecret = fake.TokenSecret, MaxConcurrency = 4, MaxAttempts = 6, InitialBackoffMs = 10, MaxBackoffMs = 200,
                RequestTimeoutSeconds = 10,
            };
            tweak(options);
            h._ledger = new NetSuiteLedger(options, h._http, NullLogger<NetSuiteLedger>.Instance);
            h.Sink = new ErpPostingSink(new ConsumerConfig { BootstrapServers = h._stack.Cluster.BootstrapServers }, h._stack.Producer, h._stack.Client, h._ledger,
                DefaultChartOfAccounts.Instance, sinkOptions, NullLogger<ErpPostingSink>.Instance);
            return h;
        }

        public async Task ProduceAsync(IEnumerable<FinanceEvent> events, CancellationToken ct)
        {
            foreach (var e in events)
            {
                var value = _stack.Events.SerializeValue(e, Topics.FinanceEvents);
                var delivered = await _stack.Producer.ProduceAsync(Topics.FinanceEvents, new Message<string, byte[]> { Key = e.customerId, Value = value }, ct);
                Produced[(delivered.Partition.Value, delivered.Offset.Value)] = (e.postingKey, value);
            }
        }

        public void StartSink(CancellationToken ct)
        {
            _stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var token = _stop.Token;
            _run = Task.Run(() => Sink.RunAsync(token), ct);
        }

        public async Task StopSinkAsync()
        {
            if (_stop is not null && _run is not null)
            {
                await _stop.CancelAsync();
                await _run;
            }
        }

        /// <summary>
        /// Committed offsets per partition, after checking the sink's promise: every record below a committed offset has its
        /// journal in NetSuite, or was quarantined because NetSuite refused it.
        /// </summary>
        public async Task<long[]> CheckCommittedAsync()
        {
            var committed = (await _stack.CommittedAsync(_sinkOptions.GroupId)).OrderBy(p => p.Key).Select(p => p.Value).ToArray();
            var records = Server.Records;
            var refused = Server.RequestLog.Where(r => r.Status == 400).Select(r => r.ExternalId).ToHashSet(StringComparer.Ordinal);
            foreach (var ((partition, offset), (key, _)) in Produced.Where(p => p.Key.Offset < committed[p.Key.Partition]))
            {
                var externalId = NetSuiteExternalId.FromPostingKey(key);
                Assert.True(records.ContainsKey(externalId) || refused.Contains(externalId),
                    $"offset {committed[partition]} committed on partition {partition}, past {key} at offset {offset}, which NetSuite does not have");
            }

            return committed;
        }

        public async Task<long> WaitForCommittedAsync(long expected, TimeSpan timeout, CancellationToken ct)
        {
            var deadline = DateTime.UtcNow + timeout;
            long committed = 0;
            while (DateTime.UtcNow < deadline && _run is { IsCompleted: false })
            {
                committed = (await CheckCommittedAsync()).Sum();
                if (committed >= expected)
                {
                    break;
                }

                await Task.Delay(100, ct);
            }

            if (_run is { IsFaulted: true })
            {
                await _run; // surfaces the sink's failure
            }

            return committed;
        }

        public List<T> Read<T>(string topic)
            where T : class, Avro.Specific.ISpecificRecord => _stack.Read<T>(topic);

        public async ValueTask DisposeAsync()
        {
            await StopSinkAsync();
            _stop?.Dispose();
            await _ledger.DisposeAsync();
            _http.Dispose();
            await Server.DisposeAsync();
            await _stack.DisposeAsync();
        }
    }
}
