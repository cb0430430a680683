using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Table;
using Streaming.Bench.Harness;
using Streaming.Processors.Hosting;

namespace Streaming.Bench.Processors;

/// <summary>Options of the <c>global-start</c> subcommand.</summary>
public sealed record GlobalStartOptions
{
    /// <summary>Start/stop cycles.</summary>
    public int Runs { get; init; } = 30;

    /// <summary>GlobalKTables in the topology (the finance topology has six).</summary>
    public int Tables { get; init; } = 6;

    /// <summary>Records per table topic.</summary>
    public int Records { get; init; } = 200;

    /// <summary>Produce a new version of every table record right before each start (as <c>up --demo</c> does with master data).</summary>
    public bool ProduceBeforeStart { get; init; }

    /// <summary>Start through <see cref="StreamizClientSupplier"/> (as <c>up</c> does) instead of Streamiz's default client supplier.</summary>
    public bool Guard { get; init; }

    /// <summary>Instead of Streamiz starts: N rounds of the global thread's consumer calls alone (restore = assign one
    /// partition, read it, unassign; then assign all at the restored offsets and seek each to the same offset).</summary>
    public int AssignSeekRounds { get; init; }

    /// <summary>Busy-spinning threads started for the runs.</summary>
    public int Burn { get; init; }

    /// <summary>Usage text.</summary>
    public const string Usage = """
        global-start [--runs N] [--tables T] [--records R] [--burn B] [--produce-before-start] [--guard] [--assign-seek ROUNDS]

          Starts and stops a Streamiz topology with T GlobalKTables (default 6, 200 records each, 3 partitions) N times
          (default 30) on one embedded broker, each start a fresh application id and state directory, and counts the
          starts that fail, printing each failure's exception chain and the failing call's stack. --burn B spins B threads;
          --produce-before-start writes a new version of every table record just before each start; --guard starts
          through StreamizClientSupplier (as `up` does: a seek to the offset a partition was just assigned at is skipped).
          --assign-seek ROUNDS replays only the global thread's consumer calls (restore: assign one partition, read it,
          unassign; then assign all at the restored offsets and seek each there), counting refused seeks (with --guard
          through AssignedSeekGuard).
        """;

    /// <summary>Parses the arguments after <c>global-start</c>.</summary>
    public static GlobalStartOptions Parse(IReadOnlyList<string> args)
    {
        return BenchArguments.Parse(args, new GlobalStartOptions(), (a, o) => a.Name switch
        {
            "--runs" => o with { Runs = a.Positive() },
            "--tables" => o with { Tables = a.Positive() },
            "--records" => o with { Records = a.Positive() },
            "--burn" => o with { Burn = a.NonNegativeInt() },
            "--produce-before-start" => o with { ProduceBeforeStart = true },
            "--guard" => o with { Guard = true },
            "--assign-seek" => o with { AssignSeekRounds = a.Positive() },
            _ => throw a.Unknown(),
        });
    }
}

