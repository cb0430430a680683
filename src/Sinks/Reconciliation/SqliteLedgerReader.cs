using System.Globalization;
using Microsoft.Data.Sqlite;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Reconciliation;

/// <summary>
/// Read-only queries on the SQLite ledger for reconciliation (opened with <c>Mode=ReadOnly</c>, so a running sink is never
/// blocked or changed). Amounts are read back as exact decimals from their text form.
/// </summary>
public sealed class SqliteLedgerReader : ILedgerReader
{
    private readonly SqliteConnection _connection;

    private SqliteLedgerReader(SqliteConnection connection, string path)
    {
        _connection = connection;
        Location = path;
    }

    /// <summary>Full path of the ledger file.</summary>
    public string Location { get; }

    /// <summary>Opens an existing ledger read-only; throws <see cref="FileNotFoundException"/> when there is none.</summary>
    public static async Task<SqliteLedgerReader> OpenAsync(string path, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        var full = Path.GetFullPath(path);
        if (!File.Exists(full))
        {
            throw new FileNotFoundException($"No ledger at {full}.", full);
        }

        var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = full, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        return new SqliteLedgerReader(connection, full);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerJournal>> JournalsAsync(Period period, string? entity, CancellationToken cancellationToken)
    {
        await using var cmd = _connection.CreateCommand();
        cmd.CommandText = """
            SELECT e.posting_key, e.event_type, e.legal_entity_id, e.currency, e.effective_date, e.source_object, e.erp_document_id,
                   l.account, l.debit, l.credit, l.memo
            FROM journal_entries e JOIN journal_lines l ON l.posting_key = e.posting_key
            WHERE e.effective_date >= $from AND e.effective_date < $to AND ($entity IS NULL OR e.legal_entity_id = $entity)
            ORDER BY e.posting_key, l.line_no;
            """;
        cmd.Parameters.AddWithValue("$from", period.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$to", period.End.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$entity", (object?)entity ?? DBNull.Value);
        var journals = new List<LedgerJournal>();
        List<JournalLine>? lines = null;
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = reader.GetString(0);
            if (journals.Count == 0 || journals[^1].PostingKey != key)
            {
                lines = [];
                journals.Add(new LedgerJournal(key, Enum.Parse<FinanceEventKind>(reader.GetString(1)), reader.GetString(2), reader.GetString(3),
                    DateTime.SpecifyKind(DateTime.ParseExact(reader.GetString(4), "yyyy-MM-dd", CultureInfo.InvariantCulture), DateTimeKind.Utc),
                    reader.GetString(5), reader.GetString(6), lines));
            }

            lines!.Add(new JournalLine(reader.GetString(7), Parse(reader.GetString(8)), Parse(reader.GetString(9)), reader.GetString(10)));
        }

        return journals;
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private static decimal Parse(string value) => decimal.Parse(value, NumberStyles.Number, CultureInfo.InvariantCulture);
}
