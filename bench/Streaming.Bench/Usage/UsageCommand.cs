using System.Globalization;
using System.Text.Json;
using Confluent.SchemaRegistry;
using Streaming.Bench.Harness;
using Streaming.Bench.Raw;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Producers.Usage;
using Streaming.SchemaRegistry;

namespace Streaming.Bench.Usage;

/// <summary>Options of the <c>usage</c> subcommand.</summary>
public sealed record UsageOptions
{
    /// <summary>Records per phase and repetition.</summary>
    public long Records { get; init; } = 500_000;

    /// <summary>Timed repetitions after the discarded warm-ups.</summary>
    public int Repetitions { get; init; } = 5;

    /// <summary>Discarded warm-up repetitions (all three phases) before the timed ones, so tiered JIT and PGO have settled.</summary>
    public int Warmups { get; init; } = 3;

    /// <summary>Records per phase of a warm-up repetition (at most <see cref="Records"/>).</summary>
    public long WarmupRecords { get; init; } = 300_000;

    /// <summary>Partitions of each phase's topic (0 = enough for the embedded broker's retention).</summary>
    public int Partitions { get; init; }

    /// <summary>Ingestor capacity (records queued and unacknowledged).</summary>
    public int Capacity { get; init; } = new UsageIngestorOptions().Capacity;

    /// <summary>NDJSON lines per HTTP request.</summary>
    public int LinesPerRequest { get; init; } = 2_000;

    /// <summary>Concurrent HTTP clients.</summary>
    public int Concurrency { get; init; } = 4;

    /// <summary>Bootstrap servers; null means env <c>KAFKA_BOOTSTRAP_SERVERS</c> or the embedded cluster.</summary>
    public string? BootstrapServers { get; init; }

    /// <summary>Run the cost breakdown ladder (<see cref="UsageBreakdown"/>) instead of the three phases.</summary>
    public bool Breakdown { get; init; }

    /// <summary>Where to write JSON results, if anywhere.</summary>
    public string? JsonPath { get; init; }

    /// <summary>Usage text.</summary>
    public const string Usage = """
        usage [--records N] [--repetitions R] [--warmups W] [--warmup-records M] [--no-warmup] [--partitions P] [--capacity C]
              [--lines-per-request L] [--concurrency K] [--bootstrap-servers LIST] [--json FILE] [--breakdown]

          Usage ingestion into billing.usage-shaped Avro, three phases per repetition on the same broker:
          raw Confluent.Kafka byte produce (the baseline, value size = the encoded usage record's), the library
          API (UsageIngestor.TryEnqueue) and POST /ingest/usage (Kestrel on loopback, K clients, L lines per
          request). Each timed until Kafka acknowledged every record; ratios to raw per repetition.
          Defaults: 500,000 records, 5 repetitions after 3 discarded warm-ups of 300,000 records (until tiered
          JIT/PGO has settled: the HTTP path's CPU per record falls for ~1 million records), capacity 100,000,
          2,000 lines x 4 clients. --no-warmup = --warmups 0.
          --breakdown: instead, a ladder of produce loops (null key -> key -> headers -> encoding -> reports on the
          producing thread -> linger), N records
          each, R times, to show what each step of the library path costs relative to raw.
        """;

    /// <summary>Parses the arguments after <c>usage</c>.</summary>
    public static UsageOptions Parse(IReadOnlyList<string> args)
    {
        var o = BenchArguments.Parse(args, new UsageOptions(), (a, o) => a.Name switch
        {
            "--records" => o with { Records = a.NonNegative() },
            "--repetitions" => o with { Repetitions = a.NonNegativeInt() },
            "--no-warmup" => o with { Warmups = 0 },
            "--warmups" => o with { Warmups = a.NonNegativeInt() },
            "--warmup-records" => o with { WarmupRecords = a.NonNegative() },
            "--breakdown" => o with { Breakdown = true },
            "--partitions" => o with { Partitions = a.NonNegativeInt() },
            "--capacity" => o with { Capacity = a.NonNegativeInt() },
            "--lines-per-request" => o with { LinesPerRequest = a.NonNegativeInt() },
            "--concurrency" => o with { Concurrency = a.NonNegativeInt() },
            "--bootstrap-servers" => o with { BootstrapServers = a.Value() },
            "--json" => o with { JsonPath = a.Value() },
            _ => throw a.Unknown(),
        });

        if (o.Records < 1 || o.Repetitions < 1 || o.Capacity < 1 || o.LinesPerRequest < 1 || o.Concurrency < 1 || (o.Warmups > 0 && o.WarmupRecords < 1))
        {
            throw new ArgumentException("--records, --repetitions, --warmup-records, --capacity, --lines-per-request and --concurrency must be at least 1.");
        }

        return o;
    }
}

