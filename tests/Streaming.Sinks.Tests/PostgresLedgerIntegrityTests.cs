using Npgsql;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.Tests;

/// <summary>
/// The PostgreSQL ledger's integrity rules after migration 2 (statement-level checks instead of row-by-row foreign keys): an entry
/// without its posting or a line without its entry is refused, whatever writes it; postings, entries and lines are never updated,
/// deleted or truncated; a ledger created at schema version 1 (with rows) migrates to it.
/// </summary>
public sealed class PostgresLedgerIntegrityTests(PostgresFixture postgres)
{
    private static Journal Journal(string key) => new(key, "corr", FinanceEventKind.PaymentApplied, "US01", "c1", "USD",
        new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc), null,
        [new JournalLine("1000", 10m, 0m, "cash"), new JournalLine("1100", 0m, 10m, "ar")], new SourceCoordinates("stripe", "payment", key, "evt", "finance.events.v1", 0, 1));

    private static async Task ExecAsync(NpgsqlConnection connection, string sql)
    {
        await using var cmd = new NpgsqlCommand(sql, connection);
        await cmd.ExecuteNonQueryAsync(TestContext.Current.CancellationToken);
    }

    [Theory]
    [InlineData("INSERT INTO journal_entries (posting_key, erp_document_id, event_type, legal_entity_id, customer_id, currency, effective_date, correlation_id, "
        + "source_system, source_object, source_event_id) VALUES ('orphan', 'JE-x', 'PaymentApplied', 'US01', 'c1', 'USD', '2026-11-01', 'corr', 's', 'o', 'e')")]
    [InlineData("INSERT INTO journal_lines (posting_key, line_no, account, debit, credit, memo) VALUES ('orphan', 1, '1000', 1, 0, 'm')")]
    [InlineData("COPY journal_lines (posting_key, line_no, account, debit, credit, memo) FROM PROGRAM 'echo orphan,1,1000,1,0,m' (FORMAT CSV)")]
    public async Task Orphan_entries_and_lines_are_refused(string sql)
    {
        var ct = TestContext.Current.CancellationToken;
        var cs = await postgres.NewDatabaseAsync();
        await using var ledger = await PostgresLedger.OpenAsync(cs, PostgresWriteMode.CopyMerge, ct);
        await ledger.PostBatchAsync([Journal("payment:p1:applied")], ct);
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync(ct);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(connection, sql));
        Assert.Equal(PostgresErrorCodes.ForeignKeyViolation, ex.SqlState);
        Assert.Equal(1, await ledger.CountJournalsAsync(ct));
    }

    [Theory]
    [InlineData("UPDATE postings SET status = 'X'")]
    [InlineData("DELETE FROM postings")]
    [InlineData("UPDATE journal_entries SET posting_key = 'moved'")]
    [InlineData("DELETE FROM journal_entries")]
    [InlineData("UPDATE journal_lines SET debit = 0")]
    [InlineData("DELETE FROM journal_lines")]
    [InlineData("TRUNCATE journal_lines")]
    [InlineData("TRUNCATE postings CASCADE")]
    public async Task Ledger_rows_are_never_updated_or_deleted(string sql)
    {
        var ct = TestContext.Current.CancellationToken;
        var cs = await postgres.NewDatabaseAsync();
        await using var ledger = await PostgresLedger.OpenAsync(cs, PostgresWriteMode.BatchedUpsert, ct);
        await ledger.PostBatchAsync([Journal("payment:p1:applied")], ct);
        await using var connection = new NpgsqlConnection(cs);
        await connection.OpenAsync(ct);
        var ex = await Assert.ThrowsAsync<PostgresException>(() => ExecAsync(connection, sql));
        Assert.Equal(PostgresErrorCodes.RestrictViolation, ex.SqlState);
        var balance = await ledger.TrialBalanceAsync(ct);
        Assert.Equal(10m, balance.Sum(r => r.Debits));
        Assert.Equal(10m, balance.Sum(r => r.Credits));
    }

    [Fact]
    public async Task A_version_1_ledger_with_rows_migrates_and_keeps_them()
    {
        var ct = TestContext.Current.CancellationToken;
        var cs = await postgres.NewDatabaseAsync();
        await using (var connection = new NpgsqlConnection(cs))
        {
            await connection.OpenAsync(ct);
            await ExecAsync(connection, "CREATE TABLE schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL);");
            await ExecAsync(connection, PostgresLedger.Migrations[0]);
            await ExecAsync(connection, "INSERT INTO schema_migrations VALUES (1, now());"
                + "INSERT INTO postings (posting_key, status, content_hash, correlation_id, posted_at) VALUES ('v1:key', 'POSTED', 'h', 'corr', now());"
                + "INSERT INTO journal_entries (posting_key, erp_document_id, event_type, legal_entity_id, customer_id, currency, effective_date, correlation_id, "
                + "source_system, source_object, source_event_id) SELECT posting_key, erp_document_id, 'PaymentApplied', 'US01', 'c1', 'USD', '2026-11-01', 'corr', 's', 'o', 'e' FROM postings;"
                + "INSERT INTO journal_lines VALUES ('v1:key', 1, '1000', 5, 0, 'm'), ('v1:key', 2, '1100', 0, 5, 'm');");
        }

        await using var ledger = await PostgresLedger.OpenAsync(cs, PostgresWriteMode.CopyMerge, ct);
        var outcomes = await ledger.PostBatchAsync([Journal("payment:p2:applied"), Journal("payment:p2:applied")], ct);
        Assert.Equal([PostingStatus.Posted, PostingStatus.Duplicate], outcomes.Select(o => o.Status));
        Assert.Equal(2, await ledger.CountJournalsAsync(ct));
        await using var check = new NpgsqlConnection(cs);
        await check.OpenAsync(ct);
        await using var versions = new NpgsqlCommand("SELECT max(version) FROM schema_migrations", check);
        Assert.Equal(PostgresLedger.SchemaVersion, (int)(await versions.ExecuteScalarAsync(ct))!);
        Assert.Equal(2, PostgresLedger.SchemaVersion);
    }
}
