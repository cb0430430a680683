using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Erp;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Posting;
using Streaming.Testing;
using FinanceLineKind = Streaming.Contracts.Finance.FinanceLineKind;

namespace Streaming.Bench.Sink;

/// <summary>Options of <c>sink</c>.</summary>
public sealed record SinkBenchOptions(int Entries, int Partitions, int BatchSize, string? PostgresConnectionString, string? Json, string[]? Only = null, int Warmup = 50_000)
{
    public const string Usage = """
        sink [--entries 100000] [--partitions 12] [--batch-size 1000] [--postgres CONNSTRING] [--json FILE]
             [--only raw,upsert,copymerge,sqlite] [--warmup 50000 | --no-warmup]
                                          ERP posting sink end to end (topic -> journals -> ledger -> erp.postings.v1)
                                          into PostgreSQL (batched upsert and COPY+merge) and SQLite, vs a raw COPY of
                                          the same rows into the same tables, same run. PostgreSQL: a throwaway cluster
                                          (fsync on) unless --postgres gives one (a database per run is created in it).
                                          --only runs a subset (e.g. to profile one run); the raw COPY always runs.
                                          Before each timed run, the same code runs untimed over --warmup entries into a
                                          ledger of its own (JIT tiering done: steady state); --no-warmup times cold code.
                                          Before each timed run the throwaway server's databases are vacuumed and a
                                          checkpoint is taken, so no run inherits the background work of the one before.
                                          Each run also reports CPU µs per entry: this process (sink + in-process broker)
                                          and the PostgreSQL server (all its processes; throwaway cluster only).
        """;

    public static SinkBenchOptions Parse(string[] args)
    {
        var o = new SinkBenchOptions(100_000, 12, 1000, null, null);
        for (var i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.TryParse(Next(), NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v > 0 ? v : throw new ArgumentException($"{args[i]} needs a positive integer.");
            o = args[i] switch
            {
                "--entries" => o with { Entries = Int() },
                "--partitions" => o with { Partitions = Int() },
                "--batch-size" => o with { BatchSize = Int() },
                "--postgres" => o with { PostgresConnectionString = Next() },
                "--json" => o with { Json = Next() },
                "--warmup" => o with { Warmup = Int() },
                "--no-warmup" => o with { Warmup = 0 },
                "--only" => o with { Only = Next().Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(Known).ToArray() },
                _ => throw new ArgumentException($"Unknown sink option '{args[i]}'."),
            };
        }

        return o;
    }

    /// <summary>True when run <paramref name="name"/> (raw, upsert, copymerge, sqlite) is selected.</summary>
    public bool Runs(string name) => Only is null || name == "raw" || Only.Contains(name, StringComparer.OrdinalIgnoreCase);

    private static string Known(string name) => name.ToLowerInvariant() is "raw" or "upsert" or "copymerge" or "sqlite"
        ? name.ToLowerInvariant()
        : throw new ArgumentException($"Unknown sink run '{name}' in --only (raw, upsert, copymerge, sqlite).");
}

/// <summary>
/// Journal entries/s through the ERP posting sink, from <c>finance.events.v1</c> on the embedded broker into each ledger,
/// with the ratio to a raw binary COPY of the same journal rows into the same PostgreSQL tables in the same run.
/// </summary>
public static class SinkBenchmark
{
    private sealed record Result(string Name, int Entries, double Seconds, double EntriesPerSecond, double ClientCpuMicrosPerEntry, double? ServerCpuMicrosPerEntry);

    /// <summary>CPU used so far by this process and by the PostgreSQL server (null: not measurable, e.g. a server given by --postgres).</summary>
    private readonly record struct CpuMark(TimeSpan Client, TimeSpan? Server)
    {
        public static CpuMark Now(Func<TimeSpan?> server) => new(Process.GetCurrentProcess().TotalProcessorTime, server());

        /// <summary>CPU µs per entry since <paramref name="start"/>: this process, and the server.</summary>
        public (double Client, double? Server) PerEntrySince(CpuMark start, long entries) =>
            ((Client - start.Client).TotalMicroseconds / entries, Server is { } s && start.Server is { } s0 ? (s - s0).TotalMicroseconds / entries : null);
    }

