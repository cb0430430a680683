using System.Globalization;
using Microsoft.Data.Sqlite;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Ledger;

/// <summary>
/// The embedded ledger: SQLite, WAL journal, one transaction per batch. Amounts are stored as exact decimal
/// text (SQLite has no decimal type) and summed in <see cref="decimal"/>, never as floating point.
/// </summary>
public sealed class SqliteLedger : ILedger
{
    /// <summary>Schema version this build migrates to (the number of migrations).</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>Versioned migrations; the index + 1 is the schema version. Never edit a shipped entry: append.</summary>
    internal static readonly string[] Migrations =
    [
        """
        CREATE TABLE postings (
            posting_key     TEXT PRIMARY KEY,
            status          TEXT NOT NULL,
            erp_document_id TEXT NOT NULL UNIQUE,
            content_hash    TEXT NOT NULL,
            correlation_id  TEXT NOT NULL,
            posted_at       TEXT NOT NULL
        );
        CREATE TABLE journal_entries (
            posting_key     TEXT PRIMARY KEY REFERENCES postings(posting_key),
            erp_document_id TEXT NOT NULL,
            event_type      TEXT NOT NULL,
            legal_entity_id TEXT NOT NULL,
            customer_id     TEXT NOT NULL,
            currency        TEXT NOT NULL,
            effective_date  TEXT NOT NULL,
            document_number TEXT,
            correlation_id  TEXT NOT NULL,
            source_system   TEXT NOT NULL,
            source_object   TEXT NOT NULL,
            source_event_id TEXT NOT NULL,
            source_topic    TEXT,
            source_partition INTEGER,
            source_offset   INTEGER
        );
        CREATE TABLE journal_lines (
            posting_key TEXT NOT NULL REFERENCES journal_entries(posting_key),
            line_no     INTEGER NOT NULL,
            account     TEXT NOT NULL,
            debit       TEXT NOT NULL,
            credit      TEXT NOT NULL,
            memo        TEXT NOT NULL,
            PRIMARY KEY (posting_key, line_no)
        );
        CREATE INDEX ix_journal_entries_entity ON journal_entries(legal_entity_id, currency, effective_date);
        CREATE INDEX ix_journal_entries_correlation ON journal_entries(correlation_id);
        """,
        // v2: document numbers from a counter row instead of COUNT(*) (which repeats a number once any row is gone),
        // seeded past the highest number already issued.
        """
        CREATE TABLE document_counter (name TEXT PRIMARY KEY, last INTEGER NOT NULL);
        INSERT INTO document_counter(name, last)
            SELECT 'JE', COALESCE(MAX(CAST(substr(erp_document_id, 4) AS INTEGER)), 0) FROM postings;
        """,
    ];

    private readonly SqliteConnection _connection;
    private readonly SemaphoreSlim _gate = new(1, 1);

