using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Streaming.Platform.Configuration;

namespace Streaming.Platform.Tests;

/// <summary>Ledger choice by configuration: SQLite by default, PostgreSQL from LEDGER_CONNECTION_STRING, bad values named.</summary>
public sealed class LedgerOptionsTests
{
    private static LedgerOptions Bind(Dictionary<string, string?> values, Func<string, string?>? env = null)
        => new ConfigurationBuilder().AddInMemoryCollection(values).AddStreamingEnvironment(env ?? (_ => null)).Build()
            .BindValidated<LedgerOptions>(LedgerOptions.Section);

    [Fact]
    public void Nothing_set_means_the_embedded_SQLite_ledger()
    {
        var options = Bind([]);
        Assert.Equal(("Sqlite", "state/ledger.db", "CopyMerge"), (options.EffectiveProvider, options.SqlitePath, options.PostgresWriteMode));
    }

    [Fact]
    public void LEDGER_CONNECTION_STRING_selects_PostgreSQL_unless_a_provider_is_named()
    {
        const string cs = "Host=db;Port=5432;Database=ledger;Username=streaming;Password=secret";
        var fromEnv = Bind([], name => name == "LEDGER_CONNECTION_STRING" ? cs : null);
        Assert.Equal(("Postgres", cs), (fromEnv.EffectiveProvider, fromEnv.ConnectionString));

        var pinned = Bind(new() { ["Ledger:Provider"] = "Sqlite" }, name => name == "LEDGER_CONNECTION_STRING" ? cs : null);
        Assert.Equal("Sqlite", pinned.EffectiveProvider);
    }

    [Fact]
    public void Postgres_without_a_connection_string_and_unknown_values_are_named()
    {
        var missing = Assert.Throws<OptionsValidationException>(() => Bind(new() { ["Ledger:Provider"] = "Postgres" }));
        Assert.Contains("LEDGER_CONNECTION_STRING", Assert.Single(missing.Failures), StringComparison.Ordinal);

        var bad = Assert.Throws<OptionsValidationException>(() => Bind(new() { ["Ledger:Provider"] = "Oracle", ["Ledger:PostgresWriteMode"] = "Fast" }));
        Assert.Contains(bad.Failures, f => f.Contains("Ledger:Provider", StringComparison.Ordinal));
        Assert.Contains(bad.Failures, f => f.Contains("Ledger:PostgresWriteMode", StringComparison.Ordinal));
    }
}
