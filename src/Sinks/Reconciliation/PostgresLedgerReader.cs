using Npgsql;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Reconciliation;

/// <summary>
/// Read-only queries on the PostgreSQL ledger (the tables <see cref="Ledger.PostgresLedger"/> migrates) for reconciliation:
/// the session is <c>default_transaction_read_only</c>, nothing is migrated or written, so a running sink is never blocked
/// or changed. Amounts are <c>numeric</c> and read back as exact decimals.
/// </summary>
public sealed class PostgresLedgerReader : ILedgerReader
{
    private readonly NpgsqlConnection _connection;

    private PostgresLedgerReader(NpgsqlConnection connection, string location)
    {
        _connection = connection;
        Location = location;
    }

    /// <inheritdoc />
    public string Location { get; }

    /// <summary>
    /// Connects read-only to an existing ledger. Throws <see cref="NpgsqlException"/> when the server cannot be reached and
    /// <see cref="InvalidOperationException"/> when the database holds no ledger (no <c>journal_entries</c> table).
    /// </summary>
    public static async Task<PostgresLedgerReader> OpenAsync(string connectionString, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(connectionString);
        var builder = new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false };
        builder.Options = $"{builder.Options} -c default_transaction_read_only=on".TrimStart(); // keeps any options the operator set
        var location = $"PostgreSQL {builder.Host}:{builder.Port}/{builder.Database} (user {builder.Username}, read-only)";
        var connection = new NpgsqlConnection(builder.ConnectionString);
        try
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var check = new NpgsqlCommand("SELECT to_regclass('journal_entries') IS NOT NULL AND to_regclass('journal_lines') IS NOT NULL;", connection);
            if (await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not true)
            {
                throw new InvalidOperationException($"No ledger in {location}: tables journal_entries / journal_lines do not exist (no sink has posted there yet).");
            }
        }
        catch
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return new PostgresLedgerReader(connection, location);
    }

    /// <inheritdoc />
    public async Task<IReadOnlyList<LedgerJournal>> JournalsAsync(Period period, string? entity, CancellationToken cancellationToken)
    {
        await using var cmd = new NpgsqlCommand(LedgerJournalRows.Sql('@', "::text"), _connection);
        cmd.Parameters.AddWithValue("from", DateOnly.FromDateTime(period.Start));
        cmd.Parameters.AddWithValue("to", DateOnly.FromDateTime(period.End));
        cmd.Parameters.Add(new NpgsqlParameter("entity", NpgsqlTypes.NpgsqlDbType.Text) { Value = (object?)entity ?? DBNull.Value });
        await using var reader = await cmd.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await LedgerJournalRows.ReadAsync(reader, (r, i) => r.GetFieldValue<DateOnly>(i).ToDateTime(TimeOnly.MinValue, DateTimeKind.Utc), (r, i) => r.GetDecimal(i),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc />
    public ValueTask DisposeAsync() => _connection.DisposeAsync();
}
