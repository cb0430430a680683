using Microsoft.Data.Sqlite;
using Npgsql;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.Tests;

/// <summary>
/// Every ledger (SQLite, PostgreSQL with batched upsert, PostgreSQL with COPY + merge) against the same expectations:
/// versioned migrations, one posting per posting key (also within one batch and between two racing instances), conflicts
/// not written, unique document numbers, exact decimal trial balance, durability across reopening.
/// </summary>
public sealed class LedgerTests(PostgresFixture postgres) : IAsyncDisposable
{
    public static TheoryData<string> Ledgers => ["Sqlite", "PostgresBatchedUpsert", "PostgresCopyMerge"];

    private readonly List<string> _files = [];
    private readonly List<ILedger> _open = [];
    private string? _target;

    private async Task<ILedger> OpenAsync(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        ILedger ledger;
        if (kind == "Sqlite")
        {
            if (_target is null)
            {
                _target = Path.Combine(Path.GetTempPath(), $"ledger-{Guid.NewGuid():N}.db");
                _files.AddRange([_target, _target + "-wal", _target + "-shm"]);
            }

            ledger = await SqliteLedger.OpenAsync(_target, ct);
        }
        else
        {
            _target ??= await postgres.NewDatabaseAsync();
            ledger = await PostgresLedger.OpenAsync(_target, kind == "PostgresCopyMerge" ? PostgresWriteMode.CopyMerge : PostgresWriteMode.BatchedUpsert, ct);
        }

        _open.Add(ledger);
        return ledger;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var ledger in _open)
        {
            await ledger.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        foreach (var f in _files)
        {
            File.Delete(f);
        }
    }

