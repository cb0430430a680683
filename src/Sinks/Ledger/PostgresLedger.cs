using Npgsql;
using NpgsqlTypes;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Ledger;

/// <summary>How <see cref="PostgresLedger"/> sends a batch.</summary>
public enum PostgresWriteMode
{
    /// <summary>The batch's rows travel as arrays in one statement (<c>unnest</c>), inserted with <c>ON CONFLICT DO NOTHING</c>.</summary>
    BatchedUpsert,
    /// <summary>
    /// Binary <c>COPY</c> straight into the ledger tables; a batch with a posting key already in the ledger is rolled back and sent
    /// again as a binary <c>COPY</c> into session temp tables, then one merge statement into the ledger tables.
    /// </summary>
    CopyMerge,
}

/// <summary>
/// The SQL ledger on PostgreSQL. One transaction per batch; the posting key is the primary key of <c>postings</c>, so a
/// redelivered fact (or a second sink instance racing on it) inserts nothing: <c>ON CONFLICT DO NOTHING</c> waits for the
/// other writer's commit and then reports the existing posting. Amounts are <c>numeric</c> (exact); document numbers come
/// from a sequence (gaps after a rolled-back batch are possible, duplicates are not).
/// </summary>
public sealed class PostgresLedger : ILedger
{
    /// <summary>Schema version this build migrates to (the number of migrations).</summary>
    public static int SchemaVersion => Migrations.Length;

    /// <summary>Versioned migrations; the index + 1 is the schema version. Never edit a shipped entry: append.</summary>
    internal static readonly string[] Migrations =
    [
        """
        CREATE SEQUENCE erp_document_seq;
        CREATE TABLE postings (
            posting_key     text PRIMARY KEY,
            status          text NOT NULL,
            erp_document_id text NOT NULL UNIQUE DEFAULT 'JE-' || lpad(nextval('erp_document_seq')::text, 10, '0'),
            content_hash    text NOT NULL,
            correlation_id  text NOT NULL,
            posted_at       timestamptz NOT NULL
        );
        CREATE TABLE journal_entries (
            posting_key      text PRIMARY KEY REFERENCES postings(posting_key),
            erp_document_id  text NOT NULL,
            event_type       text NOT NULL,
            legal_entity_id  text NOT NULL,
            customer_id      text NOT NULL,
            currency         char(3) NOT NULL,
            effective_date   date NOT NULL,
            document_number  text,
            correlation_id   text NOT NULL,
            source_system    text NOT NULL,
            source_object    text NOT NULL,
            source_event_id  text NOT NULL,
            source_topic     text,
            source_partition integer,
            source_offset    bigint
        );
        CREATE TABLE journal_lines (
            posting_key text NOT NULL REFERENCES journal_entries(posting_key),
            line_no     integer NOT NULL,
            account     text NOT NULL,
            debit       numeric NOT NULL CHECK (debit >= 0),
            credit      numeric NOT NULL CHECK (credit >= 0),
            memo        text NOT NULL,
            PRIMARY KEY (posting_key, line_no)
        );
        CREATE INDEX ix_journal_entries_entity ON journal_entries(legal_entity_id, currency, effective_date);
        CREATE INDEX ix_journal_entries_correlation ON journal_entries(correlation_id);
        """,
        // 2: the row-by-row foreign keys (one trigger query per inserted row, about half of the server's CPU per journal) become one
        // check per statement over the inserted rows, and the three tables become append-only (nothing updates or deletes a posting:
        // a correction is a new journal), so a checked parent can never disappear afterwards.
        """
        ALTER TABLE journal_lines DROP CONSTRAINT journal_lines_posting_key_fkey;
        ALTER TABLE journal_entries DROP CONSTRAINT journal_entries_posting_key_fkey;
        CREATE FUNCTION ledger_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger table % is append-only: % refused', TG_TABLE_NAME, TG_OP USING ERRCODE = 'restrict_violation';
        END $$;
        CREATE TRIGGER postings_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON postings FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
        CREATE TRIGGER journal_entries_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_entries FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
        CREATE TRIGGER journal_lines_append_only BEFORE UPDATE OR DELETE OR TRUNCATE ON journal_lines FOR EACH STATEMENT EXECUTE FUNCTION ledger_append_only();
        CREATE FUNCTION ledger_rows_have_parent() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE orphan text;
        BEGIN
            -- TG_ARGV[0]: the parent table; "inserted": the statement's new rows.
            EXECUTE format('SELECT n.posting_key FROM inserted n WHERE NOT EXISTS (SELECT 1 FROM %I p WHERE p.posting_key = n.posting_key) LIMIT 1',
                TG_ARGV[0]) INTO orphan;
            IF orphan IS NOT NULL THEN
                RAISE EXCEPTION '% row % has no row in %', TG_TABLE_NAME, orphan, TG_ARGV[0] USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END $$;
        CREATE TRIGGER journal_entries_have_postings AFTER INSERT ON journal_entries REFERENCING NEW TABLE AS inserted
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_have_parent('postings');
        CREATE TRIGGER journal_lines_have_entries AFTER INSERT ON journal_lines REFERENCING NEW TABLE AS inserted
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_rows_have_parent('journal_entries');
        """,
    ];

