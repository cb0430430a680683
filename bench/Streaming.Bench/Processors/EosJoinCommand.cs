using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Table;
using Streaming.Bench.Harness;
using Streaming.Platform.Topics;
using Streaming.Processors.Hosting;

namespace Streaming.Bench.Processors;

/// <summary>Options of the <c>eos-join</c> subcommand.</summary>
public sealed record EosJoinOptions
{
    /// <summary>Stream records per run.</summary>
    public int Records { get; init; } = 100_000;

    /// <summary>Table keys.</summary>
    public int Keys { get; init; } = 1_000;

    /// <summary>Partitions of the three topics.</summary>
    public int Partitions { get; init; } = 6;

    /// <summary>Runs.</summary>
    public int Runs { get; init; } = 5;

    /// <summary>Busy-spinning threads started for the runs (a shared, loaded machine).</summary>
    public int Burn { get; init; }

    /// <summary>All runs on one broker with the same application id, each run's stream disposed (true) or abandoned (false) — see <see cref="Abandon"/>.</summary>
    public bool SameBroker { get; init; }

    /// <summary>With <see cref="SameBroker"/>: do not dispose the previous run's stream before the next starts (a killed process's member stays in the group).</summary>
    public bool Abandon { get; init; }

    /// <summary>Processing guarantee.</summary>
    public ProcessingGuarantee Guarantee { get; init; } = ProcessingGuarantee.EXACTLY_ONCE;

    /// <summary>Stream threads.</summary>
    public int Threads { get; init; } = 1;

    /// <summary>A run that makes no progress for this long ends incomplete (its missing records are reported).</summary>
    public int StallSeconds { get; init; } = 15;

    /// <summary>Join a GlobalKTable instead of a KTable (loaded to its end before the stream thread processes).</summary>
    public bool Global { get; init; }

    /// <summary>Consumer <c>session.timeout.ms</c> of the stream threads (null = librdkafka's 45,000).</summary>
    public int? SessionTimeoutMs { get; init; }

    /// <summary>Streamiz <c>max.task.idle.ms</c> (0 = Streamiz's default: a task processes whatever partition has data).</summary>
    public int MaxTaskIdleMs { get; init; }

    /// <summary>Streamiz and librdkafka log (with these librdkafka debug contexts, if any) written to this file.</summary>
    public string? LogPath { get; init; }

    /// <summary>librdkafka <c>debug</c> contexts for the stream's clients (only with <see cref="LogPath"/>).</summary>
    public string? Debug { get; init; }

    /// <summary>Usage text.</summary>
    public const string Usage = """
        eos-join [--records N] [--keys K] [--partitions P] [--runs R] [--burn T] [--same-broker [--abandon]]
                 [--alos] [--global] [--max-task-idle-ms MS] [--session-timeout-ms MS] [--threads N] [--stall-seconds S] [--log FILE [--debug CONTEXTS]]

          A Streamiz KStream–KTable join under exactly-once on the embedded broker, run R times (default 5 runs
          of 100,000 records, 1,000 keys, 6 partitions, each run on a fresh broker). Prints per-run time from RUNNING
          to the last record a read_committed reader sees, the longest pause, the topology's state changes and,
          during a pause, the output's high watermark vs last stable offset. --burn T spins T threads meanwhile;
          --same-broker reuses one broker and application id (--abandon: the previous run's stream is not disposed,
          like a killed process); --global joins a GlobalKTable instead. A run without progress for S seconds
          (default 15) ends incomplete and its missing records are listed. Fails on a duplicate under EOS; exit 1
          if any run was incomplete.
        """;

    /// <summary>Parses the arguments after <c>eos-join</c>.</summary>
    public static EosJoinOptions Parse(IReadOnlyList<string> args)
    {
        var o = BenchArguments.Parse(args, new EosJoinOptions(), (a, o) => a.Name switch
        {
            "--records" => o with { Records = a.Positive() },
            "--keys" => o with { Keys = a.Positive() },
            "--partitions" => o with { Partitions = a.Positive() },
            "--runs" => o with { Runs = a.Positive() },
            "--burn" => o with { Burn = a.NonNegativeInt() },
            "--same-broker" => o with { SameBroker = true },
            "--abandon" => o with { Abandon = true },
            "--alos" => o with { Guarantee = ProcessingGuarantee.AT_LEAST_ONCE },
            "--threads" => o with { Threads = a.Positive() },
            "--global" => o with { Global = true },
            "--max-task-idle-ms" => o with { MaxTaskIdleMs = a.NonNegativeInt() },
            "--session-timeout-ms" => o with { SessionTimeoutMs = a.Positive() },
            "--stall-seconds" => o with { StallSeconds = a.Positive() },
            "--log" => o with { LogPath = a.Value() },
            "--debug" => o with { Debug = a.Value() },
            _ => throw a.Unknown(),
        });

        return o.Abandon && !o.SameBroker ? throw new ArgumentException("--abandon needs --same-broker.") : o;
    }
}

