using System.Globalization;
using System.Text.Json;
using Streaming.Bench.Harness;

namespace Streaming.Bench.Raw;

/// <summary>Options of the <c>raw</c> subcommand.</summary>
public sealed record RawOptions
{
    /// <summary>Records per run.</summary>
    public long Records { get; init; } = 1_000_000;

    /// <summary>Value size in bytes.</summary>
    public int Size { get; init; } = 100;

    /// <summary>Requested partition count (raised on the embedded broker if its retention would drop data).</summary>
    public int Partitions { get; init; } = 6;

    /// <summary>Timed repetitions after the discarded warm-up.</summary>
    public int Repetitions { get; init; } = 3;

    /// <summary>Run the discarded warm-up first.</summary>
    public bool Warmup { get; init; } = true;

    /// <summary>Bootstrap servers; null means env <c>KAFKA_BOOTSTRAP_SERVERS</c> or the embedded cluster.</summary>
    public string? BootstrapServers { get; init; }

    /// <summary>Where to write JSON results, if anywhere.</summary>
    public string? JsonPath { get; init; }

    /// <summary>Consumer <c>fetch.queue.backoff.ms</c>.</summary>
    public int FetchQueueBackoffMs { get; init; } = RawThroughput.DefaultFetchQueueBackoffMs;

    /// <summary>Producer settings.</summary>
    public RawProducerSettings Producer { get; init; } = new();

    /// <summary>Usage text.</summary>
    public const string Usage = """
        raw [--records N] [--size BYTES] [--partitions P] [--repetitions R] [--no-warmup]
            [--linger-ms MS] [--batch-size BYTES] [--partitioner round-robin|default] [--block-records B]
            [--fetch-queue-backoff-ms MS] [--bootstrap-servers LIST] [--json FILE]

          Raw idempotent produce and consume throughput, no pipeline code. Broker: --bootstrap-servers,
          else env KAFKA_BOOTSTRAP_SERVERS, else an embedded librdkafka mock cluster (3 brokers).
          Defaults: 1,000,000 records of 100 bytes, 6 partitions, 3 repetitions after 1 discarded warm-up,
          linger.ms=5, batch.size=1000000, partitions filled round-robin in blocks of 10,000 records,
          consumer fetch.queue.backoff.ms=100 (librdkafka default 1000).
        """;

    /// <summary>Parses the arguments after <c>raw</c>.</summary>
    public static RawOptions Parse(IReadOnlyList<string> args)
    {
        var o = BenchArguments.Parse(args, new RawOptions(), (a, o) => a.Name switch
        {
            "--records" => o with { Records = a.NonNegative() },
            "--size" => o with { Size = a.NonNegativeInt() },
            "--partitions" => o with { Partitions = a.NonNegativeInt() },
            "--repetitions" => o with { Repetitions = a.NonNegativeInt() },
            "--no-warmup" => o with { Warmup = false },
            "--linger-ms" => o with { Producer = o.Producer with { LingerMs = a.NonNegative() } },
            "--partitioner" => o with { Producer = o.Producer with { RoundRobin = a.Value() switch { "round-robin" => true, "default" => false, var v => throw new ArgumentException($"--partitioner: '{v}' is not round-robin or default.") } } },
            "--fetch-queue-backoff-ms" => o with { FetchQueueBackoffMs = a.NonNegativeInt() },
            "--block-records" => o with { Producer = o.Producer with { BlockRecords = Math.Max(1, a.NonNegativeInt()) } },
            "--batch-size" => o with { Producer = o.Producer with { BatchSizeBytes = a.NonNegativeInt() } },
            "--bootstrap-servers" => o with { BootstrapServers = a.Value() },
            "--json" => o with { JsonPath = a.Value() },
            _ => throw a.Unknown(),
        });

        if (o.Records < 1 || o.Partitions < 1 || o.Repetitions < 1)
        {
            throw new ArgumentException("--records, --partitions and --repetitions must be at least 1.");
        }

        return o;
    }
}

/// <summary>One timed repetition: its produce and consume phases on one fresh topic.</summary>
public sealed record RawRepetition(int Index, string Topic, PhaseResult Produce, PhaseResult Consume);