    private const string StageDdl = """
        CREATE TEMP TABLE IF NOT EXISTS stage_entries (
            posting_key text, content_hash text, event_type text, legal_entity_id text, customer_id text, currency text,
            effective_date date, document_number text, correlation_id text, source_system text, source_object text,
            source_event_id text, source_topic text, source_partition integer, source_offset bigint
        ) ON COMMIT DELETE ROWS;
        CREATE TEMP TABLE IF NOT EXISTS stage_lines (
            posting_key text, line_no integer, account text, debit numeric, credit numeric, memo text
        ) ON COMMIT DELETE ROWS;
        """;

    // Parent and children in one statement: only postings that were really inserted get entries and lines.
    private static readonly string MergeFromStage = Merge("", "stage_entries", "stage_lines");

    private static readonly string MergeFromArrays = Merge("""
        src AS (
            SELECT * FROM unnest(@k::text[], @hash::text[], @type::text[], @le::text[], @cust::text[], @cur::text[], @date::date[], @num::text[],
                @corr::text[], @sys::text[], @obj::text[], @evt::text[], @topic::text[], @part::integer[], @off::bigint[])
                AS t(posting_key, content_hash, event_type, legal_entity_id, customer_id, currency, effective_date, document_number,
                     correlation_id, source_system, source_object, source_event_id, source_topic, source_partition, source_offset)
        ),
        """, "src", "unnest(@lk::text[], @ln::integer[], @acct::text[], @dr::numeric[], @cr::numeric[], @memo::text[])");

    /// <summary>
    /// The merge statement over a source of entry rows (<paramref name="entries"/>, with the columns of <c>stage_entries</c>) and one
    /// of line rows (<paramref name="lines"/>, aliased <c>l</c> with the columns of <c>stage_lines</c>); <paramref name="sourceCte"/>
    /// defines the entries source first when it is not a table.
    /// </summary>
    private static string Merge(string sourceCte, string entries, string lines) => $"""
        WITH {sourceCte}ins AS (
            INSERT INTO postings(posting_key, status, content_hash, correlation_id, posted_at)
            SELECT posting_key, 'POSTED', content_hash, correlation_id, now() FROM {entries}
            ON CONFLICT (posting_key) DO NOTHING
            RETURNING posting_key, erp_document_id, posted_at
        ), e AS (
            INSERT INTO journal_entries(posting_key, erp_document_id, event_type, legal_entity_id, customer_id, currency, effective_date,
                document_number, correlation_id, source_system, source_object, source_event_id, source_topic, source_partition, source_offset)
            SELECT s.posting_key, ins.erp_document_id, s.event_type, s.legal_entity_id, s.customer_id, s.currency, s.effective_date,
                s.document_number, s.correlation_id, s.source_system, s.source_object, s.source_event_id, s.source_topic, s.source_partition, s.source_offset
            FROM {entries} s JOIN ins ON ins.posting_key = s.posting_key
            RETURNING 1
        ), l AS (
            INSERT INTO journal_lines(posting_key, line_no, account, debit, credit, memo)
            SELECT l.posting_key, l.line_no, l.account, l.debit, l.credit, l.memo
            FROM {lines} AS l(posting_key, line_no, account, debit, credit, memo)
            JOIN ins ON ins.posting_key = l.posting_key
            RETURNING 1
        )
        SELECT posting_key, erp_document_id, posted_at FROM ins;
        """;

