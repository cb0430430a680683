using Streaming.Cli.Commands;

namespace Streaming.IntegrationTests;

/// <summary><c>up</c> without <c>--demo</c>: keeps running until cancelled (Ctrl-C / SIGTERM), then stops cleanly with exit code 0.</summary>
public sealed class UpCommandLifecycleTests
{
    [Fact]
    public async Task Up_runs_until_cancelled_and_then_stops_cleanly()
    {
        var dir = Directory.CreateTempSubdirectory("up-lifecycle-");
        var inner = new StringWriter();
        var output = TextWriter.Synchronized(inner);
        var errorInner = new StringWriter();
        var error = TextWriter.Synchronized(errorInner);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);

        var run = UpCommand.RunAsync(demo: false, Path.Combine(dir.FullName, "ledger.db"), timeoutSeconds: 120, output, error, stop.Token);
        var deadline = DateTime.UtcNow.AddSeconds(120);
        while (!Snapshot(output, inner).Contains("Press Ctrl-C to stop.", StringComparison.Ordinal))
        {
            Assert.False(run.IsCompleted, $"up ended before running: {Snapshot(error, errorInner)}\n{Snapshot(output, inner)}");
            Assert.True(DateTime.UtcNow < deadline, "up did not report running within 120 s");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }

        Assert.False(run.IsCompleted, "up must keep running until cancelled");
        await stop.CancelAsync();
        var exit = await run.WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.True(exit == 0, $"up exited {exit}\n{Snapshot(error, errorInner)}\n{Snapshot(output, inner)}");
        Assert.Contains("Stopped: topology", Snapshot(output, inner), StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(dir.FullName, "ledger.db")));
        dir.Delete(recursive: true);
    }

    // TextWriter.Synchronized locks on the wrapper itself, so reading under the same lock sees whole writes.
    private static string Snapshot(TextWriter synchronizedWrapper, StringWriter inner)
    {
        lock (synchronizedWrapper)
        {
            return inner.ToString();
        }
    }
}