/// <summary>One repetition: the three phases, each on a fresh topic.</summary>
public sealed record UsageRepetition(int Index, PhaseResult Raw, double RawCpuMicrosPerRecord, UsagePhase Library, UsagePhase Http)
{
    /// <summary>Raw CPU per record ÷ library CPU per record: the throughput ratio to expect when both are CPU-bound on the same cores.</summary>
    public double LibraryCpuRatio => RawCpuMicrosPerRecord / Library.CpuMicrosPerRecord;

    /// <summary>Raw CPU per record ÷ HTTP CPU per record.</summary>
    public double HttpCpuRatio => RawCpuMicrosPerRecord / Http.CpuMicrosPerRecord;

    /// <summary>Library records/s ÷ raw records/s.</summary>
    public double LibraryRatio => Library.RecordsPerSecond / Raw.RecordsPerSecond;

    /// <summary>HTTP records/s ÷ raw records/s.</summary>
    public double HttpRatio => Http.RecordsPerSecond / Raw.RecordsPerSecond;
}

/// <summary>Everything the <c>usage</c> subcommand measured, as written to <c>--json</c>.</summary>
public sealed record UsageReport(
    string Scenario, DateTimeOffset StartedUtc, string Machine, string Broker, long Records, int EncodedValueBytes, int Partitions,
    string ProducerSettings, int Capacity, int LinesPerRequest, int Concurrency, IReadOnlyList<UsageRepetition> Repetitions,
    Summary RawRecordsPerSecond, Summary LibraryRecordsPerSecond, Summary HttpRecordsPerSecond, Summary LibraryRatio, Summary HttpRatio,
    Summary RawCpuMicrosPerRecord, Summary LibraryCpuMicrosPerRecord, Summary HttpCpuMicrosPerRecord, Summary LibraryCpuRatio, Summary HttpCpuRatio,
    int Warmups, long WarmupRecords);

