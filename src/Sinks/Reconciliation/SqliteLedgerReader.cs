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
        cmd.CommandText = LedgerJournalRows.Sql('$', "");
        cmd.Parameters.AddWithValue("$from", period.Start.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$to", period.End.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        cmd.Parameters.AddWithValue("$entity", (object?)entity ?? DBNull.Value);
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await LedgerJournalRows.ReadAsync(reader,
            (r, i) => DateTime.SpecifyKind(DateTime.ParseExact(r.GetString(i), "yyyy-MM-dd", CultureInfo.InvariantCulture), DateTimeKind.Utc),
            (r, i) => Parse(r.GetString(i)), cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();

    private static decimal Parse(string value) => decimal.Parse(value, NumberStyles.Number, CultureInfo.InvariantCulture);
}
