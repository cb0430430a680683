using System.Runtime.InteropServices;
using Microsoft.Extensions.Logging;

namespace Streaming.Bench.Harness;

/// <summary>What every scenario prints about the machine it ran on, and the console logging it runs with.</summary>
public static class BenchMachine
{
    /// <summary>Cores, OS, runtime and architecture.</summary>
    public static string Description =>
        $"{Environment.ProcessorCount} logical cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.ProcessArchitecture}";

    /// <summary>The 1/5/15-minute load average (<c>/proc/loadavg</c>), or <c>n/a</c>.</summary>
    public static string LoadAverage()
    {
        try
        {
            var parts = File.ReadAllText("/proc/loadavg").Split(' ');
            return $"{parts[0]} {parts[1]} {parts[2]}";
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return "n/a";
        }
    }

    /// <summary>Single-line console logging of warnings and worse: the harness's own output stays readable.</summary>
    public static ILoggerFactory ConsoleLogging() => LoggerFactory.Create(b => b.AddSimpleConsole(c => c.SingleLine = true).SetMinimumLevel(LogLevel.Warning));
}
