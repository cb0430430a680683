using System.Diagnostics;
using System.Net;
using Confluent.SchemaRegistry;
using Streaming.Bench.Harness;
using Streaming.SchemaRegistry;
using Streaming.SchemaRegistry.Evolution;

namespace Streaming.Bench.Registry;

/// <summary>Options of the <c>registry</c> subcommand.</summary>
public sealed record RegistryBenchOptions
{
    /// <summary>Seconds each HTTP phase runs.</summary>
    public int Seconds { get; init; } = 3;

    /// <summary>Alternating rounds of the two HTTP phases (medians reported).</summary>
    public int Rounds { get; init; } = 3;

    /// <summary>Concurrent keep-alive connections (one request in flight on each).</summary>
    public int Connections { get; init; } = 8;

    /// <summary>Timed repetitions of the schemas check.</summary>
    public int CheckRepetitions { get; init; } = 20;

    /// <summary>The schemas directory; null = schemas/ in or above the working directory.</summary>
    public string? SchemasDir { get; init; }

    /// <summary>Usage text.</summary>
    public const string Usage = """
        registry [--seconds 3] [--rounds 3] [--connections 8] [--check-repetitions 20] [--schemas DIR]
                                          schema registry: GET /schemas/ids/{id} over HTTP keep-alive (requests/s, and
                                          as a ratio of GET / on the same server), and the time to check all of schemas/
        """;

    /// <summary>Parses the subcommand's arguments.</summary>
    public static RegistryBenchOptions Parse(string[] args)
    {
        return BenchArguments.Parse(args, new RegistryBenchOptions(), (a, options) => a.Name switch
        {
            "--seconds" => options with { Seconds = a.Positive() },
            "--connections" => options with { Connections = a.Positive() },
            "--rounds" => options with { Rounds = a.Positive() },
            "--check-repetitions" => options with { CheckRepetitions = a.Positive() },
            "--schemas" => options with { SchemasDir = a.Value() },
            _ => throw a.Unknown("registry"),
        });
    }
}

/// <summary>
/// The registry benchmark: an in-process registry (Kestrel, in-memory store: reads never touch the store's Kafka topic)
/// holding every schema of <c>schemas/</c>; N keep-alive connections issue GET /schemas/ids/{id} (rotating over the
/// ids) for a fixed time. The same connections first hit <c>GET /</c> (an empty JSON body) — the HTTP floor of this
/// server on this machine — so the by-id figure is also reported as a ratio of it. Then the CI gate's check
/// (<see cref="SchemaGate.CheckBaseline"/>: load the catalog, parse every current and released schema, resolve) is timed.
/// </summary>
public static class RegistryBenchmark
{
    /// <summary>Runs the benchmark and prints the results; 0 on success.</summary>
    public static async Task<int> RunAsync(RegistryBenchOptions options, CancellationToken ct)
    {
        var schemasDir = options.SchemasDir ?? FindSchemas() ?? throw new ArgumentException("schemas/ not found; pass --schemas DIR.");
        var catalog = SchemaCatalog.Load(schemasDir);

        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using (var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url }))
        {
            await SchemaCatalog.RegisterAllAsync(client, catalog, ct);
        }

        var ids = Enumerable.Range(1, registry.Store.State.SchemaCount).ToArray();
        Console.WriteLine($"registry at {registry.Url}: {ids.Length} schemas from {schemasDir}; {options.Connections} keep-alive connections, {options.Rounds} rounds of {options.Seconds} s per phase, {Environment.ProcessorCount} cores (client and server in one process)");

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = options.Connections, PooledConnectionLifetime = Timeout.InfiniteTimeSpan, UseProxy = false };
        using var http = new HttpClient(handler) { BaseAddress = new Uri(registry.Url), DefaultRequestVersion = HttpVersion.Version11 };

        _ = await MeasureAsync(http, options.Connections, 1, _ => "/", ct); // warm-up: connections, JIT
        // Phases alternate so that load from other processes on a shared machine hits both alike; medians are reported.
        var floors = new List<double>();
        var byIds = new List<double>();
        for (var round = 0; round < options.Rounds; round++)
        {
            floors.Add(await MeasureAsync(http, options.Connections, options.Seconds, _ => "/", ct));
            byIds.Add(await MeasureAsync(http, options.Connections, options.Seconds, n => $"/schemas/ids/{ids[n % ids.Length]}", ct));
        }

        floors.Sort();
        byIds.Sort();
        var floor = floors[floors.Count / 2];
        var byId = byIds[byIds.Count / 2];

        SchemaGate.CheckBaseline(SchemaCatalog.Load(schemasDir)); // warm-up
        var checks = new List<double>();
        for (var i = 0; i < options.CheckRepetitions; i++)
        {
            var watch = Stopwatch.StartNew();
            var report = SchemaGate.CheckBaseline(SchemaCatalog.Load(schemasDir));
            checks.Add(watch.Elapsed.TotalMilliseconds);
            if (!report.IsCompatible)
            {
                throw new InvalidOperationException("schemas check found incompatibilities; the benchmark needs a passing schemas/:\n" + report.Render());
            }
        }

        checks.Sort();
        Console.WriteLine();
        Console.WriteLine($"| measure | value |");
        Console.WriteLine($"|---|---|");
        Console.WriteLine($"| GET / (HTTP floor), median of {floors.Count} | {floor:N0} requests/s (min {floors[0]:N0}, max {floors[^1]:N0}) |");
        Console.WriteLine($"| GET /schemas/ids/{{id}}, median of {byIds.Count} | {byId:N0} requests/s (min {byIds[0]:N0}, max {byIds[^1]:N0}) |");
        Console.WriteLine($"| by-id ÷ floor | {byId / floor:P0} |");
        Console.WriteLine($"| schemas check, {catalog.Entries.Count} subjects (median of {checks.Count}) | {checks[checks.Count / 2]:N1} ms (min {checks[0]:N1}, max {checks[^1]:N1}) |");
        return 0;
    }

    private static async Task<double> MeasureAsync(HttpClient http, int connections, int seconds, Func<int, string> path, CancellationToken ct)
    {
        long total = 0;
        var stopAt = Stopwatch.GetTimestamp() + (long)(seconds * (double)Stopwatch.Frequency);
        var watch = Stopwatch.StartNew();
        var workers = Enumerable.Range(0, connections).Select(w => Task.Run(async () =>
        {
            var n = w;
            long count = 0;
            while (Stopwatch.GetTimestamp() < stopAt)
            {
                using var response = await http.GetAsync(new Uri(path(n++), UriKind.Relative), HttpCompletionOption.ResponseContentRead, ct);
                if (response.StatusCode != HttpStatusCode.OK)
                {
                    throw new InvalidOperationException($"GET {path(n - 1)} answered {(int)response.StatusCode}");
                }

                count++;
            }

            Interlocked.Add(ref total, count);
        }, ct)).ToArray();
        await Task.WhenAll(workers);
        return total / watch.Elapsed.TotalSeconds;
    }

    private static string? FindSchemas()
    {
        for (var dir = new DirectoryInfo(Directory.GetCurrentDirectory()); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "schemas");
            if (File.Exists(Path.Combine(candidate, SchemaCatalog.ManifestFileName)))
            {
                return candidate;
            }
        }

        return null;
    }
}