/// <summary>The <c>eos-join</c> scenario: repeated exactly-once stream–table joins, looking for stalls.</summary>
public static class EosJoinCommand
{
    private const string TableTopic = "eos.table";
    private const string StreamTopic = "eos.stream";
    private const string OutputTopic = "eos.out";

    /// <summary>Runs the scenario.</summary>
    public static async Task<int> RunAsync(EosJoinOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var log = options.LogPath is null ? null : new FileLog(options.LogPath);
        ILoggerFactory loggers = log is null ? NullLoggerFactory.Instance : log;
        using var burn = new CancellationTokenSource();
        var burners = Enumerable.Range(0, options.Burn).Select(_ => new Thread(() => { while (!burn.IsCancellationRequested) { Thread.SpinWait(1000); } }) { IsBackground = true }).ToList();
        burners.ForEach(t => t.Start());
        Console.WriteLine($"eos-join: {options.Runs} run(s) of {options.Records:N0} records, {options.Keys:N0} keys, {options.Partitions} partitions, {options.Guarantee}, "
                          + $"{options.Threads} stream thread(s), {options.Burn} burner thread(s), {(options.Global ? "GlobalKTable" : "KTable")}, max.task.idle.ms {options.MaxTaskIdleMs}, session.timeout.ms {options.SessionTimeoutMs?.ToString(CultureInfo.InvariantCulture) ?? "default"}, {(options.SameBroker ? "one broker" + (options.Abandon ? ", previous stream abandoned" : "") : "fresh broker per run")}");
        var results = new List<RunResult>();
        BenchBroker? shared = null;
        var abandoned = new List<KafkaStream>();
        try
        {
            for (var run = 1; run <= options.Runs; run++)
            {
                var broker = shared ??= options.SameBroker ? await CreateBrokerAsync(options, loggers) : null;
                var own = broker is null ? await CreateBrokerAsync(options, loggers) : null;
                try
                {
                    log?.Mark($"run {run}");
                    var r = await RunOnceAsync(run, (broker ?? own)!, options, loggers, abandoned, ct);
                    results.Add(r);
                    Console.WriteLine($"run {run,2}: {(r.Missing > 0 ? $"INCOMPLETE, {r.Missing:N0} missing ({r.MissingDetail}); " : "")}{r.Seconds,6:0.00} s after RUNNING ({r.Seconds - r.LongestPause,5:0.00} s without the longest pause), longest pause {r.LongestPause,5:0.0} s "
                                      + $"from {r.PauseFrom:0.0}% (t={r.PauseAt:0.0} s); RUNNING after {r.StartSeconds:0.0} s; states {r.States}");
                }
                finally
                {
                    if (own is not null)
                    {
                        await own.DisposeAsync();
                    }
                }
            }
        }
        finally
        {
            foreach (var s in abandoned)
            {
                s.Dispose();
            }

            if (shared is not null)
            {
                await shared.DisposeAsync();
            }

            await burn.CancelAsync();
        }

        var times = results.Select(r => r.Seconds).Order().ToList();
        Console.WriteLine($"summary: {results.Count} runs, min {times[0]:0.00} s, median {times[times.Count / 2]:0.00} s, max {times[^1]:0.00} s; "
                          + $"runs with a pause >= 5 s: {results.Count(r => r.LongestPause >= 5)}; incomplete runs: {results.Count(r => r.Missing > 0)}");
        return results.Any(r => r.Missing > 0) ? 1 : 0;
    }

    private static async Task<BenchBroker> CreateBrokerAsync(EosJoinOptions options, ILoggerFactory loggers)
    {
        var broker = BenchBroker.Resolve(null, loggers);
        if (!broker.IsEmbedded)
        {
            await broker.DisposeAsync();
            throw new ArgumentException("eos-join runs on the embedded broker only.");
        }

        return broker;
    }

    private sealed record RunResult(double Seconds, double StartSeconds, double LongestPause, double PauseFrom, double PauseAt, string States, int Missing, string MissingDetail);