    private static Journal Journal(string key, string entity, string currency, decimal amount) => new(key, "corr", FinanceEventKind.PaymentApplied, entity, "c1", currency,
        new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc), null,
        [new JournalLine("1000", amount, 0m, "cash"), new JournalLine("1100", 0m, amount, "ar")], new SourceCoordinates("stripe", "payment", key, "evt", "finance.events.v1", 0, 1));

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task Same_posting_key_twice_posts_one_journal_and_reports_a_duplicate(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var ledger = await OpenAsync(kind);
        var first = await ledger.PostBatchAsync([Journal("payment:p1:applied", "US01", "USD", 10m)], ct);
        var second = await ledger.PostBatchAsync([Journal("payment:p1:applied", "US01", "USD", 10m), Journal("payment:p1:applied", "US01", "USD", 10m)], ct);

        Assert.Equal(PostingStatus.Posted, Assert.Single(first).Status);
        Assert.All(second, o => Assert.Equal(PostingStatus.Duplicate, o.Status));
        Assert.All(second, o => Assert.Equal(first[0].ErpDocumentId, o.ErpDocumentId));
        Assert.Equal(first[0].ContentHash, second[0].ContentHash);
        Assert.Equal(1, await ledger.CountJournalsAsync(ct));
    }

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task A_key_repeated_inside_one_batch_is_posted_once_and_the_repeat_is_a_duplicate(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var ledger = await OpenAsync(kind);
        var outcomes = await ledger.PostBatchAsync(
            [Journal("a", "US01", "USD", 1m), Journal("b", "US01", "USD", 2m), Journal("a", "US01", "USD", 1m), Journal("b", "US01", "USD", 3m)], ct);

        Assert.Equal([PostingStatus.Posted, PostingStatus.Posted, PostingStatus.Duplicate, PostingStatus.Conflict], outcomes.Select(o => o.Status));
        Assert.Equal(outcomes[0].ErpDocumentId, outcomes[2].ErpDocumentId);
        Assert.Equal(2, await ledger.CountJournalsAsync(ct));
        Assert.Equal(3m, Assert.Single(await ledger.TrialBalanceAsync(ct), r => r.Account == "1000").Debits);
    }

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task A_batch_mixing_new_and_posted_keys_posts_only_the_new_ones_with_fresh_document_numbers(string kind)
    {
        // CopyMerge COPYs a batch straight into the tables and falls back to the merge when a key exists: both paths are taken here.
        var ct = TestContext.Current.CancellationToken;
        var ledger = await OpenAsync(kind);
        var first = await ledger.PostBatchAsync([Journal("m1", "US01", "USD", 1m), Journal("m2", "US01", "USD", 2m)], ct);
        var mixed = await ledger.PostBatchAsync([Journal("m3", "US01", "USD", 3m), Journal("m2", "US01", "USD", 2m), Journal("m4", "US01", "USD", 4m)], ct);
        var fresh = await ledger.PostBatchAsync([Journal("m5", "US01", "USD", 5m)], ct);

        Assert.All(first, o => Assert.Equal(PostingStatus.Posted, o.Status));
        Assert.Equal([PostingStatus.Posted, PostingStatus.Duplicate, PostingStatus.Posted], mixed.Select(o => o.Status));
        Assert.Equal(first[1].ErpDocumentId, mixed[1].ErpDocumentId);
        Assert.Equal(first[1].PostedAt, mixed[1].PostedAt);
        Assert.Equal(PostingStatus.Posted, Assert.Single(fresh).Status);
        var docs = first.Concat(mixed).Concat(fresh).Where(o => o.Status == PostingStatus.Posted).Select(o => o.ErpDocumentId).ToList();
        Assert.Equal(5, docs.Distinct().Count());
        Assert.All(docs, d => Assert.Matches("^JE-[0-9]{8,}$", d));
        Assert.Equal(5, await ledger.CountJournalsAsync(ct));
        Assert.Equal(15m, Assert.Single(await ledger.TrialBalanceAsync(ct), r => r.Account == "1000").Debits);
        Assert.Equal("m4", (await ledger.FindJournalAsync("m4", ct))!.PostingKey);
    }

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task Same_posting_key_with_different_content_is_a_conflict_and_is_not_written(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var ledger = await OpenAsync(kind);
        await ledger.PostBatchAsync([Journal("payment:p2:applied", "US01", "USD", 10m)], ct);
        var outcome = Assert.Single(await ledger.PostBatchAsync([Journal("payment:p2:applied", "US01", "USD", 11m)], ct));
        Assert.Equal(PostingStatus.Conflict, outcome.Status);
        var cash = Assert.Single(await ledger.TrialBalanceAsync(ct), r => r.Account == "1000");
        Assert.Equal(10m, cash.Debits);
    }

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task Trial_balance_is_exact_per_entity_and_currency_and_survives_reopening(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var ledger = await OpenAsync(kind);
        var journals = Enumerable.Range(0, 1000).Select(i => Journal($"k{i}", i % 2 == 0 ? "US01" : "DE01", i % 2 == 0 ? "USD" : "EUR", 0.0001m * i + 0.1m)).ToList();
        await ledger.PostBatchAsync(journals, ct);
        await ledger.DisposeAsync();
        _open.Remove(ledger);
        ledger = await OpenAsync(kind);

        var rows = await ledger.TrialBalanceAsync(ct);
        Assert.Equal(4, rows.Count);
        foreach (var group in rows.GroupBy(r => (r.LegalEntityId, r.Currency)))
        {
            Assert.Equal(0m, group.Sum(r => r.Balance));
        }

        var expectedUs = journals.Where(j => j.LegalEntityId == "US01").Sum(j => j.TotalDebits);
        Assert.Equal(expectedUs, rows.Single(r => r.LegalEntityId == "US01" && r.Account == "1000").Debits);
        Assert.Equal(1000, await ledger.CountJournalsAsync(ct));
    }

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task Two_instances_racing_on_the_same_keys_post_each_once_with_unique_document_numbers(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var a = await OpenAsync(kind);
        var b = await OpenAsync(kind);
        var keys = Enumerable.Range(0, 400).Select(i => Journal($"race:{i}", "US01", "USD", 1m + i)).ToList();
        var batchesA = keys.Chunk(50).Select(c => (IReadOnlyList<Journal>)c).ToList();
        var batchesB = keys.AsEnumerable().Reverse().Chunk(40).Select(c => (IReadOnlyList<Journal>)c).ToList();

        var results = await Task.WhenAll(
            Task.Run(async () => { var all = new List<PostingOutcome>(); foreach (var batch in batchesA) { all.AddRange(await a.PostBatchAsync(batch, ct)); } return all; }, ct),
            Task.Run(async () => { var all = new List<PostingOutcome>(); foreach (var batch in batchesB) { all.AddRange(await b.PostBatchAsync(batch, ct)); } return all; }, ct));

        var all = results.SelectMany(r => r).ToList();
        Assert.Equal(400, all.Count(o => o.Status == PostingStatus.Posted));
        Assert.Equal(400, all.Count(o => o.Status == PostingStatus.Duplicate));
        Assert.DoesNotContain(all, o => o.Status == PostingStatus.Conflict);
        var docs = all.Where(o => o.Status == PostingStatus.Posted).Select(o => o.ErpDocumentId).ToList();
        Assert.Equal(docs.Count, docs.Distinct().Count());
        foreach (var dup in all.Where(o => o.Status == PostingStatus.Duplicate))
        {
            Assert.Equal(all.Single(o => o.Status == PostingStatus.Posted && o.PostingKey == dup.PostingKey).ErpDocumentId, dup.ErpDocumentId);
        }

        Assert.Equal(400, await a.CountJournalsAsync(ct));
    }

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task Migrations_are_versioned_and_applied_once(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var ledger = await OpenAsync(kind);
        await ledger.PostBatchAsync([Journal("m1", "US01", "USD", 5m)], ct);
        await ledger.MigrateAsync(ct);
        await ledger.MigrateAsync(ct);
        var again = await OpenAsync(kind);

        Assert.Equal(1, await again.CountJournalsAsync(ct));
        var expected = kind == "Sqlite" ? SqliteLedger.SchemaVersion : PostgresLedger.SchemaVersion;
        Assert.Equal(Enumerable.Range(1, expected).Select(v => (long)v), await SchemaVersionsAsync(kind, ct));
        // Document numbers keep counting after a reopen: never a number issued twice.
        var next = Assert.Single(await again.PostBatchAsync([Journal("m2", "US01", "USD", 5m)], ct));
        var first = Assert.Single(await again.PostBatchAsync([Journal("m1", "US01", "USD", 5m)], ct));
        Assert.NotEqual(first.ErpDocumentId, next.ErpDocumentId);
    }

    private async Task<List<long>> SchemaVersionsAsync(string kind, CancellationToken ct)
    {
        var versions = new List<long>();
        if (kind == "Sqlite")
        {
            await using var c = new SqliteConnection($"Data Source={_target}");
            await c.OpenAsync(ct);
            await using var cmd = new SqliteCommand("SELECT version FROM schema_migrations ORDER BY version", c);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                versions.Add(r.GetInt64(0));
            }
        }
        else
        {
            await using var c = new NpgsqlConnection(_target);
            await c.OpenAsync(ct);
            await using var cmd = new NpgsqlCommand("SELECT version FROM schema_migrations ORDER BY version", c);
            await using var r = await cmd.ExecuteReaderAsync(ct);
            while (await r.ReadAsync(ct))
            {
                versions.Add(r.GetInt32(0));
            }
        }

        return versions;
    }

    [Theory]
    [MemberData(nameof(Ledgers))]
    public async Task A_posted_journal_reads_back_exactly_and_an_unposted_key_is_null(string kind)
    {
        var ct = TestContext.Current.CancellationToken;
        var ledger = await OpenAsync(kind);
        var journal = new Journal("invoice:in_1:issued", "corr-9", FinanceEventKind.InvoiceIssued, "US01", "c9", "USD", new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc), "INV-9",
            [new JournalLine("1100", 108.07m, 0m, "invoice receivable"), new JournalLine("4200", 0m, 100m, "services"), new JournalLine("2300-US-CA", 0m, 8.07m, "tax")],
            new SourceCoordinates("stripe", "invoice", "in_1", "evt_1", "finance.events.v1", 3, 42));
        await ledger.PostBatchAsync([journal], ct);

        var found = await ledger.FindJournalAsync("invoice:in_1:issued", ct);
        Assert.NotNull(found);
        Assert.Equal(journal.Lines, found.Lines);
        Assert.Equal((journal.LegalEntityId, journal.Currency, journal.EffectiveDate, journal.EventKind, journal.Source), (found.LegalEntityId, found.Currency, found.EffectiveDate, found.EventKind, found.Source));
        Assert.Equal(journal.ContentHash(), found.ContentHash());
        Assert.Null(await ledger.FindJournalAsync("invoice:nope:issued", ct));
    }

    [Fact]
    public async Task An_unreachable_PostgreSQL_is_a_transient_error()
    {
        var ct = TestContext.Current.CancellationToken;
        var cluster = await postgres.ClusterAsync();
        // A port nobody listens on: connection refused.
        using var probe = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        probe.Start();
        var port = ((System.Net.IPEndPoint)probe.LocalEndpoint).Port;
        probe.Stop();
        var refused = cluster.ConnectionString().Replace($"Port={cluster.Port}", $"Port={port}", StringComparison.Ordinal) + ";Timeout=2";
        var ex = await Assert.ThrowsAnyAsync<Exception>(() => PostgresLedger.OpenAsync(refused, PostgresWriteMode.BatchedUpsert, ct));
        Assert.Equal(LedgerErrorKind.Transient, LedgerErrors.Classify(ex));
        Assert.Equal(LedgerErrorKind.Rejected, LedgerErrors.Classify(new LedgerRejectedException("k", "UNKNOWN_ACCOUNT", "no 9999")));
        Assert.Equal(LedgerErrorKind.Transient, LedgerErrors.Classify(new HttpRequestException("busy", null, System.Net.HttpStatusCode.TooManyRequests)));
        Assert.Equal(LedgerErrorKind.Fatal, LedgerErrors.Classify(new HttpRequestException("bad", null, System.Net.HttpStatusCode.BadRequest)));
        Assert.Equal(LedgerErrorKind.Fatal, LedgerErrors.Classify(new InvalidOperationException("bug")));
    }
}