/// <summary>Everything the <c>raw</c> subcommand measured, as written to <c>--json</c>.</summary>
public sealed record RawReport(
    string Scenario,
    DateTimeOffset StartedUtc,
    string Machine,
    string Broker,
    long Records,
    int RecordSize,
    int PartitionsRequested,
    int PartitionsUsed,
    string PartitionNote,
    string ProducerSettings,
    string ConsumerSettings,
    IReadOnlyList<RawRepetition> Repetitions,
    Summary ProduceRecordsPerSecond,
    Summary ProduceMegabytesPerSecond,
    Summary ConsumeRecordsPerSecond,
    Summary ConsumeMegabytesPerSecond);

/// <summary>The <c>raw</c> subcommand: baseline throughput that later pipeline scenarios are reported against.</summary>
public static class RawCommand
{
    /// <summary>Consumer settings line, shared by output and JSON.</summary>
    public static string ConsumerSettings(RawOptions options) =>
        $"one consumer, fresh group.id per run, auto.offset.reset=earliest, enable.auto.commit=false, fetch.queue.backoff.ms={options.FetchQueueBackoffMs}, " +
        "other fetch settings librdkafka defaults; timed from first record to the N-th (group join excluded)";

    /// <summary>Runs the subcommand; returns the process exit code.</summary>
    public static async Task<int> RunAsync(RawOptions options, CancellationToken cancellationToken)
    {
        using var loggerFactory = BenchMachine.ConsoleLogging();
        await using var broker = BenchBroker.Resolve(options.BootstrapServers, loggerFactory);

        var (partitions, note) = ChoosePartitions(options, broker.IsEmbedded);
        var machine = BenchMachine.Description;
        Console.WriteLine("Streaming raw Kafka throughput (baseline)");
        Console.WriteLine($"  machine     : {machine}");
        Console.WriteLine($"  broker      : {broker.Description}");
        Console.WriteLine($"  workload    : {options.Records:N0} records x {options.Size} B value (null key, no headers), {partitions} partitions, RF=min(3,brokers)");
        Console.WriteLine($"  partitions  : {note}");
        Console.WriteLine($"  producer    : {options.Producer.Describe()}");
        Console.WriteLine($"  consumer    : {ConsumerSettings(options)}");
        Console.WriteLine($"  runs        : {(options.Warmup ? "1 warm-up (discarded) + " : "")}{options.Repetitions} timed; each run uses a fresh topic; consumed count verified = produced count");
        Console.WriteLine($"  load (1/5/15): {BenchMachine.LoadAverage()}");
        Console.WriteLine();

        var started = DateTimeOffset.UtcNow;
        var runId = started.ToString("yyyyMMddHHmmss", CultureInfo.InvariantCulture);
        var repetitions = new List<RawRepetition>();
        for (var rep = options.Warmup ? 0 : 1; rep <= options.Repetitions; rep++)
        {
            var label = rep == 0 ? "warm-up" : $"run {rep}/{options.Repetitions}";
            var topic = $"bench.raw.{runId}.{rep}";
            await broker.CreateTopicAsync(topic, partitions).ConfigureAwait(false);

            var produce = await RawThroughput.MeasureProduceAsync(
                broker.BootstrapServers, topic, partitions, options.Records, options.Size, options.Producer,
                n => Progress(label, "produce", n, options.Records), cancellationToken).ConfigureAwait(false);
            var consume = await RawThroughput.MeasureConsumeAsync(
                broker.BootstrapServers, topic, produce.Records, options.FetchQueueBackoffMs,
                n => Progress(label, "consume", n, options.Records), cancellationToken).ConfigureAwait(false);
            await broker.CheckForDroppedDataAsync().ConfigureAwait(false);

            Console.WriteLine(
                $"  {label,-9} produce {produce.RecordsPerSecond,12:N0} rec/s {produce.MegabytesPerSecond,8:N1} MB/s ({produce.Elapsed.TotalSeconds:N2}s)   " +
                $"consume {consume.RecordsPerSecond,12:N0} rec/s {consume.MegabytesPerSecond,8:N1} MB/s ({consume.Elapsed.TotalSeconds:N2}s)   verified {consume.Records:N0}/{produce.Records:N0}" +
                (rep == 0 ? "   [discarded]" : ""));
            if (rep > 0)
            {
                repetitions.Add(new RawRepetition(rep, topic, produce, consume));
            }
        }

        var report = new RawReport(
            "raw", started, machine, broker.Description, options.Records, options.Size, options.Partitions, partitions, note,
            options.Producer.Describe(), ConsumerSettings(options), repetitions,
            Summary.Of(repetitions.Select(r => r.Produce.RecordsPerSecond)),
            Summary.Of(repetitions.Select(r => r.Produce.MegabytesPerSecond)),
            Summary.Of(repetitions.Select(r => r.Consume.RecordsPerSecond)),
            Summary.Of(repetitions.Select(r => r.Consume.MegabytesPerSecond)));

        Console.WriteLine();
        Console.WriteLine($"Results ({repetitions.Count} timed runs; median [min - max]; MB = 10^6 bytes of record value):");
        Console.WriteLine();
        Console.WriteLine("| phase   | records/s median | records/s min - max   | MB/s median | MB/s min - max  |");
        Console.WriteLine("|---------|-----------------:|-----------------------|------------:|-----------------|");
        Row("produce", report.ProduceRecordsPerSecond, report.ProduceMegabytesPerSecond);
        Row("consume", report.ConsumeRecordsPerSecond, report.ConsumeMegabytesPerSecond);
        Console.WriteLine();
        Console.WriteLine($"  load (1/5/15) after: {BenchMachine.LoadAverage()}");

        if (options.JsonPath is not null)
        {
            await File.WriteAllTextAsync(options.JsonPath, JsonSerializer.Serialize(report, JsonOptions), cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"  JSON written to {Path.GetFullPath(options.JsonPath)}");
        }

        return 0;

        static void Row(string phase, Summary records, Summary megabytes) => Console.WriteLine(
            $"| {phase,-7} | {records.Median,16:N0} | {records.Min,9:N0} - {records.Max,9:N0} | {megabytes.Median,11:N1} | {megabytes.Min,6:N1} - {megabytes.Max,6:N1} |");
    }