    private static async Task<RunResult> RunOnceAsync(int run, BenchBroker broker, EosJoinOptions options, ILoggerFactory loggers, List<KafkaStream> abandoned, CancellationToken ct)
    {
        // With --same-broker the topics are shared and each run appends; the run's records carry the run number.
        foreach (var t in new[] { TableTopic, StreamTopic, OutputTopic })
        {
            await broker.CreateTopicAsync(t, options.Partitions);
        }

        var appId = options.SameBroker ? "bench-eos-join" : $"bench-eos-join-{run}";
        var builder = new StreamBuilder();
        var stream = builder.Stream<string, string>(StreamTopic);
        var joined = options.Global
            ? stream.Join(builder.GlobalTable(TableTopic, InMemory.As<string, string>("eos-join-table")), (k, _) => k, (v, t) => v + "|" + t)
            : stream.Join(builder.Table(TableTopic, InMemory.As<string, string>("eos-join-table")), (v, t) => v + "|" + t);
        joined.To(OutputTopic);
        var topology = builder.Build();
        var manifest = TopicManifest.Create(new[] { TableTopic, StreamTopic, OutputTopic }.Select(t => new TopicDefinition
        {
            Name = t, Partitions = options.Partitions, ReplicationFactor = 3, CleanupPolicy = CleanupPolicy.Delete, RetentionMs = -1, MinInsyncReplicas = 1,
        }));
        foreach (var t in StreamizInternalTopics.For(topology, appId, manifest))
        {
            await broker.CreateTopicAsync(t.Name, t.Partitions);
        }

        // Input: the table first (all keys), then the stream; values are "run:i" so loss and duplicates show.
        using (var producer = new ProducerBuilder<string, string>(new ProducerConfig { BootstrapServers = broker.BootstrapServers, EnableIdempotence = true, LingerMs = 5 }).Build())
        {
            for (var k = 0; k < options.Keys; k++)
            {
                producer.Produce(TableTopic, new Message<string, string> { Key = $"k{k}", Value = $"t{k}" });
            }

            producer.Flush(ct);
            for (var i = 0; i < options.Records; i++)
            {
                producer.Produce(StreamTopic, new Message<string, string> { Key = $"k{i % options.Keys}", Value = $"{run}:{i}" });
            }

            if (producer.Flush(TimeSpan.FromSeconds(60)) > 0)
            {
                throw new TimeoutException("input not delivered within 60 s");
            }
        }

        await broker.CheckForDroppedDataAsync();
        var stateDir = Directory.CreateTempSubdirectory("bench-eos-join-");
        var config = new StreamConfig<StringSerDes, StringSerDes>
        {
            ApplicationId = appId, BootstrapServers = broker.BootstrapServers, AutoOffsetReset = AutoOffsetReset.Earliest, NumStreamThreads = options.Threads,
            Guarantee = options.Guarantee, CommitIntervalMs = options.Guarantee == ProcessingGuarantee.EXACTLY_ONCE ? 100 : 1000, StateDir = stateDir.FullName,
            Logger = loggers, MaxTaskIdleMs = options.MaxTaskIdleMs,
        };
        if (options.SessionTimeoutMs is { } session)
        {
            config.SessionTimeoutMs = session;
        }

        if (options.Debug is not null && options.LogPath is not null)
        {
            config.AddConfig("debug", options.Debug);
        }

        var clock = Stopwatch.StartNew();
        var states = new ConcurrentQueue<string>();
        var running = new TaskCompletionSource<double>(TaskCreationOptions.RunContinuationsAsynchronously);
        var app = new KafkaStream(topology, config);
        app.StateChanged += (_, s) =>
        {
            states.Enqueue($"{s}@{clock.Elapsed.TotalSeconds:0.0}");
            if (s == KafkaStream.State.RUNNING)
            {
                running.TrySetResult(clock.Elapsed.TotalSeconds);
            }
        };
        try
        {
            await app.StartAsync(ct);
            var startSeconds = await running.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
            var w = await WatchAsync(run, broker.BootstrapServers, options, clock, ct);
            return new RunResult(w.Seconds - startSeconds, startSeconds, w.LongestPause, w.PauseFrom, w.PauseAt, string.Join(" ", states), w.Missing, w.MissingDetail);
        }
        finally
        {
            if (options.Abandon)
            {
                abandoned.Add(app);
            }
            else
            {
                app.Dispose();
                stateDir.Delete(recursive: true);
            }
        }
    }

    // Reads the output as a read_committed consumer, counting this run's records; returns when all arrived.
    private sealed record Watch(double Seconds, double LongestPause, double PauseFrom, double PauseAt, int Missing, string MissingDetail);

