using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.NetSuite;

namespace Streaming.Sinks.Tests.NetSuite;

/// <summary>
/// The NetSuite REST adapter against <see cref="FakeNetSuiteServer"/>: every journal posted exactly once (one record per external
/// id, with the right lines) under injected 429s and 5xx, including 5xx after the write; re-posting finds duplicates; the
/// configured concurrency limit holds; <c>Retry-After</c> is waited for; 4xx validation errors are permanent and name the journal;
/// bad credentials and persistent 5xx are transient; a journal taken by a batch that then failed transiently is reported Posted on
/// the retry; the adapter's exceptions classify as the sink's transient / rejected errors (the sink itself: NetSuiteSinkTests).
/// </summary>
public sealed class NetSuiteLedgerTests
{
    private static readonly Dictionary<string, string> AccountIds = new(StringComparer.Ordinal)
    {
        ["1000"] = "101", ["1100"] = "111", ["2300-US-CA"] = "231", ["4200"] = "420", ["6100"] = "610",
    };

    private static readonly JournalBuilder Builder = new(DefaultChartOfAccounts.Instance);
    private static readonly DateTime Nov = new(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc);

    private static Journal Invoice(int i) => Builder.Build(new FinanceFact($"fe_in_{i}", FinanceEventKind.InvoiceIssued, $"invoice:in_{i}:issued", $"corr-{i}",
        "US01", "C-1", "USD", 100m + i + 7.25m, 7.25m, Nov, $"INV-{i}",
        [new FinanceLine($"in_{i}:l1", FinanceLineKind.Services, 100m + i), new FinanceLine($"in_{i}:tax", FinanceLineKind.Tax, 7.25m, TaxJurisdiction: "US-CA")],
        new SourceCoordinates("stripe", "invoice", $"in_{i}", $"evt_{i}")));

    private static Journal Payment(int i) => Builder.Build(new FinanceFact($"fe_pi_{i}", FinanceEventKind.PaymentApplied, $"payment:pi_{i}:applied", $"corr-{i}",
        "US01", "C-1", "USD", 50.10m + i, 0m, Nov, $"INV-{i}", [new FinanceLine($"pi_{i}:fee", FinanceLineKind.Fee, 1.53m)],
        new SourceCoordinates("stripe", "payment", $"pi_{i}", $"evtp_{i}")));

    private static NetSuiteLedger Ledger(FakeNetSuiteServer server, FakeNetSuiteOptions fake, HttpClient http, Action<NetSuiteOptions>? tweak = null)
    {
        var options = new NetSuiteOptions
        {
            BaseUrl = server.BaseUrl, AccountId = fake.AccountId, ConsumerKey = fake.ConsumerKey, ConsumerSecret = fake.ConsumerSecret,
            TokenId = fake.TokenId, TokenSecret = fake.TokenSecret, MaxConcurrency = 8, MaxAttempts = 12, InitialBackoffMs = 10, MaxBackoffMs = 200,
            RequestTimeoutSeconds = 10, Subsidiaries = new() { ["US01"] = "1" }, Currencies = new() { ["USD"] = "2" }, Accounts = new(AccountIds),
        };
        tweak?.Invoke(options);
        return new NetSuiteLedger(options, http, NullLogger<NetSuiteLedger>.Instance);
    }

    private static FakeNetSuiteOptions Fake(int maxConcurrent = 3, int? retryAfter = null, double faults = 0, double faultsAfterCommit = 0, int latencyMs = 20) => new()
    {
        MaxConcurrentRequests = maxConcurrent, RetryAfterSeconds = retryAfter, FaultRate = faults, FaultAfterCommitRate = faultsAfterCommit,
        Latency = TimeSpan.FromMilliseconds(latencyMs), Accounts = AccountIds.Values.ToHashSet(StringComparer.Ordinal),
    };