    public static async Task<int> RunAsync(SinkBenchOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        Console.WriteLine($"sink benchmark: {options.Entries:N0} journal entries (3 lines each), {options.Partitions} partitions, batches of {options.BatchSize}, "
            + (options.Warmup > 0 ? $"warm-up {options.Warmup:N0} entries per run (untimed)" : "no warm-up") + $"; load average {Harness.BenchMachine.LoadAverage()}");
        using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 1, WatermarkCheckInterval = TimeSpan.Zero });
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        foreach (var (topic, schema) in new (string, Avro.Schema)[]
                 {
                     (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.ErpPostings, ErpPostingResult._SCHEMA),
                     (Topics.Quarantine, QuarantineRecord._SCHEMA), (Topics.DeadLetters, DeadLetterRecord._SCHEMA),
                 })
        {
            // Results are published once per run per ledger: enough partitions that the mock's 5 MiB cap is never reached.
            cluster.CreateTopic(topic, topic == Topics.ErpPostings ? options.Partitions * 4 : options.Partitions, 1);
            await client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }

        var events = Enumerable.Range(0, options.Entries).Select(Invoice).ToList();
        using (var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
               {
                   BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true, LingerMs = 5, BatchSize = 1_000_000, CompressionType = CompressionType.Lz4,
               }).Build())
        {
            var serdes = new AvroSerdes<FinanceEvent>(client);
            for (var i = 0; i < events.Count; i++)
            {
                producer.Produce(new TopicPartition(Topics.FinanceEvents, i % options.Partitions),
                    new Message<string, byte[]> { Key = events[i].customerId, Value = serdes.SerializeValue(events[i], Topics.FinanceEvents) });
                if (i % 10_000 == 0)
                {
                    producer.Poll(TimeSpan.Zero);
                }
            }

            if (producer.Flush(TimeSpan.FromSeconds(120)) != 0)
            {
                throw new TimeoutException("producing the input did not finish");
            }
        }

        await using var throwaway = options.PostgresConnectionString is null ? await ThrowawayPostgres.StartAsync(durable: true, ct) : null;
        var databases = new List<string>();
        async Task<string> NewDatabaseAsync(string name)
        {
            if (throwaway is not null)
            {
                var created = await throwaway.CreateDatabaseAsync(name, ct);
                databases.Add(created);
                return created;
            }

            var builder = new Npgsql.NpgsqlConnectionStringBuilder(options.PostgresConnectionString);
            await using var admin = new Npgsql.NpgsqlConnection(builder.ConnectionString);
            await admin.OpenAsync(ct);
            var db = $"{name}_{DateTime.UtcNow:yyyyMMddHHmmss}";
            await using (var create = new Npgsql.NpgsqlCommand($"CREATE DATABASE \"{db}\"", admin))
            {
                await create.ExecuteNonQueryAsync(ct);
            }

            builder.Database = db;
            return builder.ConnectionString;
        }

        Console.WriteLine(throwaway is null ? "PostgreSQL: given by --postgres" : $"PostgreSQL: throwaway cluster on 127.0.0.1:{throwaway.Port} (fsync on, synchronous_commit on)");
        Func<TimeSpan?> serverCpu = throwaway is null ? () => null : throwaway.ServerCpuTime;

        // Before each timed run on the throwaway server: the earlier runs' tables vacuumed and analyzed and a checkpoint taken, so that
        // autovacuum and checkpoint work left by them does not fall into this run's timed window (every run starts alike).
        async Task SettleAsync()
        {
            if (throwaway is null)
            {
                return;
            }

            foreach (var database in databases)
            {
                await using var connection = new Npgsql.NpgsqlConnection(database);
                await connection.OpenAsync(ct);
                await using var vacuum = new Npgsql.NpgsqlCommand("VACUUM ANALYZE", connection) { CommandTimeout = 300 };
                await vacuum.ExecuteNonQueryAsync(ct);
            }

            await using var admin = new Npgsql.NpgsqlConnection(throwaway.ConnectionString());
            await admin.OpenAsync(ct);
            await using var checkpoint = new Npgsql.NpgsqlCommand("CHECKPOINT", admin) { CommandTimeout = 300 };
            await checkpoint.ExecuteNonQueryAsync(ct);
        }

        var results = new List<Result>();

        // Raw baseline: the same journals, already built, COPYed straight into the same tables (no idempotency, no Kafka).
        var builder = new JournalBuilder(DefaultChartOfAccounts.Instance);
        var journals = events.Select(e => builder.Build(FinanceFactMapper.ToFact(e))).ToList();
        if (options.Warmup > 0)
        {
            await using var warm = await PostgresLedger.OpenAsync(await NewDatabaseAsync("bench_raw_warmup"), PostgresWriteMode.BatchedUpsert, ct);
            foreach (var chunk in journals.Take(options.Warmup).Chunk(options.BatchSize))
            {
                await warm.CopyRawAsync(chunk, ct);
            }
        }

        await using (var raw = await PostgresLedger.OpenAsync(await NewDatabaseAsync("bench_raw"), PostgresWriteMode.BatchedUpsert, ct))
        {
            await SettleAsync();
            var cpu = CpuMark.Now(serverCpu);
            var sw = Stopwatch.StartNew();
            foreach (var chunk in journals.Chunk(options.BatchSize))
            {
                await raw.CopyRawAsync(chunk, ct);
            }

            sw.Stop();
            var (clientCpu, serverCpuUs) = CpuMark.Now(serverCpu).PerEntrySince(cpu, options.Entries);
            Check(await raw.CountJournalsAsync(ct), options.Entries, "raw COPY");
            results.Add(new Result("raw COPY into PostgreSQL (same rows, same tables)", options.Entries, sw.Elapsed.TotalSeconds, options.Entries / sw.Elapsed.TotalSeconds,
                clientCpu, serverCpuUs));
        }

        foreach (var mode in new[] { PostgresWriteMode.BatchedUpsert, PostgresWriteMode.CopyMerge }.Where(m => options.Runs(m == PostgresWriteMode.BatchedUpsert ? "upsert" : "copymerge")))
        {
            if (options.Warmup > 0)
            {
                await using var warm = await PostgresLedger.OpenAsync(await NewDatabaseAsync("bench_" + mode.ToString().ToLowerInvariant() + "_warmup"), mode, ct);
                await RunSinkAsync($"warm-up -> PostgreSQL ({mode})", cluster, client, warm, options, Math.Min(options.Warmup, options.Entries), serverCpu, ct);
            }

            await using var ledger = await PostgresLedger.OpenAsync(await NewDatabaseAsync("bench_" + mode.ToString().ToLowerInvariant()), mode, ct);
            await SettleAsync();
            results.Add(await RunSinkAsync($"sink -> PostgreSQL ({mode})", cluster, client, ledger, options, options.Entries, serverCpu, ct));
        }

        if (options.Runs("sqlite"))
        {
            var path = Path.Combine(Path.GetTempPath(), $"bench-ledger-{Guid.NewGuid():N}.db");
            var warmPath = Path.Combine(Path.GetTempPath(), $"bench-ledger-warmup-{Guid.NewGuid():N}.db");
            try
            {
                if (options.Warmup > 0)
                {
                    await using var warm = await SqliteLedger.OpenAsync(warmPath, ct);
                    await RunSinkAsync("warm-up -> SQLite", cluster, client, warm, options, Math.Min(options.Warmup, options.Entries), () => null, ct);
                }

                await using var sqlite = await SqliteLedger.OpenAsync(path, ct);
                await SettleAsync();
                results.Add(await RunSinkAsync("sink -> SQLite", cluster, client, sqlite, options, options.Entries, () => null, ct));
            }
            finally
            {
                foreach (var f in new[] { path, warmPath }.SelectMany(p => new[] { p, p + "-wal", p + "-shm" }))
                {
                    File.Delete(f);
                }
            }
        }

        var baseline = results[0].EntriesPerSecond;
        Console.WriteLine();
        Console.WriteLine("| run | entries | seconds | entries/s | ratio to raw COPY | CPU µs/entry: this process | CPU µs/entry: PostgreSQL server |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|");
        foreach (var r in results)
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {r.Name} | {r.Entries:N0} | {r.Seconds:F2} | {r.EntriesPerSecond:N0} | {r.EntriesPerSecond / baseline:F2} | {r.ClientCpuMicrosPerEntry:F1} | {(r.ServerCpuMicrosPerEntry is { } s ? s.ToString("F1", CultureInfo.InvariantCulture) : "n/a")} |"));
        }

        Console.WriteLine($"load average at the end: {Harness.BenchMachine.LoadAverage()}");

        if (options.Json is not null)
        {
            await File.WriteAllTextAsync(options.Json, JsonSerializer.Serialize(new { options, machine = Environment.MachineName, cores = Environment.ProcessorCount, results }, new JsonSerializerOptions { WriteIndented = true }), ct);
        }

        return 0;
    }

    /// <summary>
    /// Runs a sink (its own consumer group, from the topic's start) until <paramref name="target"/> journals are posted. At
    /// <c>options.Entries</c> it is a timed run, checked (exactly N journals, no duplicates, nothing quarantined); below, a warm-up.
    /// </summary>
    private static async Task<Result> RunSinkAsync(string name, EmbeddedKafkaCluster cluster, ISchemaRegistryClient client, ILedger ledger, SinkBenchOptions options,
        int target, Func<TimeSpan?> serverCpu, CancellationToken ct)
    {
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true, LingerMs = 5, BatchSize = 1_000_000, CompressionType = CompressionType.Lz4,
        }).Build();
        var group = "bench-sink-" + Guid.NewGuid().ToString("N")[..8];
        var sink = new ErpPostingSink(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, FetchQueueBackoffMs = 100 }, producer, client, ledger,
            DefaultChartOfAccounts.Instance, new ErpPostingSinkOptions { GroupId = group, MaxBatchSize = options.BatchSize, MaxBatchWait = TimeSpan.FromMilliseconds(100) },
            NullLogger<ErpPostingSink>.Instance);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);

        // Timed from the first posted batch to the last (the consumer-group join is not timed); the first batch's entries are not counted.
        long first;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while ((first = sink.PostedCount) == 0)
        {
            if (run.IsCompleted || DateTime.UtcNow > deadline)
            {
                await run;
                throw new TimeoutException($"{name}: nothing posted within 60 s");
            }

            await Task.Delay(1, ct);
        }

        var cpu = CpuMark.Now(serverCpu);
        var sw = Stopwatch.StartNew();
        var progress = Stopwatch.StartNew();
        while (sink.PostedCount < target)
        {
            if (run.IsCompleted)
            {
                await run;
                throw new InvalidOperationException($"{name}: the sink stopped at {sink.PostedCount} postings");
            }

            if (progress.Elapsed > TimeSpan.FromSeconds(1))
            {
                Console.Error.WriteLine($"  {name}: {sink.PostedCount:N0} posted");
                progress.Restart();
            }

            if (sw.Elapsed > TimeSpan.FromMinutes(10))
            {
                throw new TimeoutException($"{name}: stalled at {sink.PostedCount} postings");
            }

            await Task.Delay(1, ct);
        }

        sw.Stop();
        var counted = sink.PostedCount - first;
        var (clientCpu, serverCpuUs) = CpuMark.Now(serverCpu).PerEntrySince(cpu, counted);
        await stop.CancelAsync();
        await run;
        if (target == options.Entries)
        {
            Check(await ledger.CountJournalsAsync(ct), options.Entries, name);
        }

        if (sink.DuplicateCount != 0 || sink.QuarantinedCount != 0)
        {
            throw new InvalidOperationException($"{name}: {sink.DuplicateCount} duplicates and {sink.QuarantinedCount} quarantined, expected none");
        }

        return new Result(name, (int)counted, sw.Elapsed.TotalSeconds, counted / sw.Elapsed.TotalSeconds, clientCpu, serverCpuUs);
    }

    private static void Check(long actual, int expected, string name)
    {
        if (actual != expected)
        {
            throw new InvalidOperationException($"{name}: {actual} journals in the ledger, expected {expected}");
        }
    }

    /// <summary>An invoice with a services line and a tax line: AR debit, services and tax credits (3 journal lines).</summary>
    internal static FinanceEvent Invoice(int i)
    {
        var services = 100m + (i % 1000) + 0.25m;
        var tax = Math.Round(services * 0.0825m, 2);
        return new FinanceEvent
        {
            eventId = $"fe_b{i}", eventType = FinanceEventType.INVOICE_ISSUED, postingKey = $"invoice:b{i}:issued", correlationId = $"corr-b{i}",
            legalEntityId = i % 2 == 0 ? "US01" : "DE01", customerId = $"C-{i % 5000}", currency = i % 2 == 0 ? "USD" : "EUR",
            totalAmount = Money.ToAvro(services + tax), taxAmount = Money.ToAvro(tax),
            effectiveDate = new DateTime(2026, 11, 1 + (i % 28), 0, 0, 0, DateTimeKind.Utc), documentNumber = $"INV-b{i}",
            lines =
            [
                new FinanceEventLine { lineId = $"b{i}:svc", kind = FinanceLineKind.SERVICES, amount = Money.ToAvro(services) },
                new FinanceEventLine { lineId = $"b{i}:tax", kind = FinanceLineKind.TAX, amount = Money.ToAvro(tax), taxJurisdiction = i % 2 == 0 ? "US-CA" : "DE" },
            ],
            source = new SourceRef { system = "stripe", objectType = "invoice", objectId = $"b{i}", eventId = $"evt_b{i}" },
            createdAt = new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc),
        };
    }
}