/// <summary>The <c>usage</c> subcommand.</summary>
public static class UsageCommand
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true };

    /// <summary>Runs the subcommand; returns the process exit code.</summary>
    public static async Task<int> RunAsync(UsageOptions options, CancellationToken ct)
    {
        using var loggerFactory = BenchMachine.ConsoleLogging();
        await using var broker = BenchBroker.Resolve(options.BootstrapServers, loggerFactory);
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(null, loggerFactory, ct).ConfigureAwait(false);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });

        var settings = new RawProducerSettings();
        var sample = new UsageAvroEncoder(1).Encode(UsageThroughput.Record(options.Records - 1, UsageThroughput.Items(1000), new Dictionary<string, string> { ["region"] = "eu-west-1", ["plan"] = "pro" }));
        var valueBytes = sample.Length;
        // On the wire a usage record also carries its key (~8 B) and the correlation-id + traceparent headers (~100 B).
        var partitions = options.Partitions > 0 ? options.Partitions
            : broker.IsEmbedded ? (int)Math.Ceiling(options.Records * (valueBytes + 130) * 1.5 / (BenchBroker.EmbeddedPartitionMaxBytes * 0.8)) : 12;
        var machine = BenchMachine.Description;
        Console.WriteLine("Streaming usage ingestion throughput");
        Console.WriteLine($"  machine     : {machine}");
        Console.WriteLine($"  broker      : {broker.Description}; schema registry embedded at {registry.Url}");
        Console.WriteLine($"  workload    : {options.Records:N0} usage records per phase, encoded value {valueBytes} B (+ key, correlation-id and traceparent headers), 1,000 subscription items (keys), {partitions} partitions");
        Console.WriteLine($"  producer    : {settings.Describe()} (usage phases: keyed by subscription item, librdkafka default partitioner)");
        Console.WriteLine($"  library     : UsageIngestor.TryEnqueue from one thread (sleep 1 ms when at capacity {options.Capacity:N0}), then FlushAsync");
        Console.WriteLine($"  http        : POST /ingest/usage on Kestrel (loopback, same process), {options.Concurrency} clients x {options.LinesPerRequest:N0} lines per request; answered after Kafka acks");
        Console.WriteLine($"  raw         : RawThroughput.MeasureProduceAsync, {valueBytes} B values, null key, no headers (the Foundation baseline)");
        Console.WriteLine(options.Breakdown
            ? $"  repetitions : {options.Repetitions} runs of the ladder, no warm-up"
            : $"  repetitions : {options.Warmups} discarded warm-up(s) of {Math.Min(options.Records, options.WarmupRecords):N0} records, then {options.Repetitions} timed");
        Console.WriteLine($"  load (1/5/15): {BenchMachine.LoadAverage()}");
        Console.WriteLine();
        if (options.Breakdown)
        {
            var id = DateTimeOffset.UtcNow.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
            for (var rep = 1; rep <= options.Repetitions; rep++)
            {
                Console.WriteLine($"breakdown {rep}/{options.Repetitions}:");
                await UsageBreakdown.RunAsync(broker, settings, options.Records, partitions, $"{id}.{rep}", ct).ConfigureAwait(false);
            }

            Console.WriteLine($"  load (1/5/15) after: {BenchMachine.LoadAverage()}");
            return 0;
        }

        var started = DateTimeOffset.UtcNow;
        var runId = started.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var repetitions = new List<UsageRepetition>();
        for (var rep = 1 - options.Warmups; rep <= options.Repetitions; rep++)
        {
            var label = rep <= 0 ? $"warm-up {rep + options.Warmups}" : $"run {rep}/{options.Repetitions}";
            var records = rep <= 0 ? Math.Min(options.Records, options.WarmupRecords) : options.Records;
            var rawTopic = $"bench.usage-raw.{runId}.{rep}";
            await broker.CreateTopicAsync(rawTopic, partitions).ConfigureAwait(false);
            var rawCpu = UsageThroughput.ProcessCpu();
            var raw = await RawThroughput.MeasureProduceAsync(broker.BootstrapServers, rawTopic, partitions, records, valueBytes, settings, cancellationToken: ct).ConfigureAwait(false);

            var rawCpuPerRecord = (UsageThroughput.ProcessCpu() - rawCpu).TotalMicroseconds / records;

            var libTopic = await UsageTopicAsync(broker, client, $"bench.usage-lib.{runId}.{rep}", partitions).ConfigureAwait(false);
            var library = await UsageThroughput.MeasureLibraryAsync(broker.BootstrapServers, client, libTopic, records, settings, options.Capacity, ct).ConfigureAwait(false);
            Verify(broker, libTopic, partitions, records);

            var httpTopic = await UsageTopicAsync(broker, client, $"bench.usage-http.{runId}.{rep}", partitions).ConfigureAwait(false);
            var http = await UsageThroughput.MeasureHttpAsync(broker.BootstrapServers, client, httpTopic, records, settings, options.Capacity,
                options.LinesPerRequest, options.Concurrency, ct).ConfigureAwait(false);
            Verify(broker, httpTopic, partitions, records);
            await broker.CheckForDroppedDataAsync().ConfigureAwait(false);

            var r = new UsageRepetition(rep, raw, rawCpuPerRecord, library, http);
            Console.WriteLine($"  {label,-9} raw {raw.RecordsPerSecond,11:N0} rec/s   library {library.RecordsPerSecond,11:N0} rec/s ({r.LibraryRatio:P0} of raw, peak heap {library.Memory.PeakManagedMb:N0} MB, ws {library.Memory.PeakWorkingSetMb:N0} MB)   " +
                $"http {http.RecordsPerSecond,11:N0} rec/s ({r.HttpRatio:P0} of raw, peak heap {http.Memory.PeakManagedMb:N0} MB, ws {http.Memory.PeakWorkingSetMb:N0} MB)" + (rep <= 0 ? "   [discarded]" : ""));
            Console.WriteLine($"  {"",-9} CPU µs/record (all threads, broker included): raw {rawCpuPerRecord:N2}   library {library.CpuMicrosPerRecord:N2} (raw/library {r.LibraryCpuRatio:N2})   http {http.CpuMicrosPerRecord:N2} (raw/http {r.HttpCpuRatio:N2})");
            if (rep > 0)
            {
                repetitions.Add(r);
            }
        }

        var report = new UsageReport("usage", started, machine, broker.Description, options.Records, valueBytes, partitions, settings.Describe(),
            options.Capacity, options.LinesPerRequest, options.Concurrency, repetitions,
            Summary.Of(repetitions.Select(r => r.Raw.RecordsPerSecond)), Summary.Of(repetitions.Select(r => r.Library.RecordsPerSecond)),
            Summary.Of(repetitions.Select(r => r.Http.RecordsPerSecond)), Summary.Of(repetitions.Select(r => r.LibraryRatio)), Summary.Of(repetitions.Select(r => r.HttpRatio)),
            Summary.Of(repetitions.Select(r => r.RawCpuMicrosPerRecord)), Summary.Of(repetitions.Select(r => r.Library.CpuMicrosPerRecord)),
            Summary.Of(repetitions.Select(r => r.Http.CpuMicrosPerRecord)), Summary.Of(repetitions.Select(r => r.LibraryCpuRatio)), Summary.Of(repetitions.Select(r => r.HttpCpuRatio)),
            options.Warmups, Math.Min(options.Records, options.WarmupRecords));

        Console.WriteLine();
        Console.WriteLine($"Results ({repetitions.Count} timed runs; median [min - max]; every record verified in the log exactly once):");
        Console.WriteLine();
        Console.WriteLine("| path                  | records/s median | records/s min - max   | ratio to raw (median, min - max) | peak managed heap | peak working set |");
        Console.WriteLine("|-----------------------|-----------------:|-----------------------|----------------------------------|------------------:|-----------------:|");
        Console.WriteLine($"| raw byte produce      | {report.RawRecordsPerSecond.Median,16:N0} | {report.RawRecordsPerSecond.Min,9:N0} - {report.RawRecordsPerSecond.Max,9:N0} | 1.00                             |                   |                  |");
        Row("library (UsageIngestor)", report.LibraryRecordsPerSecond, report.LibraryRatio, repetitions.Select(r => r.Library.Memory).ToList());
        Row("POST /ingest/usage", report.HttpRecordsPerSecond, report.HttpRatio, repetitions.Select(r => r.Http.Memory).ToList());
        Console.WriteLine();
        Console.WriteLine("CPU per record (process CPU time over the timed interval, every thread incl. the in-process broker; median [min - max]):");
        Console.WriteLine($"  raw {report.RawCpuMicrosPerRecord.Median:N2} µs [{report.RawCpuMicrosPerRecord.Min:N2} - {report.RawCpuMicrosPerRecord.Max:N2}]" +
            $"   library {report.LibraryCpuMicrosPerRecord.Median:N2} µs [{report.LibraryCpuMicrosPerRecord.Min:N2} - {report.LibraryCpuMicrosPerRecord.Max:N2}], raw/library {report.LibraryCpuRatio.Median:N2} [{report.LibraryCpuRatio.Min:N2} - {report.LibraryCpuRatio.Max:N2}]" +
            $"   http {report.HttpCpuMicrosPerRecord.Median:N2} µs [{report.HttpCpuMicrosPerRecord.Min:N2} - {report.HttpCpuMicrosPerRecord.Max:N2}], raw/http {report.HttpCpuRatio.Median:N2} [{report.HttpCpuRatio.Min:N2} - {report.HttpCpuRatio.Max:N2}]");
        // When a path is CPU-bound, N idle cores give at most N seconds of CPU per second: the ceiling its CPU per record implies.
        var cores = Environment.ProcessorCount;
        Console.WriteLine($"  CPU-bound ceiling on {cores} idle cores ({cores} × 10^6 / median CPU µs per record): raw {cores * 1e6 / report.RawCpuMicrosPerRecord.Median:N0}/s" +
            $"   library {cores * 1e6 / report.LibraryCpuMicrosPerRecord.Median:N0}/s   http {cores * 1e6 / report.HttpCpuMicrosPerRecord.Median:N0}/s");
        Console.WriteLine();
        Console.WriteLine($"  load (1/5/15) after: {BenchMachine.LoadAverage()}");
        if (options.JsonPath is not null)
        {
            await File.WriteAllTextAsync(options.JsonPath, JsonSerializer.Serialize(report, JsonOptions), ct).ConfigureAwait(false);
            Console.WriteLine($"  JSON written to {Path.GetFullPath(options.JsonPath)}");
        }

        return 0;

        static void Row(string path, Summary rate, Summary ratio, List<MemorySample> memory) => Console.WriteLine(
            $"| {path,-21} | {rate.Median,16:N0} | {rate.Min,9:N0} - {rate.Max,9:N0} | {ratio.Median,4:N2} ({ratio.Min:N2} - {ratio.Max:N2})               | {memory.Max(m => m.PeakManagedMb),14:N0} MB | {memory.Max(m => m.PeakWorkingSetMb),13:N0} MB |");
    }

    private static async Task<string> UsageTopicAsync(BenchBroker broker, CachedSchemaRegistryClient client, string topic, int partitions)
    {
        await broker.CreateTopicAsync(topic, partitions).ConfigureAwait(false);
        await client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(UsageEvent._SCHEMA.ToString(), SchemaType.Avro)).ConfigureAwait(false);
        return topic;
    }

    private static void Verify(BenchBroker broker, string topic, int partitions, long expected)
    {
        var inLog = UsageThroughput.CountInLog(broker.BootstrapServers, topic, partitions);
        if (inLog != expected)
        {
            throw new InvalidOperationException($"Topic '{topic}' holds {inLog:N0} records, expected {expected:N0}: lost or duplicated.");
        }
    }
}
