using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.Tests;

/// <summary>The SQLite ledger: migrations, one posting per posting key, exact decimal trial balance, durability across reopen.</summary>
public sealed class SqliteLedgerTests : IAsyncLifetime
{
    private readonly string _path = Path.Combine(Path.GetTempPath(), $"ledger-{Guid.NewGuid():N}.db");
    private SqliteLedger _ledger = null!;

    public async ValueTask InitializeAsync() => _ledger = await SqliteLedger.OpenAsync(_path, TestContext.Current.CancellationToken);

    public async ValueTask DisposeAsync()
    {
        await _ledger.DisposeAsync();
        foreach (var f in new[] { _path, _path + "-wal", _path + "-shm" })
        {
            File.Delete(f);
        }
    }

    private static Journal Journal(string key, string entity, string currency, decimal amount) => new(key, "corr", FinanceEventKind.PaymentApplied, entity, "c1", currency,
        new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc), null,
        [new JournalLine("1000", amount, 0m, "cash"), new JournalLine("1100", 0m, amount, "ar")], new SourceCoordinates("stripe", "payment", key, "evt"));

    [Fact]
    public async Task Same_posting_key_twice_posts_one_journal_and_reports_a_duplicate()
    {
        var ct = TestContext.Current.CancellationToken;
        var first = await _ledger.PostBatchAsync([Journal("payment:p1:applied", "US01", "USD", 10m)], ct);
        var second = await _ledger.PostBatchAsync([Journal("payment:p1:applied", "US01", "USD", 10m), Journal("payment:p1:applied", "US01", "USD", 10m)], ct);

        Assert.Equal(PostingStatus.Posted, Assert.Single(first).Status);
        Assert.All(second, o => Assert.Equal(PostingStatus.Duplicate, o.Status));
        Assert.All(second, o => Assert.Equal(first[0].ErpDocumentId, o.ErpDocumentId));
        Assert.Equal(1, await _ledger.CountJournalsAsync(ct));
    }

    [Fact]
    public async Task Same_posting_key_with_different_content_is_a_conflict_and_is_not_written()
    {
        var ct = TestContext.Current.CancellationToken;
        await _ledger.PostBatchAsync([Journal("payment:p2:applied", "US01", "USD", 10m)], ct);
        var outcome = Assert.Single(await _ledger.PostBatchAsync([Journal("payment:p2:applied", "US01", "USD", 11m)], ct));
        Assert.Equal(PostingStatus.Conflict, outcome.Status);
        var cash = Assert.Single(await _ledger.TrialBalanceAsync(ct), r => r.Account == "1000");
        Assert.Equal(10m, cash.Debits);
    }

    [Fact]
    public async Task Trial_balance_is_exact_per_entity_and_currency_and_survives_reopening()
    {
        var ct = TestContext.Current.CancellationToken;
        var journals = Enumerable.Range(0, 1000).Select(i => Journal($"k{i}", i % 2 == 0 ? "US01" : "DE01", i % 2 == 0 ? "USD" : "EUR", 0.0001m * i + 0.1m)).ToList();
        await _ledger.PostBatchAsync(journals, ct);
        await _ledger.DisposeAsync();
        _ledger = await SqliteLedger.OpenAsync(_path, ct);

        var rows = await _ledger.TrialBalanceAsync(ct);
        Assert.Equal(4, rows.Count);
        foreach (var group in rows.GroupBy(r => (r.LegalEntityId, r.Currency)))
        {
            Assert.Equal(0m, group.Sum(r => r.Balance));
        }

        var expectedUs = journals.Where(j => j.LegalEntityId == "US01").Sum(j => j.TotalDebits);
        Assert.Equal(expectedUs, rows.Single(r => r.LegalEntityId == "US01" && r.Account == "1000").Debits);
        Assert.Equal(1000, await _ledger.CountJournalsAsync(ct));
    }
}