    private SqliteLedger(SqliteConnection connection, string path)
    {
        _connection = connection;
        Location = path;
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>Opens (creating if needed) the ledger file and applies pending migrations.</summary>
    public static async Task<SqliteLedger> OpenAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        Directory.CreateDirectory(Path.GetDirectoryName(full)!);
        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (var pragma = connection.CreateCommand())
        {
            // WAL + synchronous=FULL: a committed batch survives a crash or SIGKILL.
            pragma.CommandText = "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON; PRAGMA busy_timeout=5000;";
            await pragma.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var ledger = new SqliteLedger(connection, full);
        await ledger.MigrateAsync(cancellationToken).ConfigureAwait(false);
        return ledger;
    }

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // IMMEDIATE: take the write lock up front, so a second process migrating at the same time waits (busy_timeout) instead of
            // failing half-way on a lock upgrade.
            await using var tx = _connection.BeginTransaction(deferred: false);
            await using (var create = _connection.CreateCommand())
            {
                create.Transaction = tx;
                create.CommandText = "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at TEXT NOT NULL);";
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            long current;
            await using (var version = _connection.CreateCommand())
            {
                version.Transaction = tx;
                version.CommandText = "SELECT COALESCE(MAX(version), 0) FROM schema_migrations;";
                current = (long)(await version.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            }

            if (current > Migrations.Length)
            {
                throw new InvalidOperationException($"Ledger {Location} is at schema version {current}, newer than this build knows ({Migrations.Length}).");
            }

            for (var v = (int)current + 1; v <= Migrations.Length; v++)
            {
                await using var migrate = _connection.CreateCommand();
                migrate.Transaction = tx;
                migrate.CommandText = Migrations[v - 1] + "\nINSERT INTO schema_migrations(version, applied_at) VALUES ($v, $at);";
                migrate.Parameters.AddWithValue("$v", v);
                migrate.Parameters.AddWithValue("$at", DateTimeOffset.UtcNow.ToString("O", CultureInfo.InvariantCulture));
                await migrate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PostingOutcome>> PostBatchAsync(IReadOnlyList<Journal> journals, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journals);
        var outcomes = new List<PostingOutcome>(journals.Count);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // IMMEDIATE (never deferred): the write lock is taken before the existence checks, so another writer on the same file
            // (a second sink instance) cannot slip a posting in between the check and the insert; it waits on busy_timeout.
            await using var tx = _connection.BeginTransaction(deferred: false);
            await using var find = Command(tx, "SELECT erp_document_id, content_hash, posted_at FROM postings WHERE posting_key = $k;", "$k");
            await using var posting = Command(tx,
                "INSERT INTO postings(posting_key, status, erp_document_id, content_hash, correlation_id, posted_at) VALUES ($k, 'POSTED', $doc, $hash, $corr, $at);",
                "$k", "$doc", "$hash", "$corr", "$at");
            await using var entry = Command(tx,
                """
                INSERT INTO journal_entries(posting_key, erp_document_id, event_type, legal_entity_id, customer_id, currency, effective_date,
                    document_number, correlation_id, source_system, source_object, source_event_id, source_topic, source_partition, source_offset)
                VALUES ($k, $doc, $type, $le, $cust, $cur, $date, $num, $corr, $sys, $obj, $evt, $topic, $part, $off);
                """,
                "$k", "$doc", "$type", "$le", "$cust", "$cur", "$date", "$num", "$corr", "$sys", "$obj", "$evt", "$topic", "$part", "$off");
            await using var line = Command(tx,
                "INSERT INTO journal_lines(posting_key, line_no, account, debit, credit, memo) VALUES ($k, $n, $acct, $dr, $cr, $memo);",
                "$k", "$n", "$acct", "$dr", "$cr", "$memo");
            await using var nextDoc = Command(tx, "SELECT last FROM document_counter WHERE name = 'JE';");
            var docSeq = (long)(await nextDoc.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
            var firstDoc = docSeq;

            foreach (var journal in journals)
            {
                var hash = journal.ContentHash();
                find.Parameters["$k"].Value = journal.PostingKey;
                await using (var reader = await find.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
                {
                    if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        var existingHash = reader.GetString(1);
                        outcomes.Add(new PostingOutcome(journal.PostingKey, existingHash == hash ? PostingStatus.Duplicate : PostingStatus.Conflict,
                            reader.GetString(0), existingHash, DateTimeOffset.Parse(reader.GetString(2), CultureInfo.InvariantCulture)));
                        continue;
                    }
                }

                var now = DateTimeOffset.UtcNow;
                var doc = $"JE-{++docSeq:D8}";
                Set(posting, journal.PostingKey, doc, hash, journal.CorrelationId, now.ToString("O", CultureInfo.InvariantCulture));
                await posting.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                var s = journal.Source;
                Set(entry, journal.PostingKey, doc, journal.EventKind.ToString(), journal.LegalEntityId, journal.CustomerId, journal.Currency,
                    journal.EffectiveDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture), journal.DocumentNumber, journal.CorrelationId,
                    s.System, $"{s.ObjectType}:{s.ObjectId}", s.EventId, s.Topic, s.Partition, s.Offset);
                await entry.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                for (var i = 0; i < journal.Lines.Count; i++)
                {
                    var l = journal.Lines[i];
                    Set(line, journal.PostingKey, i + 1, l.Account, Text(l.Debit), Text(l.Credit), l.Memo);
                    await line.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                outcomes.Add(new PostingOutcome(journal.PostingKey, PostingStatus.Posted, doc, hash, now));
            }

            if (docSeq != firstDoc)
            {
                await using var counter = Command(tx, "UPDATE document_counter SET last = $last WHERE name = 'JE';", "$last");
                Set(counter, docSeq);
                await counter.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }

            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            _gate.Release();
        }

        return outcomes;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<TrialBalanceRow>> TrialBalanceAsync(CancellationToken cancellationToken)
    {
        var totals = new SortedDictionary<(string Entity, string Currency, string Account), (decimal Dr, decimal Cr)>();
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var cmd = _connection.CreateCommand();
            cmd.CommandText = """
                SELECT e.legal_entity_id, e.currency, l.account, l.debit, l.credit
                FROM journal_lines l JOIN journal_entries e ON e.posting_key = l.posting_key;
                """;
            await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var key = (reader.GetString(0), reader.GetString(1), reader.GetString(2));
                totals.TryGetValue(key, out var t);
                totals[key] = (t.Dr + Parse(reader.GetString(3)), t.Cr + Parse(reader.GetString(4)));
            }
        }
        finally
        {
            _gate.Release();
        }

        return totals.Select(kv => new TrialBalanceRow(kv.Key.Entity, kv.Key.Currency, kv.Key.Account, kv.Value.Dr, kv.Value.Cr)).ToList();
    }

    /// <inheritdoc />
    public async Task<long> CountJournalsAsync(CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var cmd = _connection.CreateCommand();
            cmd.CommandText = "SELECT COUNT(*) FROM journal_entries;";
            return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async Task<Journal?> FindJournalAsync(string postingKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(postingKey);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            await using var entry = _connection.CreateCommand();
            entry.CommandText = """
                SELECT correlation_id, event_type, legal_entity_id, customer_id, currency, effective_date, document_number,
                       source_system, source_object, source_event_id, source_topic, source_partition, source_offset
                FROM journal_entries WHERE posting_key = $k;
                """;
            entry.Parameters.AddWithValue("$k", postingKey);
            object?[] e;
            await using (var reader = await entry.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                e = new object?[reader.FieldCount];
                for (var i = 0; i < e.Length; i++)
                {
                    e[i] = reader.IsDBNull(i) ? null : reader.GetValue(i);
                }
            }

            await using var lines = _connection.CreateCommand();
            lines.CommandText = "SELECT account, debit, credit, memo FROM journal_lines WHERE posting_key = $k ORDER BY line_no;";
            lines.Parameters.AddWithValue("$k", postingKey);
            var list = new List<JournalLine>();
            await using (var reader = await lines.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
            {
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    list.Add(new JournalLine(reader.GetString(0), Parse(reader.GetString(1)), Parse(reader.GetString(2)), reader.GetString(3)));
                }
            }

            var source = ((string)e[8]!).Split(':', 2);
            return new Journal(postingKey, (string)e[0]!, Enum.Parse<FinanceEventKind>((string)e[1]!), (string)e[2]!, (string)e[3]!, (string)e[4]!,
                DateTime.SpecifyKind(DateTime.ParseExact((string)e[5]!, "yyyy-MM-dd", CultureInfo.InvariantCulture), DateTimeKind.Utc), (string?)e[6], list,
                new SourceCoordinates((string)e[7]!, source[0], source.Length > 1 ? source[1] : "", (string)e[9]!, (string?)e[10],
                    e[11] is null ? null : Convert.ToInt32(e[11], CultureInfo.InvariantCulture), e[12] is null ? null : Convert.ToInt64(e[12], CultureInfo.InvariantCulture)));
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        await _connection.DisposeAsync().ConfigureAwait(false);
        _gate.Dispose();
    }

    private SqliteCommand Command(SqliteTransaction tx, string sql, params string[] parameters)
    {
        var cmd = _connection.CreateCommand();
        cmd.Transaction = tx;
        cmd.CommandText = sql;
        foreach (var p in parameters)
        {
            cmd.Parameters.Add(new SqliteParameter(p, DBNull.Value));
        }

        return cmd;
    }

    private static void Set(SqliteCommand cmd, params object?[] values)
    {
        for (var i = 0; i < values.Length; i++)
        {
            cmd.Parameters[i].Value = values[i] ?? DBNull.Value;
        }
    }

    private static string Text(decimal value) => value.ToString(CultureInfo.InvariantCulture);

    private static decimal Parse(string value) => decimal.Parse(value, NumberStyles.Number, CultureInfo.InvariantCulture);
}