    private readonly NpgsqlDataSource _dataSource;

    private PostgresLedger(NpgsqlDataSource dataSource, string location, PostgresWriteMode mode)
    {
        _dataSource = dataSource;
        Location = location;
        WriteMode = mode;
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>How batches are sent.</summary>
    public PostgresWriteMode WriteMode { get; }

    /// <summary>Connects, applies pending migrations and returns the ledger. The password never appears in <see cref="Location"/>.</summary>
    public static async Task<PostgresLedger> OpenAsync(string connectionString, PostgresWriteMode mode, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        // Pooled connections keep their session (no DISCARD ALL on return): CopyMerge's temp staging tables are created once per
        // physical connection instead of once per batch. They are ON COMMIT DELETE ROWS, so no row outlives its transaction.
        // Text is always UTF-8: PgBinaryCopyWriter encodes the COPY rows as UTF-8 itself, so a connection string's other client
        // encoding would store mangled text without an error.
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { NoResetOnClose = true, Encoding = "UTF8", ClientEncoding = "UTF8" };
        var location = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database} (user {builder.Username}, {mode})";
        var ledger = new PostgresLedger(NpgsqlDataSource.Create(builder.ConnectionString), location, mode);
        try
        {
            await ledger.MigrateAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await ledger.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return ledger;
    }

    /// <inheritdoc />
    public async Task MigrateAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // One migrator at a time across processes; released at commit.
        await Exec(connection, tx, "SELECT pg_advisory_xact_lock(7305501); CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL);", cancellationToken).ConfigureAwait(false);
        int current;
        await using (var version = new NpgsqlCommand("SELECT COALESCE(MAX(version), 0) FROM schema_migrations;", connection, tx))
        {
            current = Convert.ToInt32(await version.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }

        if (current > Migrations.Length)
        {
            throw new InvalidOperationException($"Ledger {Location} is at schema version {current}, newer than this build knows ({Migrations.Length}).");
        }

        for (var v = current + 1; v <= Migrations.Length; v++)
        {
            await Exec(connection, tx, Migrations[v - 1], cancellationToken).ConfigureAwait(false);
            await using var mark = new NpgsqlCommand("INSERT INTO schema_migrations(version, applied_at) VALUES (@v, now());", connection, tx);
            mark.Parameters.AddWithValue("v", v);
            await mark.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<PostingOutcome>> PostBatchAsync(IReadOnlyList<Journal> journals, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journals);
        if (journals.Count == 0)
        {
            return [];
        }

        // The first occurrence of a posting key in the batch is the one written; later ones compare against it.
        var hashes = journals.Select(j => j.ContentHash()).ToArray();
        var firstIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        var unique = new List<int>(journals.Count);
        for (var i = 0; i < journals.Count; i++)
        {
            if (firstIndex.TryAdd(journals[i].PostingKey, i))
            {
                unique.Add(i);
            }
        }

        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var rows = new Dictionary<string, (string Doc, string Hash, DateTimeOffset At, bool New)>(StringComparer.Ordinal);
        if (WriteMode != PostgresWriteMode.CopyMerge || !await TryCopyStraightAsync(connection, journals, hashes, unique, rows, cancellationToken).ConfigureAwait(false))
        {
            await MergeAsync(connection, journals, hashes, firstIndex, unique, rows, cancellationToken).ConfigureAwait(false);
        }

        var outcomes = new PostingOutcome[journals.Count];
        for (var i = 0; i < journals.Count; i++)
        {
            var key = journals[i].PostingKey;
            if (!rows.TryGetValue(key, out var row))
            {
                throw new InvalidOperationException($"Ledger {Location}: posting {key} neither inserted nor found after the merge.");
            }

            var status = row.New && firstIndex[key] == i
                ? PostingStatus.Posted
                : row.Hash == hashes[i] ? PostingStatus.Duplicate : PostingStatus.Conflict;
            outcomes[i] = new PostingOutcome(key, status, row.Doc, row.Hash, row.At);
        }

        return outcomes;
    }

    /// <summary>The idempotent path: a posting key already in the ledger inserts nothing and is read back (its document, hash, time).</summary>
    private async Task MergeAsync(NpgsqlConnection connection, IReadOnlyList<Journal> journals, string[] hashes, Dictionary<string, int> firstIndex, List<int> unique,
        Dictionary<string, (string Doc, string Hash, DateTimeOffset At, bool New)> rows, CancellationToken cancellationToken)
    {
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlCommand merge;
        if (WriteMode == PostgresWriteMode.CopyMerge)
        {
            await CopyToStageAsync(connection, tx, journals, hashes, unique, cancellationToken).ConfigureAwait(false);
            merge = new NpgsqlCommand(MergeFromStage, connection, tx);
        }
        else
        {
            merge = ArrayMerge(connection, tx, journals, hashes, unique);
        }

        await using (merge)
        await using (var inserted = await merge.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await inserted.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                var key = inserted.GetString(0);
                rows[key] = (inserted.GetString(1), hashes[firstIndex[key]], inserted.GetFieldValue<DateTimeOffset>(2), true);
            }
        }

        // Keys already in the ledger (redelivery, replay, a racing instance whose commit ON CONFLICT waited for).
        var old = unique.Select(i => journals[i].PostingKey).Where(k => !rows.ContainsKey(k)).ToArray();
        if (old.Length > 0)
        {
            await using var read = new NpgsqlCommand("SELECT posting_key, erp_document_id, content_hash, posted_at FROM postings WHERE posting_key = ANY(@k);", connection, tx);
            read.Parameters.Add(new NpgsqlParameter<string[]>("k", old));
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                rows[reader.GetString(0)] = (reader.GetString(1), reader.GetString(2), reader.GetFieldValue<DateTimeOffset>(3), false);
            }
        }

        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The common case of <see cref="PostgresWriteMode.CopyMerge"/>, no posting key of the batch in the ledger yet: binary COPY
    /// straight into the ledger tables in one transaction, with document numbers drawn from the sequence first. When a key
    /// already exists (redelivery, replay, a racing instance's commit) the primary key of <c>postings</c> refuses the COPY: the
    /// transaction is rolled back (its document numbers become a gap) and false tells the caller to take the merge path.
    /// </summary>
    private static async Task<bool> TryCopyStraightAsync(NpgsqlConnection connection, IReadOnlyList<Journal> journals, string[] hashes, List<int> unique,
        Dictionary<string, (string Doc, string Hash, DateTimeOffset At, bool New)> rows, CancellationToken cancellationToken)
    {
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        DateTimeOffset now;
        long[] numbers;
        await using (var draw = new NpgsqlCommand("SELECT now(), array(SELECT nextval('erp_document_seq') FROM generate_series(1, @n));", connection, tx))
        {
            draw.Parameters.Add(new NpgsqlParameter<int>("n", unique.Count));
            await using var reader = await draw.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            now = reader.GetFieldValue<DateTimeOffset>(0);
            numbers = reader.GetFieldValue<long[]>(1);
        }

        var batch = new Journal[unique.Count];
        var docs = new string[unique.Count];
        var batchHashes = new string[unique.Count];
        for (var r = 0; r < unique.Count; r++)
        {
            batch[r] = journals[unique[r]];
            // The column default's format ('JE-' || lpad(n, 10, '0')), without lpad's truncation past 10 digits.
            docs[r] = "JE-" + numbers[r].ToString("D10", System.Globalization.CultureInfo.InvariantCulture);
            batchHashes[r] = hashes[unique[r]];
        }

        try
        {
            await CopyIntoLedgerAsync(connection, batch, docs, batchHashes, now, cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.UniqueViolation && ex.ConstraintName == "postings_pkey")
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return false;
        }

        for (var r = 0; r < batch.Length; r++)
        {
            rows[batch[r].PostingKey] = (docs[r], batchHashes[r], now, true);
        }

        return true;
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<TrialBalanceRow>> TrialBalanceAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("""
            SELECT e.legal_entity_id, e.currency, l.account, sum(l.debit), sum(l.credit)
            FROM journal_lines l JOIN journal_entries e ON e.posting_key = l.posting_key
            GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
            """, connection);
        var rows = new List<TrialBalanceRow>();
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(new TrialBalanceRow(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetDecimal(3), reader.GetDecimal(4)));
        }

        return rows;
    }

