using Streaming.Testing;

[assembly: AssemblyFixture(typeof(Streaming.Sinks.Tests.PostgresFixture))]

namespace Streaming.Sinks.Tests;

/// <summary>
/// One throwaway PostgreSQL cluster for the whole test assembly (started lazily on first use, so tests that do not need it
/// pay nothing); each test gets its own database. Without server binaries the tests that need it fail with the reason.
/// </summary>
public sealed class PostgresFixture : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    private ThrowawayPostgres? _cluster;
    private int _databases;

    /// <summary>The running cluster (started on first call).</summary>
    public async Task<ThrowawayPostgres> ClusterAsync()
    {
        await _gate.WaitAsync(TestContext.Current.CancellationToken);
        try
        {
            return _cluster ??= await ThrowawayPostgres.StartAsync(durable: false, TestContext.Current.CancellationToken);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A fresh, empty database; returns its connection string.</summary>
    public async Task<string> NewDatabaseAsync()
    {
        var cluster = await ClusterAsync();
        return await cluster.CreateDatabaseAsync($"ledger_{Interlocked.Increment(ref _databases)}_{Guid.NewGuid():N}"[..30], TestContext.Current.CancellationToken);
    }

    public async ValueTask DisposeAsync()
    {
        if (_cluster is not null)
        {
            await _cluster.DisposeAsync();
        }

        _gate.Dispose();
    }
}
