using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Platform.Configuration;
using Streaming.Sinks.NetSuite;

namespace Streaming.Sinks.Ledger;

/// <summary>Opens the ledger the configuration names (section <c>Ledger</c>), migrated and ready.</summary>
public static class LedgerFactory
{
    /// <summary>
    /// SQLite at <see cref="LedgerOptions.SqlitePath"/> (or <paramref name="sqlitePathOverride"/>), PostgreSQL at
    /// <see cref="LedgerOptions.ConnectionString"/>, or the NetSuite REST adapter configured by <paramref name="netSuite"/>
    /// (section <c>NetSuite</c>, bound and validated by the caller; see <see cref="BindNetSuite"/>).
    /// </summary>
    public static async Task<ILedger> OpenAsync(LedgerOptions options, CancellationToken cancellationToken, string? sqlitePathOverride = null,
        NetSuiteOptions? netSuite = null, ILoggerFactory? loggerFactory = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.EffectiveProvider switch
        {
            "Sqlite" => await SqliteLedger.OpenAsync(sqlitePathOverride ?? options.SqlitePath, cancellationToken).ConfigureAwait(false),
            "Postgres" => await PostgresLedger.OpenAsync(
                options.ConnectionString ?? throw new ArgumentException("Ledger:ConnectionString is required for the Postgres ledger.", nameof(options)),
                Enum.Parse<PostgresWriteMode>(options.PostgresWriteMode), cancellationToken).ConfigureAwait(false),
            "NetSuite" => NetSuiteLedger.Create(
                netSuite ?? throw new ArgumentException("Ledger:Provider 'NetSuite' needs the NetSuite section (NetSuite:BaseUrl, AccountId, ConsumerKey, ConsumerSecret, TokenId, TokenSecret).", nameof(netSuite)),
                (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger<NetSuiteLedger>()),
            _ => throw new ArgumentException($"Ledger:Provider '{options.Provider}' is not a known ledger (Sqlite, Postgres, NetSuite).", nameof(options)),
        };
    }

    /// <summary>
    /// The <c>NetSuite</c> section, bound and validated, when <paramref name="options"/> selects the NetSuite adapter; otherwise null.
    /// </summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">A NetSuite setting is missing or invalid (each failure names its key).</exception>
    public static NetSuiteOptions? BindNetSuite(LedgerOptions options, Microsoft.Extensions.Configuration.IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(options);
        return options.EffectiveProvider == "NetSuite" ? configuration.BindValidated<NetSuiteOptions>(NetSuiteOptions.Section) : null;
    }
}