    /// <inheritdoc />
    public async Task<long> CountJournalsAsync(CancellationToken cancellationToken)
    {
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("SELECT count(*) FROM journal_entries;", connection);
        return (long)(await cmd.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc />
    public async Task<Journal?> FindJournalAsync(string postingKey, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(postingKey);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand("""
            SELECT e.correlation_id, e.event_type, e.legal_entity_id, e.customer_id, e.currency, e.effective_date, e.document_number,
                   e.source_system, e.source_object, e.source_event_id, e.source_topic, e.source_partition, e.source_offset,
                   l.account, l.debit, l.credit, l.memo
            FROM journal_entries e JOIN journal_lines l ON l.posting_key = e.posting_key
            WHERE e.posting_key = @k ORDER BY l.line_no;
            """, connection);
        cmd.Parameters.Add(new NpgsqlParameter<string>("k", postingKey));
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        Journal? journal = null;
        var lines = new List<JournalLine>();
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            if (journal is null)
            {
                var source = reader.GetString(8).Split(':', 2);
                journal = new Journal(postingKey, reader.GetString(0), Enum.Parse<FinanceEventKind>(reader.GetString(1)), reader.GetString(2), reader.GetString(3),
                    reader.GetString(4).Trim(), reader.GetFieldValue<DateOnly>(5).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), reader.IsDBNull(6) ? null : reader.GetString(6), lines,
                    new SourceCoordinates(reader.GetString(7), source[0], source.Length > 1 ? source[1] : "", reader.GetString(9), reader.IsDBNull(10) ? null : reader.GetString(10),
                        reader.IsDBNull(11) ? null : reader.GetInt32(11), reader.IsDBNull(12) ? null : reader.GetInt64(12)));
            }

            lines.Add(new JournalLine(reader.GetString(13), reader.GetDecimal(14), reader.GetDecimal(15), reader.GetString(16)));
        }

        return journal;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();

    private static async Task Exec(NpgsqlConnection connection, NpgsqlTransaction tx, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, connection, tx);
        await cmd.ExecuteNonQueryAsync(ct).ConfigureAwait(false);
    }

