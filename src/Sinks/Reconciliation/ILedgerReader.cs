namespace Streaming.Sinks.Reconciliation;

/// <summary>Read-only access to a SQL ledger's journals for reconciliation (SQLite or PostgreSQL; same tables and queries).</summary>
public interface ILedgerReader : IAsyncDisposable
{
    /// <summary>Where the ledger is (file path, or host/port/database without the password).</summary>
    string Location { get; }

    /// <summary>Every journal whose effective date falls in <paramref name="period"/> (optionally one entity), with its lines in order.</summary>
    Task<IReadOnlyList<LedgerJournal>> JournalsAsync(Period period, string? entity, CancellationToken cancellationToken);
}