    /// <summary>
    /// On the embedded broker, raises the partition count until the fullest partition fits in 80% of the mock's per-partition
    /// retention (5 MiB), estimating ~16 bytes of record-batch overhead per record; otherwise the mock would silently drop the
    /// oldest data. Exact for the round-robin block partitioner; the sticky default partitioner can overshoot (and then fails loudly).
    /// </summary>
    public static (int Partitions, string Note) ChoosePartitions(RawOptions options, bool embedded)
    {
        if (!embedded)
        {
            return (options.Partitions, $"{options.Partitions} as requested");
        }

        var budget = BenchBroker.EmbeddedPartitionMaxBytes * 8 / 10;
        var block = options.Producer.RoundRobin ? options.Producer.BlockRecords : 1;
        long Fullest(int partitions)
        {
            var blocks = (options.Records + block - 1) / block;
            return Math.Min(options.Records, (blocks + partitions - 1) / partitions * block);
        }

        var partitions = options.Partitions;
        while (Fullest(partitions) * (options.Size + 16L) > budget && partitions < 10_000)
        {
            partitions++;
        }

        return partitions == options.Partitions
            ? (partitions, $"{partitions} as requested (fits the embedded broker's 5 MiB/partition retention)")
            : (partitions, $"{options.Partitions} requested, raised to {partitions}: the embedded broker keeps <=5 MiB or 100,000 batches per partition " +
                           $"and silently drops older data; the fullest partition must hold {Fullest(partitions):N0} x ~{options.Size + 16} B <= 4 MiB");
    }

    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping };

    private static void Progress(string label, string phase, long done, long total) => Console.Error.WriteLine(done == 0 && phase == "consume"
        ? $"  ... {label} {phase}: joining consumer group / first fetch (not timed)"
        : $"  ... {label} {phase}: {done:N0} / {total:N0} ({100.0 * done / total:N0}%)");
}