    private static NpgsqlCommand ArrayMerge(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<Journal> journals, string[] hashes, List<int> unique)
    {
        var n = unique.Count;
        var cols = new object?[15][];
        for (var c = 0; c < cols.Length; c++)
        {
            cols[c] = new object?[n];
        }

        var lineCount = unique.Sum(i => journals[i].Lines.Count);
        var lk = new string[lineCount];
        var ln = new int[lineCount];
        var acct = new string[lineCount];
        var dr = new decimal[lineCount];
        var cr = new decimal[lineCount];
        var memo = new string[lineCount];
        var li = 0;
        for (var r = 0; r < n; r++)
        {
            var j = journals[unique[r]];
            var row = EntryRow(j, hashes[unique[r]]);
            for (var c = 0; c < row.Length; c++)
            {
                cols[c][r] = row[c];
            }

            for (var x = 0; x < j.Lines.Count; x++, li++)
            {
                lk[li] = j.PostingKey;
                ln[li] = x + 1;
                acct[li] = j.Lines[x].Account;
                dr[li] = j.Lines[x].Debit;
                cr[li] = j.Lines[x].Credit;
                memo[li] = j.Lines[x].Memo;
            }
        }

        var cmd = new NpgsqlCommand(MergeFromArrays, connection, tx);
        string[] names = ["k", "hash", "type", "le", "cust", "cur", "date", "num", "corr", "sys", "obj", "evt", "topic", "part", "off"];
        for (var c = 0; c < names.Length; c++)
        {
            cmd.Parameters.Add(c switch
            {
                6 => new NpgsqlParameter<DateOnly[]>(names[c], cols[c].Select(v => (DateOnly)v!).ToArray()),
                13 => new NpgsqlParameter<int?[]>(names[c], cols[c].Select(v => (int?)v).ToArray()),
                14 => new NpgsqlParameter<long?[]>(names[c], cols[c].Select(v => (long?)v).ToArray()),
                _ => new NpgsqlParameter<string?[]>(names[c], cols[c].Select(v => (string?)v).ToArray()),
            });
        }

        cmd.Parameters.Add(new NpgsqlParameter<string[]>("lk", lk));
        cmd.Parameters.Add(new NpgsqlParameter<int[]>("ln", ln));
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("acct", acct));
        cmd.Parameters.Add(new NpgsqlParameter<decimal[]>("dr", dr));
        cmd.Parameters.Add(new NpgsqlParameter<decimal[]>("cr", cr));
        cmd.Parameters.Add(new NpgsqlParameter<string[]>("memo", memo));
        return cmd;
    }

    private static object?[] EntryRow(Journal j, string hash) =>
    [
        j.PostingKey, hash, j.EventKind.ToString(), j.LegalEntityId, j.CustomerId, j.Currency, DateOnly.FromDateTime(j.EffectiveDate), j.DocumentNumber,
        j.CorrelationId, j.Source.System, $"{j.Source.ObjectType}:{j.Source.ObjectId}", j.Source.EventId, j.Source.Topic, j.Source.Partition, j.Source.Offset,
    ];

    private static async Task CopyToStageAsync(NpgsqlConnection connection, NpgsqlTransaction tx, IReadOnlyList<Journal> journals, string[] hashes,
        List<int> unique, CancellationToken ct)
    {
        await Exec(connection, tx, StageDdl, ct).ConfigureAwait(false);
        using var copy = new PgBinaryCopyWriter();
        foreach (var i in unique)
        {
            EncodeEntry(copy, journals[i], hashes[i]);
        }

        await copy.CopyAsync(connection, "COPY stage_entries (" + EntryColumns("content_hash") + ") FROM STDIN (FORMAT BINARY)", ct).ConfigureAwait(false);
        copy.Reset();
        foreach (var i in unique)
        {
            EncodeLines(copy, journals[i]);
        }

        await copy.CopyAsync(connection, LinesCopy.Replace("journal_lines", "stage_lines", StringComparison.Ordinal), ct).ConfigureAwait(false);
    }

    private const string PostingsCopy = "COPY postings (posting_key, status, erp_document_id, content_hash, correlation_id, posted_at) FROM STDIN (FORMAT BINARY)";
    private const string LinesCopy = "COPY journal_lines (posting_key, line_no, account, debit, credit, memo) FROM STDIN (FORMAT BINARY)";

    /// <summary>The entry columns in COPY order; the second one is the ledger's document id or the staging table's content hash.</summary>
    private static string EntryColumns(string second) => "posting_key, " + second + ", event_type, legal_entity_id, customer_id, currency, effective_date, document_number, "
        + "correlation_id, source_system, source_object, source_event_id, source_topic, source_partition, source_offset";

    /// <summary>One entry row (see <see cref="EntryColumns"/>), encoded for binary COPY.</summary>
    private static void EncodeEntry(PgBinaryCopyWriter copy, Journal j, string secondColumn)
    {
        copy.StartRow(15);
        copy.Text(j.PostingKey);
        copy.Text(secondColumn);
        copy.Text(EventTypeName(j.EventKind));
        copy.Text(j.LegalEntityId);
        copy.Text(j.CustomerId);
        copy.Text(j.Currency);
        copy.Date(DateOnly.FromDateTime(j.EffectiveDate));
        copy.NullableText(j.DocumentNumber);
        copy.Text(j.CorrelationId);
        copy.Text(j.Source.System);
        copy.Text(SourceObject(j.Source));
        copy.Text(j.Source.EventId);
        copy.NullableText(j.Source.Topic);
        copy.NullableInt32(j.Source.Partition);
        copy.NullableInt64(j.Source.Offset);
    }

    /// <summary>A journal's line rows, numbered from 1, encoded for binary COPY.</summary>
    private static void EncodeLines(PgBinaryCopyWriter copy, Journal j)
    {
        for (var x = 0; x < j.Lines.Count; x++)
        {
            var l = j.Lines[x];
            copy.StartRow(6);
            copy.Text(j.PostingKey);
            copy.Int32(x + 1);
            copy.Text(l.Account);
            copy.Numeric(l.Debit);
            copy.Numeric(l.Credit);
            copy.Text(l.Memo);
        }
    }

    private static readonly Dictionary<FinanceEventKind, string> EventTypeNames = Enum.GetValues<FinanceEventKind>().ToDictionary(k => k, k => k.ToString());

    /// <summary>The event kind's name as stored (<c>InvoiceIssued</c>…), without <see cref="Enum.ToString()"/> per row.</summary>
    private static string EventTypeName(FinanceEventKind kind) => EventTypeNames.TryGetValue(kind, out var name) ? name : kind.ToString();

    /// <summary>The stored <c>source_object</c>: <c>{objectType}:{objectId}</c>.</summary>
    private static string SourceObject(SourceCoordinates source) => string.Concat(source.ObjectType, ":", source.ObjectId);

    private static Task WriteNullable<T>(NpgsqlBinaryImporter importer, T? value, NpgsqlDbType type, CancellationToken ct)
        => value is null ? importer.WriteNullAsync(ct) : importer.WriteAsync(value, type, ct);

    /// <summary>Raw COPY of already-built rows straight into the ledger tables (no idempotency check): the benchmark's baseline.</summary>
    public async Task CopyRawAsync(IReadOnlyList<Journal> journals, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(journals);
        await using var connection = await _dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await CopyWithImporterAsync(connection, journals, journals.Select(j => "RAW-" + j.PostingKey).ToArray(), journals.Select(j => j.ContentHash()).ToArray(),
            DateTimeOffset.UtcNow, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Binary COPY of <paramref name="journals"/> (distinct keys) into <c>postings</c>, <c>journal_entries</c> and <c>journal_lines</c>, in
    /// the open transaction: the rows encoded by <see cref="PgBinaryCopyWriter"/>, one COPY per table.
    /// </summary>
    private static async Task CopyIntoLedgerAsync(NpgsqlConnection connection, IReadOnlyList<Journal> journals, string[] docs, string[] hashes, DateTimeOffset postedAt,
        CancellationToken cancellationToken)
    {
        using var copy = new PgBinaryCopyWriter();
        for (var r = 0; r < journals.Count; r++)
        {
            var j = journals[r];
            copy.StartRow(6);
            copy.Text(j.PostingKey);
            copy.Text("POSTED");
            copy.Text(docs[r]);
            copy.Text(hashes[r]);
            copy.Text(j.CorrelationId);
            copy.TimestampTz(postedAt);
        }

        await copy.CopyAsync(connection, PostingsCopy, cancellationToken).ConfigureAwait(false);
        copy.Reset();
        for (var r = 0; r < journals.Count; r++)
        {
            EncodeEntry(copy, journals[r], docs[r]);
        }

        await copy.CopyAsync(connection, "COPY journal_entries (" + EntryColumns("erp_document_id") + ") FROM STDIN (FORMAT BINARY)", cancellationToken).ConfigureAwait(false);
        copy.Reset();
        foreach (var j in journals)
        {
            EncodeLines(copy, j);
        }

        await copy.CopyAsync(connection, LinesCopy, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// The benchmark baseline's COPY: the same rows as <see cref="CopyIntoLedgerAsync"/>, written field by field through Npgsql's
    /// <see cref="NpgsqlBinaryImporter"/> (the plain way to COPY with Npgsql).
    /// </summary>
    private static async Task CopyWithImporterAsync(NpgsqlConnection connection, IReadOnlyList<Journal> journals, string[] docs, string[] hashes, DateTimeOffset postedAt,
        CancellationToken cancellationToken)
    {
        await using (var postings = await connection.BeginBinaryImportAsync(PostingsCopy, cancellationToken).ConfigureAwait(false))
        {
            for (var r = 0; r < journals.Count; r++)
            {
                var j = journals[r];
                await postings.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await postings.WriteAsync(j.PostingKey, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await postings.WriteAsync("POSTED", NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await postings.WriteAsync(docs[r], NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await postings.WriteAsync(hashes[r], NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await postings.WriteAsync(j.CorrelationId, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                await postings.WriteAsync(postedAt, NpgsqlDbType.TimestampTz, cancellationToken).ConfigureAwait(false);
            }

            await postings.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await using (var entries = await connection.BeginBinaryImportAsync("COPY journal_entries (" + EntryColumns("erp_document_id") + ") FROM STDIN (FORMAT BINARY)",
                         cancellationToken).ConfigureAwait(false))
        {
            for (var r = 0; r < journals.Count; r++)
            {
                await entries.StartRowAsync(cancellationToken).ConfigureAwait(false);
                await WriteEntryAsync(entries, journals[r], docs[r], cancellationToken).ConfigureAwait(false);
            }

            await entries.CompleteAsync(cancellationToken).ConfigureAwait(false);
        }

        await using var lines = await connection.BeginBinaryImportAsync(LinesCopy, cancellationToken).ConfigureAwait(false);
        foreach (var j in journals)
        {
            await WriteLinesAsync(lines, j, cancellationToken).ConfigureAwait(false);
        }

        await lines.CompleteAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>One entry row through the importer (the baseline's); the second column is the document id.</summary>
    private static async Task WriteEntryAsync(NpgsqlBinaryImporter entries, Journal j, string secondColumn, CancellationToken ct)
    {
        await entries.WriteAsync(j.PostingKey, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(secondColumn, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(j.EventKind.ToString(), NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(j.LegalEntityId, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(j.CustomerId, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(j.Currency, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(DateOnly.FromDateTime(j.EffectiveDate), NpgsqlDbType.Date, ct).ConfigureAwait(false);
        await WriteNullable(entries, j.DocumentNumber, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(j.CorrelationId, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(j.Source.System, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync($"{j.Source.ObjectType}:{j.Source.ObjectId}", NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await entries.WriteAsync(j.Source.EventId, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await WriteNullable(entries, j.Source.Topic, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        await WriteNullable(entries, j.Source.Partition, NpgsqlDbType.Integer, ct).ConfigureAwait(false);
        await WriteNullable(entries, j.Source.Offset, NpgsqlDbType.Bigint, ct).ConfigureAwait(false);
    }

    private static async Task WriteLinesAsync(NpgsqlBinaryImporter lines, Journal j, CancellationToken ct)
    {
        for (var x = 0; x < j.Lines.Count; x++)
        {
            var l = j.Lines[x];
            await lines.StartRowAsync(ct).ConfigureAwait(false);
            await lines.WriteAsync(j.PostingKey, NpgsqlDbType.Text, ct).ConfigureAwait(false);
            await lines.WriteAsync(x + 1, NpgsqlDbType.Integer, ct).ConfigureAwait(false);
            await lines.WriteAsync(l.Account, NpgsqlDbType.Text, ct).ConfigureAwait(false);
            await lines.WriteAsync(l.Debit, NpgsqlDbType.Numeric, ct).ConfigureAwait(false);
            await lines.WriteAsync(l.Credit, NpgsqlDbType.Numeric, ct).ConfigureAwait(false);
            await lines.WriteAsync(l.Memo, NpgsqlDbType.Text, ct).ConfigureAwait(false);
        }
    }
}