/// <summary>The <c>global-start</c> scenario: repeated starts of a topology with GlobalKTables, counting failed starts.</summary>
public static class GlobalStartCommand
{
    /// <summary>Runs the scenario; exit 1 if any start failed.</summary>
    public static async Task<int> RunAsync(GlobalStartOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var broker = BenchBroker.Resolve(null, NullLoggerFactory.Instance);
        if (!broker.IsEmbedded)
        {
            throw new ArgumentException("global-start runs on the embedded broker only.");
        }

        using var burn = new CancellationTokenSource();
        foreach (var _ in Enumerable.Range(0, options.Burn))
        {
            new Thread(() => { while (!burn.IsCancellationRequested) { Thread.SpinWait(1000); } }) { IsBackground = true }.Start();
        }

        var topics = Enumerable.Range(0, options.Tables).Select(t => $"gs.table.{t}").ToList();
        foreach (var (t, i) in topics.Select((t, i) => (t, i)))
        {
            await broker.CreateTopicAsync(t, i % 2 == 0 ? 1 : 3); // like md.*: some single-partition, some three
        }

        await broker.CreateTopicAsync("gs.stream", 3);
        await broker.CreateTopicAsync("gs.out", 3);

        using var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();
        void ProduceTables(int version)
        {
            foreach (var t in topics)
            {
                for (var i = 0; i < options.Records; i++)
                {
                    producer.Produce(t, new Message<string, string> { Key = $"k{i}", Value = $"v{i}.{version}" });
                }
            }

            producer.Flush(ct);
        }

        ProduceTables(0);

        if (options.AssignSeekRounds > 0)
        {
            return AssignSeek(broker.BootstrapServers, topics, options, ct);
        }

        Console.WriteLine($"global-start: {options.Runs} starts of a topology with {options.Tables} GlobalKTables ({options.Records} records each), {options.Burn} burner thread(s), {(options.Guard ? "StreamizClientSupplier" : "Streamiz's default client supplier")}");
        var failures = 0;
        var times = new List<double>();
        for (var run = 1; run <= options.Runs; run++)
        {
            if (options.ProduceBeforeStart)
            {
                ProduceTables(run);
            }

            var builder = new StreamBuilder();
            foreach (var t in topics)
            {
                builder.GlobalTable(t, InMemory.As<string, string>($"{t}-store"));
            }

            builder.Stream<string, string>("gs.stream").To("gs.out");
            var stateDir = Directory.CreateTempSubdirectory("bench-global-start-");
            var config = new StreamConfig<StringSerDes, StringSerDes>
            {
                ApplicationId = $"bench-global-start-{run}", BootstrapServers = broker.BootstrapServers, AutoOffsetReset = AutoOffsetReset.Earliest,
                StateDir = stateDir.FullName, Logger = NullLoggerFactory.Instance, CommitIntervalMs = 100,
            };
            var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            var sw = Stopwatch.StartNew();
            using (var stream = options.Guard ? new KafkaStream(builder.Build(), config, new StreamizClientSupplier(config)) : new KafkaStream(builder.Build(), config))
            {
                stream.StateChanged += (_, s) => { if (s == KafkaStream.State.RUNNING) { running.TrySetResult(); } };
                try
                {
                    await stream.StartAsync(ct);
                    await running.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
                    times.Add(sw.Elapsed.TotalSeconds);
                    Console.WriteLine($"run {run,3}: RUNNING after {sw.Elapsed.TotalSeconds:0.00} s");
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    failures++;
                    Console.WriteLine($"run {run,3}: START FAILED after {sw.Elapsed.TotalSeconds:0.00} s");
                    for (var e = ex; e is not null; e = e.InnerException)
                    {
                        Console.WriteLine($"    {e.GetType().Name}: {e.Message}{(e is KafkaException k ? $" (code {k.Error.Code})" : "")}");
                        if (e.InnerException is null)
                        {
                            Console.WriteLine("    at " + string.Join("\n    at ", (e.StackTrace ?? "").Split('\n').Select(l => l.Trim()).Take(8)));
                        }
                    }
                }
            }

            stateDir.Delete(recursive: true);
        }

        await burn.CancelAsync();
        times.Sort();
        Console.WriteLine($"summary: {options.Runs} starts, {failures} failed; time to RUNNING median {(times.Count > 0 ? times[times.Count / 2] : double.NaN):0.00} s, "
                          + $"max {(times.Count > 0 ? times[^1] : double.NaN):0.00} s");
        return failures > 0 ? 1 : 0;
    }

    // The calls of Streamiz 1.8.2's GlobalStateManager.RestoreState and StateConsumer.Initialize, on one consumer.
    private static int AssignSeek(string bootstrap, List<string> topics, GlobalStartOptions options, CancellationToken ct)
    {
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var partitions = topics.SelectMany(t => admin.GetMetadata(t, TimeSpan.FromSeconds(10)).Topics[0].Partitions.Select(p => new TopicPartition(t, p.PartitionId))).ToList();
        var refused = new Dictionary<ErrorCode, int>();
        var skipped = 0;
        for (var round = 0; round < options.AssignSeekRounds; round++)
        {
            var raw = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
            {
                BootstrapServers = bootstrap, GroupId = $"bench-assign-seek-{round}", EnableAutoCommit = false, EnableAutoOffsetStore = false,
            }).Build();
            using var consumer = options.Guard ? new AssignedSeekGuard(raw) : raw;
            var restored = new Dictionary<TopicPartition, long>();
            foreach (var tp in partitions)
            {
                consumer.Assign([new TopicPartitionOffset(tp, Offset.Beginning)]);
                var high = consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).High.Value;
                var offset = -1L;
                while (offset < high - 1)
                {
                    ct.ThrowIfCancellationRequested();
                    if (consumer.Consume(TimeSpan.FromMilliseconds(100)) is { } r)
                    {
                        offset = r.Offset.Value;
                    }
                }

                restored[tp] = offset;
                consumer.Unassign();
            }

            var assignment = partitions.Select(tp => restored[tp] >= 0 ? new TopicPartitionOffset(tp, restored[tp] + 1) : new TopicPartitionOffset(tp, Offset.Beginning)).ToList();
            consumer.Assign(assignment);
            foreach (var tpo in assignment)
            {
                try
                {
                    consumer.Seek(tpo);
                }
                catch (KafkaException ex)
                {
                    refused[ex.Error.Code] = refused.GetValueOrDefault(ex.Error.Code) + 1;
                }
            }

            skipped += (consumer as AssignedSeekGuard)?.SkippedSeeks ?? 0;
            consumer.Close();
        }

        Console.WriteLine($"assign-seek: {options.AssignSeekRounds} rounds x {partitions.Count} seeks, {(options.Guard ? "AssignedSeekGuard" : "plain consumer")}, "
                          + $"{options.Burn} burner thread(s): refused seeks {(refused.Count == 0 ? "0" : string.Join(", ", refused.Select(kv => $"{kv.Value} x {kv.Key}")))}"
                          + (options.Guard ? $", skipped seeks {skipped}" : ""));
        return refused.Count > 0 ? 1 : 0;
    }
}
