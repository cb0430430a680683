using BenchmarkDotNet.Running;

namespace Streaming.Bench.Micro;

/// <summary>The <c>micro</c> subcommand: BenchmarkDotNet micro-benchmarks, arguments passed straight to BenchmarkSwitcher.</summary>
public static class MicroCommand
{
    /// <summary>Runs the selected benchmarks; returns the process exit code.</summary>
    public static int Run(string[] args)
    {
        var summaries = BenchmarkSwitcher.FromAssembly(typeof(MicroCommand).Assembly).Run(args);
        return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
    }
}
