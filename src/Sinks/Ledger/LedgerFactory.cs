using Streaming.Platform.Configuration;

namespace Streaming.Sinks.Ledger;

/// <summary>Opens the ledger the configuration names (section <c>Ledger</c>), migrated and ready.</summary>
public static class LedgerFactory
{
    /// <summary>SQLite at <see cref="LedgerOptions.SqlitePath"/> (or <paramref name="sqlitePathOverride"/>), or PostgreSQL at <see cref="LedgerOptions.ConnectionString"/>.</summary>
    public static async Task<ILedger> OpenAsync(LedgerOptions options, CancellationToken cancellationToken, string? sqlitePathOverride = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.EffectiveProvider switch
        {
            "Sqlite" => await SqliteLedger.OpenAsync(sqlitePathOverride ?? options.SqlitePath, cancellationToken).ConfigureAwait(false),
            "Postgres" => await PostgresLedger.OpenAsync(
                options.ConnectionString ?? throw new ArgumentException("Ledger:ConnectionString is required for the Postgres ledger.", nameof(options)),
                Enum.Parse<PostgresWriteMode>(options.PostgresWriteMode), cancellationToken).ConfigureAwait(false),
            _ => throw new ArgumentException($"Ledger:Provider '{options.Provider}' is not a known ledger (Sqlite, Postgres).", nameof(options)),
        };
    }
}