    private static async Task<Watch> WatchAsync(int run, string bootstrap, EosJoinOptions options,
        Stopwatch clock, CancellationToken ct)
    {
        var partitions = Enumerable.Range(0, options.Partitions).Select(p => new TopicPartition(OutputTopic, p)).ToList();
        using var reader = new ConsumerBuilder<Ignore, string>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = $"bench-eos-join-reader-{Guid.NewGuid():N}", IsolationLevel = IsolationLevel.ReadCommitted, EnableAutoCommit = false,
            FetchQueueBackoffMs = 10,
        }).Build();
        using var uncommitted = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-eos-join-probe", IsolationLevel = IsolationLevel.ReadUncommitted }).Build();
        reader.Assign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var prefix = run.ToString(CultureInfo.InvariantCulture) + ":";
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var duplicates = 0;
        var lastProgress = clock.Elapsed;
        var longest = TimeSpan.Zero;
        double pauseFrom = 0, pauseAt = 0;
        var reported = false;
        while (seen.Count < options.Records)
        {
            ct.ThrowIfCancellationRequested();
            var r = reader.Consume(TimeSpan.FromMilliseconds(100));
            var now = clock.Elapsed;
            if (r?.Message is { } m)
            {
                var v = m.Value;
                if (v.StartsWith(prefix, StringComparison.Ordinal) && !seen.Add(v[..v.IndexOf('|', StringComparison.Ordinal)]))
                {
                    duplicates++;
                }

                if (now - lastProgress > longest)
                {
                    longest = now - lastProgress;
                    pauseFrom = 100.0 * (seen.Count - 1) / options.Records;
                    pauseAt = (now - longest).TotalSeconds;
                }

                if (reported)
                {
                    Console.WriteLine($"         t={now.TotalSeconds,6:0.0} s  progress again after {(now - lastProgress).TotalSeconds:0.0} s");
                    reported = false;
                }

                lastProgress = now;
                continue;
            }

            if (!reported && now - lastProgress > TimeSpan.FromSeconds(3))
            {
                // Where is the output? High watermark (uncommitted) vs last stable offset (what read_committed may read).
                var marks = partitions.Select(tp => (Hwm: uncommitted.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).High.Value,
                    Lso: reader.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).High.Value, Pos: reader.Position(tp).Value)).ToList();
                Console.WriteLine($"         t={now.TotalSeconds,6:0.0} s  no progress for 3 s at {seen.Count:N0} ({100.0 * seen.Count / options.Records:0.0}%); per partition position/LSO/HWM: "
                                  + string.Join(" ", marks.Select(x => $"{x.Pos}/{x.Lso}/{x.Hwm}")));
                reported = true;
            }

            if (now - lastProgress > TimeSpan.FromSeconds(options.StallSeconds))
            {
                // Which input records never came out: their indexes (input order) and keys tell a join miss from a hold-up.
                var missing = Enumerable.Range(0, options.Records).Where(i => !seen.Contains($"{prefix}{i}")).ToList();
                var early = missing.Count(i => i < options.Records / 10);
                var detail = $"input indexes {missing[0]}..{missing[^1]}, {early:N0} of them in the first 10% of the input, "
                             + $"{missing.Select(i => i % options.Keys).Distinct().Count():N0} distinct keys";
                return new Watch(lastProgress.TotalSeconds, longest.TotalSeconds, pauseFrom, pauseAt, missing.Count, detail);
            }
        }

        var total = clock.Elapsed;
        // Anything extra (a duplicate from an aborted-then-replayed batch leaking through) shows up in the next second.
        var settle = Stopwatch.StartNew();
        while (settle.Elapsed < TimeSpan.FromSeconds(1))
        {
            if (reader.Consume(TimeSpan.FromMilliseconds(100))?.Message is { } m && m.Value.StartsWith(prefix, StringComparison.Ordinal))
            {
                duplicates++;
            }
        }

        if (duplicates > 0 && options.Guarantee == ProcessingGuarantee.EXACTLY_ONCE)
        {
            throw new InvalidOperationException($"run {run}: {duplicates} duplicate record(s) visible to a read_committed reader under exactly-once");
        }

        await Task.CompletedTask;
        return new Watch(total.TotalSeconds, longest.TotalSeconds, pauseFrom, pauseAt, 0, "");
    }

    /// <summary>A logger factory writing every line (with elapsed time and thread) to one file.</summary>
    private sealed class FileLog(string path) : ILoggerFactory
    {
        private readonly StreamWriter _writer = new(path, append: false, Encoding.UTF8) { AutoFlush = true };
        private readonly Stopwatch _clock = Stopwatch.StartNew();
        private readonly Lock _lock = new();

        public void Mark(string text) => Write("bench", LogLevel.Information, $"==== {text} ====");

        public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

        public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException();

        public void Dispose() => _writer.Dispose();

        private void Write(string category, LogLevel level, string message)
        {
            lock (_lock)
            {
                _writer.WriteLine($"{_clock.Elapsed.TotalSeconds,9:0.000} [{Environment.CurrentManagedThreadId,3}] {level,-11} {category}: {message}");
            }
        }

        private sealed class Logger(FileLog log, string category) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

            public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
                => log.Write(category, logLevel, formatter(state, exception) + (exception is null ? "" : " | " + exception));
        }
    }
}