    [Fact]
    public async Task Every_journal_is_posted_once_under_injected_429s_and_5xx()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake(maxConcurrent: 3, faults: 0.15, faultsAfterCommit: 0.1);
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http);
        var journals = Enumerable.Range(1, 20).Select(Invoice).Concat(Enumerable.Range(1, 20).Select(Payment)).ToList();

        var outcomes = new List<PostingOutcome>();
        foreach (var batch in journals.Chunk(20))
        {
            outcomes.AddRange(await ledger.PostBatchAsync(batch, ct));
        }

        Assert.All(outcomes, o => Assert.Equal(PostingStatus.Posted, o.Status));
        Assert.Equal(journals.Select(j => j.PostingKey), outcomes.Select(o => o.PostingKey));
        Assert.True(server.Throttled > 0 && server.Faults > 0, $"expected injected 429s and 5xx, got {server.Throttled} and {server.Faults}");
        Assert.True(ledger.ThrottledResponses > 0 && ledger.RetriedFailures > 0);

        // Exactly one record per external id, with the journal's lines (mapped account ids, exact amounts).
        Assert.Equal(journals.Count, server.Records.Count);
        foreach (var (journal, outcome) in journals.Zip(outcomes))
        {
            var record = server.Records[NetSuiteExternalId.FromPostingKey(journal.PostingKey)];
            Assert.Equal(outcome.ErpDocumentId, record.InternalId);
            Assert.Equal(journal.Lines.Select(l => (AccountIds[l.Account], l.Debit, l.Credit)), record.Lines);
            Assert.Equal(("1", "2", "2026-11-10"), (record.Body["subsidiary"]!["id"]!.GetValue<string>(), record.Body["currency"]!["id"]!.GetValue<string>(),
                record.Body["tranDate"]!.GetValue<string>()));
        }

        // Posting again (a replay, a redelivered batch) changes nothing and returns the same documents.
        var again = await ledger.PostBatchAsync(journals, ct);
        Assert.All(again, o => Assert.Equal(PostingStatus.Duplicate, o.Status));
        Assert.Equal(outcomes.Select(o => o.ErpDocumentId), again.Select(o => o.ErpDocumentId));
        Assert.Equal(journals.Count, server.Records.Count);
    }

    [Fact]
    public async Task The_configured_concurrency_limit_holds()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake(maxConcurrent: 2, latencyMs: 30);
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http, o => o.MaxConcurrency = 2);

        var outcomes = await ledger.PostBatchAsync(Enumerable.Range(1, 12).Select(Invoice).ToList(), ct);

        Assert.Equal(12, outcomes.Count(o => o.Status == PostingStatus.Posted));
        Assert.Equal((0, 2), (server.Throttled, server.MaxObservedConcurrency));
    }

    [Fact]
    public async Task A_429_is_retried_no_sooner_than_its_Retry_After()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake(maxConcurrent: 1, retryAfter: 1, latencyMs: 300);
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http, o => { o.MaxConcurrency = 2; o.MaxBackoffMs = 5000; });

        await ledger.PostBatchAsync([Invoice(1), Invoice(2)], ct);

        var log = server.RequestLog;
        var throttled = log.Where(r => r.Status == 429).ToList();
        Assert.NotEmpty(throttled);
        foreach (var t in throttled)
        {
            var next = log.Where(r => r.ExternalId == t.ExternalId && r.At > t.At).Min(r => r.At);
            Assert.True(next - t.At >= TimeSpan.FromMilliseconds(950), $"{t.ExternalId} retried {(next - t.At).TotalMilliseconds} ms after a 429 with Retry-After: 1");
        }

        Assert.Equal(2, server.Records.Count);
    }

    [Fact]
    public async Task A_validation_error_is_permanent_names_the_journal_and_the_others_post()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake() with { Accounts = AccountIds.Values.Where(a => a != "610").ToHashSet(StringComparer.Ordinal) }; // fee account unknown to NetSuite
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http);

        var ex = await Assert.ThrowsAsync<ErpPermanentException>(() => ledger.PostBatchAsync([Invoice(1), Payment(1), Invoice(2)], ct));

        var rejection = Assert.Single(ex.ErpRejections);
        Assert.Equal(("payment:pi_1:applied", 400, "INVALID_KEY_OR_REF"), (rejection.PostingKey, rejection.HttpStatus, rejection.ErrorCode));
        Assert.Contains("610", rejection.Detail, StringComparison.Ordinal);
        Assert.Equal(["invoice:in_1:issued", "invoice:in_2:issued"], ex.Posted.Select(o => o.PostingKey));
        Assert.Equal(2, server.RequestLog.Count(r => r.ExternalId == "payment_cpi__1_capplied")); // one GET, one PUT: never retried
        Assert.Equal(2, server.Records.Count);
    }

    [Fact]
    public async Task An_unmapped_account_is_rejected_without_a_request()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake();
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http, o => o.Accounts.Remove("6100"));

        var ex = await Assert.ThrowsAsync<ErpPermanentException>(() => ledger.PostBatchAsync([Payment(1)], ct));

        Assert.Equal("UNMAPPED_REFERENCE", Assert.Single(ex.ErpRejections).ErrorCode);
        Assert.Contains("'6100' (NetSuite:Accounts)", ex.ErpRejections[0].Detail, StringComparison.Ordinal);
        Assert.Empty(server.RequestLog);
    }

    [Fact]
    public async Task Wrong_credentials_are_transient_post_nothing_and_leak_no_secret()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake();
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http, o => o.TokenSecret = "not-the-token-secret");

        var ex = await Assert.ThrowsAsync<ErpTransientException>(() => ledger.PostBatchAsync([Invoice(1)], ct));

        Assert.Contains("refused the credentials", ex.Message, StringComparison.Ordinal);
        Assert.Contains("INVALID_LOGIN", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("not-the-token-secret", ex.ToString(), StringComparison.Ordinal);
        Assert.Equal((1, 0), (server.RejectedAuthentication, server.Records.Count));
    }

    [Fact]
    public async Task A_5xx_that_persists_gives_up_as_transient_after_the_configured_attempts()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake(faults: 1.0);
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http, o => o.MaxAttempts = 3);

        var ex = await Assert.ThrowsAsync<ErpTransientException>(() => ledger.PostBatchAsync([Invoice(1)], ct));

        Assert.Contains("gave up after 3 attempts; last: 503", ex.Message, StringComparison.Ordinal);
        Assert.Equal(3, server.RequestLog.Count);
        Assert.Empty(server.Records);
    }

    [Fact]
    public async Task A_key_repeated_within_a_batch_posts_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake();
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http);

        var outcomes = await ledger.PostBatchAsync([Invoice(1), Invoice(2), Invoice(1)], ct);

        Assert.Equal([PostingStatus.Posted, PostingStatus.Posted, PostingStatus.Duplicate], outcomes.Select(o => o.Status));
        Assert.Equal(outcomes[0].ErpDocumentId, outcomes[2].ErpDocumentId);
        Assert.Equal(2, server.Records.Count);
        Assert.Equal(2, server.RequestLog.Count(r => r.ExternalId == "invoice_cin__1_cissued")); // one GET, one PUT
    }

    [Fact]
    public async Task The_same_key_with_other_content_is_a_conflict_and_changes_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake();
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http);
        var first = Assert.Single(await ledger.PostBatchAsync([Invoice(1)], ct));

        var changed = Invoice(1) with { Lines = [.. Invoice(1).Lines.Select(l => l.Account == "1100" ? l with { Debit = l.Debit + 1m } : l.Account == "4200" ? l with { Credit = l.Credit + 1m } : l)] };
        var second = Assert.Single(await ledger.PostBatchAsync([changed], ct));

        Assert.Equal((PostingStatus.Conflict, first.ErpDocumentId, first.ContentHash), (second.Status, second.ErpDocumentId, second.ContentHash));
        Assert.Equal(0, server.Records.Single().Value.Updates);
    }
    [Fact]
    public async Task A_journal_taken_by_a_batch_that_failed_transiently_is_reported_Posted_on_the_retry()
    {
        var ct = TestContext.Current.CancellationToken;
        var fake = Fake() with { FaultAfterCommitRate = 1.0 }; // every PUT stores the record, then the answer is lost (502)
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = Ledger(server, fake, http, o => o.MaxAttempts = 1);

        var failed = await Assert.ThrowsAsync<ErpTransientException>(() => ledger.PostBatchAsync([Invoice(1)], ct));
        Assert.Equal(LedgerErrorKind.Transient, LedgerErrors.Classify(failed));
        Assert.Single(server.Records);

        // The retry finds the record this instance created: its real outcome is Posted (not a later Duplicate), with NetSuite's id.
        var retried = Assert.Single(await ledger.PostBatchAsync([Invoice(1)], ct));
        Assert.Equal((PostingStatus.Posted, server.Records.Single().Value.InternalId), (retried.Status, retried.ErpDocumentId));

        // Once reported, the same journal again (or from another instance) is a duplicate.
        Assert.Equal(PostingStatus.Duplicate, Assert.Single(await ledger.PostBatchAsync([Invoice(1)], ct)).Status);
        await using var other = Ledger(server, fake, http);
        Assert.Equal(PostingStatus.Duplicate, Assert.Single(await other.PostBatchAsync([Invoice(1)], ct)).Status);
        Assert.Equal(0, server.Records.Single().Value.Updates);
    }

    [Fact]
    public void The_adapter_errors_are_the_sinks_ledger_errors()
    {
        var transient = new ErpTransientException("429", TimeSpan.FromSeconds(3));
        Assert.Equal((LedgerErrorKind.Transient, TimeSpan.FromSeconds(3)), (LedgerErrors.Classify(transient), ((LedgerTransientException)transient).RetryAfter));

        var outcome = new PostingOutcome("invoice:in_2:issued", PostingStatus.Posted, "1001", "h", DateTimeOffset.UnixEpoch);
        var permanent = new ErpPermanentException([new ErpRejection("payment:pi_1:applied", 400, "INVALID_KEY_OR_REF", "Invalid account reference key 610.")], [outcome]);
        Assert.Equal(LedgerErrorKind.Rejected, LedgerErrors.Classify(permanent));
        var rejection = Assert.Single(((LedgerPartiallyRejectedException)permanent).Rejections);
        Assert.Equal(("payment:pi_1:applied", "INVALID_KEY_OR_REF", "NetSuite answered 400 INVALID_KEY_OR_REF: Invalid account reference key 610."),
            (rejection.PostingKey, rejection.ReasonCode, rejection.Detail));
        Assert.Equal("400", rejection.Context["erp_http_status"]);
        Assert.Equal([outcome], permanent.Outcomes);
    }
}
