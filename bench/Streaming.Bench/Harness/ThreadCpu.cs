using System.Globalization;

namespace Streaming.Bench.Harness;

/// <summary>
/// CPU time of every thread of this process, read from <c>/proc/self/task/*/stat</c> (Linux; empty elsewhere). The
/// difference of two snapshots names the thread that did most of the work in between (a stream thread, a consume
/// loop) and how much CPU it used: CPU per record of one thread is its capacity, whatever share of the cores it got.
/// </summary>
public sealed class ThreadCpu
{
    private const double TicksPerSecond = 100; // USER_HZ on Linux
    private readonly Dictionary<int, (string Name, long Ticks)> _threads;

    private ThreadCpu(Dictionary<int, (string Name, long Ticks)> threads) => _threads = threads;

    /// <summary>Reads the CPU time of every thread now.</summary>
    public static ThreadCpu Snapshot()
    {
        var threads = new Dictionary<int, (string, long)>();
        if (!Directory.Exists("/proc/self/task"))
        {
            return new ThreadCpu(threads);
        }

        foreach (var dir in Directory.EnumerateDirectories("/proc/self/task"))
        {
            try
            {
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                // pid (comm) state ... : comm may contain spaces and parentheses, so split after the last ')'.
                var open = stat.IndexOf('(', StringComparison.Ordinal);
                var close = stat.LastIndexOf(')');
                var fields = stat[(close + 2)..].Split(' ');
                // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
                var ticks = long.Parse(fields[11], CultureInfo.InvariantCulture) + long.Parse(fields[12], CultureInfo.InvariantCulture);
                threads[int.Parse(Path.GetFileName(dir), CultureInfo.InvariantCulture)] = (stat[(open + 1)..close], ticks);
            }
            catch (IOException)
            {
                // The thread ended while we read it.
            }
        }

        return new ThreadCpu(threads);
    }

    /// <summary>CPU used since <paramref name="before"/> per thread name (threads of one name summed), most first.</summary>
    public IReadOnlyList<(string Name, TimeSpan Cpu)> ByName(ThreadCpu before)
    {
        ArgumentNullException.ThrowIfNull(before);
        return _threads.GroupBy(t => t.Value.Name)
            .Select(g => (g.Key, TimeSpan.FromSeconds(g.Sum(t => t.Value.Ticks - (before._threads.TryGetValue(t.Key, out var b) ? b.Ticks : 0)) / TicksPerSecond)))
            .Where(t => t.Item2 > TimeSpan.Zero)
            .OrderByDescending(t => t.Item2)
            .ToList();
    }

    /// <summary>The thread that used the most CPU since <paramref name="before"/>, excluding librdkafka's own threads.</summary>
    public (string Name, TimeSpan Cpu) Busiest(ThreadCpu before)
    {
        ArgumentNullException.ThrowIfNull(before);
        var best = ("none", 0L);
        foreach (var (tid, (name, ticks)) in _threads)
        {
            if (name.StartsWith("rdk:", StringComparison.Ordinal))
            {
                continue;
            }

            var delta = ticks - (before._threads.TryGetValue(tid, out var b) ? b.Ticks : 0);
            if (delta > best.Item2)
            {
                best = (name, delta);
            }
        }

        return (best.Item1, TimeSpan.FromSeconds(best.Item2 / TicksPerSecond));
    }
}
