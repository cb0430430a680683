using System.Diagnostics;
using System.Globalization;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Streamiz.Kafka.Net;
using Streaming.Bench.Harness;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Platform.Topics;
using Streaming.Processors;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Hosting;
using Streaming.SchemaRegistry;
using ProductSettings = Streaming.Platform.Configuration.ProcessorsOptions;

namespace Streaming.Bench.Processors;

/// <summary>Options of the <c>processors</c> subcommand.</summary>
public sealed record ProcessorsOptions
{
    /// <summary>Invoices to map.</summary>
    public int Records { get; init; } = 200_000;

    /// <summary>Partitions of the invoice (and credit-note) topic (null: the manifest's, or more if the mock's retention needs them).</summary>
    public int? InputPartitions { get; init; }

    /// <summary>Distinct customers (account links).</summary>
    public int Customers { get; init; } = 1_000;

    /// <summary>Streamiz processing guarantee for the topology run.</summary>
    public ProcessingGuarantee Guarantee { get; init; } = ProcessingGuarantee.AT_LEAST_ONCE;

    /// <summary>Streamiz <c>max.poll.records</c> (null: the product's default, <c>Processors:MaxPollRecords</c>).</summary>
    public int? MaxPollRecords { get; init; }

    /// <summary>Print the topology's output progress every 100 ms.</summary>
    public bool Verbose { get; init; }

    /// <summary>Streamiz <c>poll.ms</c> (null: the product's default, <c>Processors:PollMs</c>).</summary>
    public int? PollMs { get; init; }

    /// <summary>Streamiz <c>commit.interval.ms</c> at least once (null: the product's default, <c>Processors:CommitIntervalMs</c>; exactly once always 100 ms).</summary>
    public int? CommitIntervalMs { get; init; }

    /// <summary>Run every side once on the same invoices before the measured run (JIT warm-up), and discard it.</summary>
    public bool Warmup { get; init; } = true;

    /// <summary>Run only the topology (for profiling): no pass-through, no loops, no ratios.</summary>
    public bool TopologyOnly { get; init; }

    /// <summary>Extra Streamiz / librdkafka settings for the topology and the pass-through, on top of the product's defaults (experiments).</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Config { get; init; } = [];

    /// <summary>Usage text.</summary>
    public const string Usage = """
        processors [--records N] [--customers C] [--input-partitions P] [--eos] [--max-poll-records N] [--config key=value]... [--no-warmup] [--topology-only] [--verbose]

          Finance mapping with its GlobalKTable lookups: the Streamiz topology (1 stream thread, RocksDB state)
          and a hand-written Confluent.Kafka consume → transform → produce loop doing the same lookups and the same
          mapping, on the same invoices in the same run, on the embedded broker. Reports events/s of both, the
          ratio, managed memory and the RocksDB state size. --eos runs the topology with exactly-once. Each side is
          reported over the whole run and in steady state (from 20% to 80% of its records), with the CPU per record
          of its busiest thread (the stream thread, the loop). --config adds a Streamiz or librdkafka setting to the
          topology and the pass-through. Every side first runs once on the same invoices (fresh application id,
          group and state) to warm up the JIT; that run is discarded (--no-warmup skips it). Fails if the embedded broker dropped any data (topics are sized for it).
        """;

    /// <summary>Parses the arguments after <c>processors</c>.</summary>
    public static ProcessorsOptions Parse(IReadOnlyList<string> args)
    {
        var o = new ProcessorsOptions();
        for (var i = 0; i < args.Count; i++)
        {
            KeyValuePair<string, string> KeyValue() => i + 1 < args.Count && args[++i].Split('=', 2) is [{ Length: > 0 } k, var v]
                ? KeyValuePair.Create(k, v) : throw new ArgumentException("--config needs key=value.");
            int Int() => i + 1 < args.Count && int.TryParse(args[++i], NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
                ? n : throw new ArgumentException($"{args[i]} needs a positive integer.");
            o = args[i] switch
            {
                "--records" => o with { Records = Int() },
                "--customers" => o with { Customers = Int() },
                "--input-partitions" => o with { InputPartitions = Int() },
                "--eos" => o with { Guarantee = ProcessingGuarantee.EXACTLY_ONCE },
                "--verbose" => o with { Verbose = true },
                "--max-poll-records" => o with { MaxPollRecords = Int() },
                "--topology-only" => o with { TopologyOnly = true },
                "--no-warmup" => o with { Warmup = false },
                "--poll-ms" => o with { PollMs = Int() },
                "--commit-interval-ms" => o with { CommitIntervalMs = Int() },
                "--config" => o with { Config = [.. o.Config, KeyValue()] },
                var other => throw new ArgumentException($"Unknown option '{other}'."),
            };
        }

        return o;
    }
}

/// <summary>The <c>processors</c> benchmark.</summary>
public static class ProcessorsCommand
{
    private static readonly DateTime Day = new(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc);
    private static readonly string[] Jurisdictions = ["US-CA", "US-NY"];
    private const string LoopOutput = "bench.finance.events.loop";

    /// <summary>Runs both sides and prints the comparison.</summary>
    public static async Task<int> RunAsync(ProcessorsOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        await using var broker = BenchBroker.Resolve(null, NullLoggerFactory.Instance);
        if (!broker.IsEmbedded)
        {
            throw new ArgumentException("processors runs on the embedded broker only (it creates the pipeline's fixed topic names).");
        }

        await using var registryServer = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryServer.Url });
        foreach (var (topic, schema) in new[]
                 {
                     (Topics.AccountLinks, AccountLink._SCHEMA), (Topics.LegalEntities, LegalEntity._SCHEMA), (Topics.Products, Product._SCHEMA),
                     (Topics.TaxRules, TaxRule._SCHEMA), (Topics.GlMappings, GlMapping._SCHEMA), (Topics.BillingInvoices, Streaming.Contracts.Billing.Invoice._SCHEMA),
                     (Topics.BillingPayments, Payment._SCHEMA), (Topics.BillingCreditNotes, CreditNote._SCHEMA), (Topics.BillingUsage, UsageEvent._SCHEMA),
                     (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.Quarantine, QuarantineRecord._SCHEMA), (Topics.DeadLetters, DeadLetterRecord._SCHEMA),
                     (LoopOutput, FinanceEvent._SCHEMA), (LoopOutput + ".serdes", FinanceEvent._SCHEMA),
                 })
        {
            await registry.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }

        // Inputs get partitions enough for the mock's retention (5 MiB per partition): the run is long enough for its
        // whole-run rate to approach the steady state. Credit notes meet invoices in the same tasks (co-partitioned).
        var product = TopicManifest.LoadEmbedded();
        var inputPartitions = options.InputPartitions
            ?? Math.Max(product.Topics.Single(t => t.Name == Topics.BillingInvoices).Partitions, PartitionsToHold(options.Records, InvoiceBytes(registry, options.Customers)));
        var manifest = TopicManifest.Create(product.Topics.Select(t => t.Name is Topics.BillingInvoices or Topics.BillingCreditNotes ? t with { Partitions = inputPartitions } : t));
        // Outputs are sized for the mock's retention (5 MiB per partition): finance events are ~3x an invoice, so
        // finance.events.v1 and the loops' topics get more partitions than the manifest's 6 (the count does not
        // change the topology's tasks, which follow its input topics). Nothing may be dropped: checked at the end.
        var outputPartitions = Math.Max(manifest.Topics.Single(t => t.Name == Topics.FinanceEvents).Partitions,
            PartitionsToHold(options.Records * Rounds(options), EventBytes(registry, options.Customers)));
        foreach (var t in manifest.Topics.Where(t => !t.Name.StartsWith('_')))
        {
            await broker.CreateTopicAsync(t.Name, t.Name == Topics.FinanceEvents ? outputPartitions : t.Partitions);
        }

        await broker.CreateTopicAsync(LoopOutput, outputPartitions);
        await broker.CreateTopicAsync(LoopOutput + ".serdes", outputPartitions);
        await broker.CreateTopicAsync(PassThroughOutput, outputPartitions);
        await registry.RegisterSchemaAsync(Topics.ValueSubject(PassThroughOutput), new Schema(Streaming.Contracts.Billing.Invoice._SCHEMA.ToString(), SchemaType.Avro));
        Console.WriteLine($"broker: {broker.Description}");
        Console.WriteLine($"producing master data ({options.Customers} customers) and {options.Records:N0} invoices ({Topics.BillingInvoices}: "
                          + $"{manifest.Topics.Single(t => t.Name == Topics.BillingInvoices).Partitions} partitions; outputs: {outputPartitions} partitions)…");
        await ProduceAsync(broker.BootstrapServers, registry, options, ct);

        Result? passThrough = null, streamiz = null, loop = null, loopFast = null;
        for (var round = 2 - Rounds(options); round < 2; round++)
        {
            if (round == 0)
            {
                Console.WriteLine("warm-up round (discarded):");
            }

            passThrough = options.TopologyOnly ? null : await RunPassThroughAsync(broker, registry, options, outputPartitions, round, ct);
            streamiz = await RunTopologyAsync(broker, registry, manifest, options, outputPartitions, round, ct);
            loop = options.TopologyOnly ? null : await RunLoopAsync(broker.BootstrapServers, registry, options, topologySerdes: false, round, ct);
            loopFast = options.TopologyOnly ? null : await RunLoopAsync(broker.BootstrapServers, registry, options, topologySerdes: true, round, ct);
            if (round == 0)
            {
                Console.WriteLine($"  topology {streamiz.Rate:N0} events/s, steady {streamiz.Timing.SteadyRate:N0}/s, stream thread {streamiz.Timing.ThreadCpuUs:0.0} µs per record");
            }
        }

        ArgumentNullException.ThrowIfNull(streamiz);
        // Every topic of the run, inputs, outputs and changelogs: a dropped record would make the figures of less work than claimed.
        try
        {
            await broker.CheckForDroppedDataAsync();
        }
        catch (InvalidOperationException ex)
        {
            throw new InvalidOperationException($"{ex.Message}. Use fewer --records.", ex);
        }

        Console.WriteLine();
        Console.WriteLine($"load average: {BenchMachine.LoadAverage()}");
        Console.WriteLine($"Streamiz topology ({options.Guarantee}, 1 stream thread): {streamiz.Rate:N0} events/s ({options.Records:N0} in {streamiz.Timing.Seconds:0.00} s after RUNNING, "
                          + $"first output after {streamiz.Timing.FirstOutputSeconds:0.00} s), managed heap {streamiz.HeapMb:0} MB, working set {streamiz.WorkingSetMb:0} MB, RocksDB state {streamiz.StateMb:0.0} MB");
        Console.WriteLine($"  steady state: {streamiz.Timing.Describe()}");
        if (passThrough is null || loop is null || loopFast is null)
        {
            return 0;
        }

        Console.WriteLine($"hand-written Confluent.Kafka loop:            {loop.Rate:N0} events/s ({options.Records:N0} in {loop.Timing.Seconds:0.00} s), managed heap {loop.HeapMb:0} MB");
        Console.WriteLine($"  steady state: {loop.Timing.Describe()}");
        Console.WriteLine($"same loop with the topology's Avro serdes:    {loopFast.Rate:N0} events/s ({options.Records:N0} in {loopFast.Timing.Seconds:0.00} s), managed heap {loopFast.HeapMb:0} MB");
        Console.WriteLine($"  steady state: {loopFast.Timing.Describe()}");
        Console.WriteLine($"Streamiz pass-through (deserialize invoice → serialize → To, no lookups): {passThrough.Rate:N0} events/s ({options.Records:N0} in {passThrough.Timing.Seconds:0.00} s)");
        Console.WriteLine($"  steady state: {passThrough.Timing.Describe()}");
        Console.WriteLine($"ratio topology / loop: {streamiz.Rate / loop.Rate:0.00}   topology / loop with the topology's serdes: {streamiz.Rate / loopFast.Rate:0.00}   "
                          + $"topology / Streamiz pass-through: {streamiz.Rate / passThrough.Rate:0.00}");
        Console.WriteLine($"steady-state ratios: topology / loop {streamiz.Timing.SteadyRate / loop.Timing.SteadyRate:0.00}   "
                          + $"topology / loop with the topology's serdes {streamiz.Timing.SteadyRate / loopFast.Timing.SteadyRate:0.00}   "
                          + $"topology / pass-through {streamiz.Timing.SteadyRate / passThrough.Timing.SteadyRate:0.00}");
        Console.WriteLine($"busiest-thread CPU per record (capacity of one thread): topology {streamiz.Timing.ThreadCpuUs:0.0} µs ({1e6 / streamiz.Timing.ThreadCpuUs:N0}/s), "
                          + $"loop {loop.Timing.ThreadCpuUs:0.0} µs ({1e6 / loop.Timing.ThreadCpuUs:N0}/s), loop with the topology's serdes {loopFast.Timing.ThreadCpuUs:0.0} µs ({1e6 / loopFast.Timing.ThreadCpuUs:N0}/s), "
                          + $"pass-through {passThrough.Timing.ThreadCpuUs:0.0} µs ({1e6 / passThrough.Timing.ThreadCpuUs:N0}/s)");
        Console.WriteLine($"CPU-time ratios (loop µs / topology µs): vs loop {loop.Timing.ThreadCpuUs / streamiz.Timing.ThreadCpuUs:0.00}   "
                          + $"vs loop with the topology's serdes {loopFast.Timing.ThreadCpuUs / streamiz.Timing.ThreadCpuUs:0.00}");
        return 0;
    }

    private const string PassThroughOutput = "bench.passthrough";

    private const int InputLingerMs = 200;

    private static int Rounds(ProcessorsOptions options) => options.Warmup ? 2 : 1;

    // Partitions so that the fullest one stays under 80% of the mock's 5 MiB (keys hash unevenly: 1.6x margin) and
    // well under its 100,000 batches.
    private static int PartitionsToHold(int records, int bytesPerRecord)
    {
        const double margin = 1.6;
        var byBytes = records * (bytesPerRecord + 100.0) * margin / (0.8 * BenchBroker.EmbeddedPartitionMaxBytes);
        var byBatches = records * margin / (BenchBroker.EmbeddedPartitionMaxBatches * 0.8);
        return (int)Math.Ceiling(Math.Max(byBytes, byBatches));
    }

    // Average encoded size of an invoice with its headers (one in ten has a subscription line).
    private static int InvoiceBytes(ISchemaRegistryClient registry, int customers)
    {
        var serdes = new StreamizAvroSerDes<Invoice>(registry);
        var context = new SerializationContext(MessageComponentType.Value, Topics.BillingInvoices);
        return (int)Enumerable.Range(0, 10)
            .Select(i => serdes.Serialize(Invoice(i, customers), context).Length + TracingHeaders.Create($"q2c-{i}").Sum(h => h.Key.Length + h.GetValueBytes().Length))
            .Average();
    }

    // Average encoded size of the finance event of an invoice (one in ten has a subscription line).
    private static int EventBytes(ISchemaRegistryClient registry, int customers)
    {
        var serdes = new StreamizAvroSerDes<FinanceEvent>(registry);
        var context = new SerializationContext(MessageComponentType.Value, Topics.FinanceEvents);
        var link = new AccountLink { canonicalCustomerId = "C-0", billingCustomerId = "cus_0", legalEntityId = "US01", billingCountry = "US", updatedAt = Day };
        return (int)Enumerable.Range(0, 10)
            .Select(i => serdes.Serialize(FinanceEventMapper.FromInvoice(Invoice(i, customers), link, new SourcePosition(Topics.BillingInvoices, 0, i))!, context).Length)
            .Average();
    }

    /// <summary>
    /// Progress of one side: the rate over its middle (20% to 80% of the records, so start-up and the tail are out),
    /// and the CPU per record of the busiest thread and of the whole process over the same window.
    /// </summary>
    private sealed class SteadyWindow(int records)
    {
        private readonly long _from = records / 5;
        private readonly long _to = records * 4L / 5;
        private (double T, long N, ThreadCpu Threads, TimeSpan Cpu)? _start;
        private (double T, long N, ThreadCpu Threads, TimeSpan Cpu)? _end;

        public void Observe(double seconds, long done)
        {
            if (_start is null && done >= _from && done < _to)
            {
                _start = (seconds, done, ThreadCpu.Snapshot(), Process.GetCurrentProcess().TotalProcessorTime);
            }
            else if (_start is not null && _end is null && done >= _to)
            {
                _end = (seconds, done, ThreadCpu.Snapshot(), Process.GetCurrentProcess().TotalProcessorTime);
            }
        }

        /// <summary>CPU per record of each thread name over the window (µs), most first.</summary>
        public string Threads()
            => _start is { } a && _end is { } b
                ? string.Join(", ", b.Threads.ByName(a.Threads).Take(8).Select(t => $"{t.Name} {t.Cpu.TotalMicroseconds / (b.N - a.N):0.0}"))
                : "";

        public Timing Finish(double seconds, double firstOutputSeconds)
        {
            if (_start is not { } a || _end is not { } b)
            {
                throw new InvalidOperationException("the run was too short to observe its middle (20% to 80% of the records): use more --records");
            }

            var n = b.N - a.N;
            var (thread, cpu) = b.Threads.Busiest(a.Threads);
            return new Timing(seconds, firstOutputSeconds, n / (b.T - a.T), cpu.TotalMicroseconds / n, thread, (b.Cpu - a.Cpu).TotalMicroseconds / n, b.T - a.T);
        }
    }

    private sealed record Timing(double Seconds, double FirstOutputSeconds, double SteadyRate, double ThreadCpuUs, string Thread, double ProcessCpuUs, double SteadySeconds)
    {
        public string Describe() => $"{SteadyRate:N0} events/s over {SteadySeconds:0.00} s; busiest thread '{Thread}' {ThreadCpuUs:0.0} µs CPU per record "
                                    + $"(capacity {1e6 / ThreadCpuUs:N0}/s), whole process {ProcessCpuUs:0.0} µs per record";
    }

    private sealed record Result(int Records, Timing Timing, double HeapMb, double WorkingSetMb, double StateMb)
    {
        public double Rate => Records / Timing.Seconds;
    }

    private static Invoice Invoice(int i, int customers) => new()
    {
        invoiceId = $"in_{i}", number = $"INV-{i}", customerId = $"cus_{i % customers}", status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED,
        currency = "USD", subtotal = Money.ToAvro(i % 10 == 0 ? 1700m : 500m), tax = Money.ToAvro(40m), total = Money.ToAvro(i % 10 == 0 ? 1740m : 540m),
        amountPaid = Money.ToAvro(0m),
        lines = i % 10 == 0
            ? [Line("l1", LineKind.SERVICES, "prod_svc", 500m), Line("l2", LineKind.SUBSCRIPTION, "prod_sub", 1200m, new DateTime(2027, 1, 1, 0, 0, 0, DateTimeKind.Utc))]
            : [Line("l1", LineKind.SERVICES, "prod_svc", 500m)],
        taxLines = [new TaxLine { jurisdictionCode = Jurisdictions[i % 2], rate = Money.Rate(0.08m), taxableAmount = Money.ToAvro(500m), amount = Money.ToAvro(40m) }],
        issuedAt = Day, correlationId = $"q2c-{i}", sourceEventId = $"evt_{i}", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = Day,
    };

    // Subscription lines start in the future: their schedules are kept in RocksDB and nothing is released during the run.
    private static InvoiceLine Line(string id, LineKind kind, string product, decimal amount, DateTime? start = null) => new()
    {
        lineId = id, kind = kind, productId = product, quantity = Money.Quantity(1m), amount = Money.ToAvro(amount),
        servicePeriodStart = start, servicePeriodEnd = start?.AddYears(1),
    };

    private static async Task ProduceAsync(string bootstrap, ISchemaRegistryClient registry, ProcessorsOptions options, CancellationToken ct)
    {
        // Large batches: the mock broker finds a fetch offset by walking a partition's batches from the first one, so an
        // input written in small batches makes every fetch of every side cost more broker CPU than on a real broker.
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig
        {
            BootstrapServers = bootstrap, EnableIdempotence = true, LingerMs = InputLingerMs, BatchSize = 1_000_000, BatchNumMessages = 100_000,
        }).Build();
        void Send<T>(string topic, string key, T value) where T : class, Avro.Specific.ISpecificRecord
            => producer.Produce(topic, new Message<string, byte[]> { Key = key, Value = new AvroSerdes<T>(registry).SerializeValue(value, topic), Headers = TracingHeaders.Create($"bench-{key}") });
        var links = new AvroSerdes<AccountLink>(registry);
        var invoices = new AvroSerdes<Invoice>(registry);
        Send(Topics.LegalEntities, "US01", new LegalEntity { legalEntityId = "US01", name = "US", country = "US", functionalCurrency = "USD", taxRegistrationIds = [], billingCountries = ["US"], active = true, updatedAt = Day });
        foreach (var role in Enum.GetValues<AccountRole>())
        {
            Send(Topics.GlMappings, $"gl_{role}", new GlMapping { mappingId = $"gl_{role}", legalEntityId = "US01", accountRole = role, glAccountNumber = role.ToString() });
        }

        foreach (var j in Jurisdictions)
        {
            Send(Topics.TaxRules, $"tr_{j}", new TaxRule { ruleId = $"tr_{j}", jurisdictionCode = j, country = "US", rate = Money.Rate(0.08m), legalEntityId = "US01", taxPayableGlAccount = $"2300-{j}" });
        }

        foreach (var (id, kind) in new[] { ("prod_svc", ProductKind.SERVICES), ("prod_sub", ProductKind.SUBSCRIPTION) })
        {
            Send(Topics.Products, id, new Product { productId = id, name = id, kind = kind, active = true, updatedAt = Day, prices = [] });
        }

        for (var c = 0; c < options.Customers; c++)
        {
            producer.Produce(Topics.AccountLinks, new Message<string, byte[]>
            {
                Key = $"billing:cus_{c}",
                Value = links.SerializeValue(new AccountLink { canonicalCustomerId = $"C-{c}", billingCustomerId = $"cus_{c}", legalEntityId = "US01", billingCountry = "US", updatedAt = Day }, Topics.AccountLinks),
            });
        }

        for (var i = 0; i < options.Records; i++)
        {
            producer.Produce(Topics.BillingInvoices, new Message<string, byte[]> { Key = $"in_{i}", Value = invoices.SerializeValue(Invoice(i, options.Customers), Topics.BillingInvoices), Headers = TracingHeaders.Create($"q2c-{i}") });
        }

        if (producer.Flush(TimeSpan.FromSeconds(120)) > 0)
        {
            throw new TimeoutException("input not delivered within 120 s");
        }

        await Task.CompletedTask;
    }

    private static async Task<Result> RunTopologyAsync(BenchBroker broker, ISchemaRegistryClient registry, TopicManifest manifest, ProcessorsOptions options, int outputPartitions, int round, CancellationToken ct)
    {
        var appId = $"bench-processors-{round}";
        var builder = new StreamBuilder();
        FinanceMappingTopology.ConfigureTopology(builder, new FinanceSerdes(registry), new FinanceMappingOptions { PersistentState = true });
        var topology = builder.Build();
        foreach (var t in StreamizInternalTopics.For(topology, appId, manifest))
        {
            await broker.CreateTopicAsync(t.Name, t.Partitions);
        }

        var stateDir = Directory.CreateTempSubdirectory("bench-processors-");
        using var dlqProducer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = broker.BootstrapServers }).Build();
        var config = StreamConfigFor(appId, broker.BootstrapServers, stateDir.FullName, options, options.Guarantee);
        new StreamizDeadLetters(dlqProducer, registry, appId, NullLogger.Instance).Install(config);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        // The client supplier `streaming up` uses.
        using var stream = new KafkaStream(topology, config, new StreamizClientSupplier(config));
        stream.StateChanged += (_, s) => { if (s == KafkaStream.State.RUNNING) { running.TrySetResult(); } };
        var before = EndOffsets(broker.BootstrapServers, Topics.FinanceEvents, outputPartitions);
        GC.Collect();
        await stream.StartAsync(ct);
        await running.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
        var timing = await WatchOutputAsync(broker.BootstrapServers, Topics.FinanceEvents, outputPartitions, before, options, options.Guarantee == ProcessingGuarantee.EXACTLY_ONCE, $"topology-{round}", ct);
        var heap = GC.GetTotalMemory(false) / 1048576.0;
        var workingSet = Process.GetCurrentProcess().WorkingSet64 / 1048576.0;
        stream.Dispose();
        var stateMb = stateDir.EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => f.Length) / 1048576.0;
        stateDir.Delete(recursive: true);
        return new Result(options.Records, timing, heap, workingSet, stateMb);
    }

    private static StreamConfig StreamConfigFor(string appId, string bootstrap, string stateDir, ProcessorsOptions options, ProcessingGuarantee guarantee)
    {
        var config = new StreamConfig
        {
            ApplicationId = appId, BootstrapServers = bootstrap, AutoOffsetReset = AutoOffsetReset.Earliest, NumStreamThreads = 1,
            Guarantee = guarantee, StateDir = stateDir, Logger = NullLoggerFactory.Instance,
        };
        // The product's settings (what `streaming up` runs with), then the benchmark's overrides.
        var product = new ProductSettings();
        StreamizThroughput.Apply(config, new ProductSettings
        {
            MaxPollRecords = options.MaxPollRecords ?? product.MaxPollRecords,
            CommitIntervalMs = options.CommitIntervalMs ?? product.CommitIntervalMs,
            FetchQueueBackoffMs = product.FetchQueueBackoffMs,
            ProducerLingerMs = product.ProducerLingerMs,
            PollMs = options.PollMs ?? product.PollMs,
        });

        foreach (var (key, value) in options.Config)
        {
            // Streamiz maps known keys onto typed properties: give numbers and booleans as such.
            if (int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var number))
            {
                config.AddConfig(key, number);
            }
            else if (bool.TryParse(value, out var flag))
            {
                config.AddConfig(key, flag);
            }
            else
            {
                config.AddConfig(key, value);
            }
        }

        return config;
    }

    // End offsets of an output topic before a side starts: earlier rounds' output is already there.
    private static long EndOffsets(string bootstrap, string topic, int partitionCount)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-end-offsets" }).Build();
        return Enumerable.Range(0, partitionCount).Sum(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(5)).High.Value);
    }

    // Polls the output topic's end offsets (read_committed under EOS: the high watermark counts transaction markers
    // too) every 20 ms from state RUNNING until every record is there.
    private static async Task<Timing> WatchOutputAsync(string bootstrap, string topic, int partitionCount, long before, ProcessorsOptions options, bool eos, string side, CancellationToken ct)
    {
        var sw = Stopwatch.StartNew();
        using var counter = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = $"bench-counter-{side}", IsolationLevel = eos ? IsolationLevel.ReadCommitted : IsolationLevel.ReadUncommitted,
        }).Build();
        var partitions = Enumerable.Range(0, partitionCount).Select(p => new TopicPartition(topic, p)).ToList();
        var window = new SteadyWindow(options.Records);
        double? firstOutput = null;
        long last = -1;
        var lastChange = Stopwatch.StartNew();
        var lastPrint = TimeSpan.Zero;
        while (true)
        {
            var produced = partitions.Sum(tp => counter.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).High.Value) - before;
            var now = sw.Elapsed.TotalSeconds;
            window.Observe(now, produced);
            if (produced > 0)
            {
                firstOutput ??= now;
            }

            if (produced != last)
            {
                if ((options.Verbose && sw.Elapsed - lastPrint >= TimeSpan.FromMilliseconds(100)) || lastChange.Elapsed > TimeSpan.FromSeconds(2))
                {
                    Console.WriteLine($"  {side} t={now,6:0.00} s  {topic} end offsets {produced:N0}{(lastChange.Elapsed > TimeSpan.FromSeconds(2) ? $" (after {lastChange.Elapsed.TotalSeconds:0.0} s without progress)" : "")}");
                    lastPrint = sw.Elapsed;
                }

                last = produced;
                lastChange.Restart();
            }

            if (produced >= options.Records && (!eos || lastChange.Elapsed > TimeSpan.FromSeconds(1)))
            {
                break;
            }

            if (lastChange.Elapsed > TimeSpan.FromSeconds(120))
            {
                throw new TimeoutException($"{side} stalled at {produced:N0} of {options.Records:N0} for 120 s");
            }

            await Task.Delay(20, ct);
        }

        if (options.Verbose)
        {
            Console.WriteLine($"  {side}: CPU µs per record by thread: {window.Threads()}");
        }

        // Under EOS the loop waited 1 s without progress to be sure the last transaction was in.
        var seconds = eos ? sw.Elapsed.TotalSeconds - lastChange.Elapsed.TotalSeconds : sw.Elapsed.TotalSeconds;
        return window.Finish(seconds, firstOutput ?? seconds);
    }

    // The framework's own ceiling on this broker: the same input through a Streamiz topology that only deserializes
    // and re-serializes each invoice (at least once, 1 thread), to separate Streamiz's cost from the mapping's.
    private static async Task<Result> RunPassThroughAsync(BenchBroker broker, ISchemaRegistryClient registry, ProcessorsOptions options, int outputPartitions, int round, CancellationToken ct)
    {
        const string output = PassThroughOutput;
        var serdes = new FinanceSerdes(registry);
        var builder = new StreamBuilder();
        builder.Stream(Topics.BillingInvoices, serdes.Key, serdes.Source<Invoice>()).MapValues((v, _) => v).ToTopic(output, serdes.Key, serdes.Avro<Invoice>(), "pass-through-sink");
        var stateDir = Directory.CreateTempSubdirectory("bench-passthrough-");
        var config = StreamConfigFor($"bench-passthrough-{round}", broker.BootstrapServers, stateDir.FullName, options, ProcessingGuarantee.AT_LEAST_ONCE);
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stream = new KafkaStream(builder.Build(), config, new StreamizClientSupplier(config));
        stream.StateChanged += (_, s) => { if (s == KafkaStream.State.RUNNING) { running.TrySetResult(); } };
        var before = EndOffsets(broker.BootstrapServers, output, outputPartitions);
        await stream.StartAsync(ct);
        await running.Task.WaitAsync(TimeSpan.FromSeconds(120), ct);
        var timing = await WatchOutputAsync(broker.BootstrapServers, output, outputPartitions, before, options, eos: false, $"pass-through-{round}", ct);
        stream.Dispose();
        stateDir.Delete(recursive: true);
        return new Result(options.Records, timing, GC.GetTotalMemory(false) / 1048576.0, Process.GetCurrentProcess().WorkingSet64 / 1048576.0, 0);
    }

    // topologySerdes: false = Confluent's AvroSerializer/AvroDeserializer (what a hand-written service would use);
    // true = the topology's StreamizAvroSerDes (same bytes), so the ratio can also be read without the serdes difference.
    private static async Task<Result> RunLoopAsync(string bootstrap, ISchemaRegistryClient registry, ProcessorsOptions options, bool topologySerdes, int round, CancellationToken ct)
    {
        // Master data into dictionaries, the way a hand-written service would hold it.
        var links = Load(bootstrap, Topics.AccountLinks, new AvroSerdes<AccountLink>(registry));
        var entities = Load(bootstrap, Topics.LegalEntities, new AvroSerdes<LegalEntity>(registry));
        var products = Load(bootstrap, Topics.Products, new AvroSerdes<Product>(registry));
        var taxRules = Load(bootstrap, Topics.TaxRules, new AvroSerdes<TaxRule>(registry)).Values.ToDictionary(r => (r.legalEntityId, r.jurisdictionCode));
        var glMappings = Load(bootstrap, Topics.GlMappings, new AvroSerdes<GlMapping>(registry)).Values.ToDictionary(m => (m.legalEntityId, m.accountRole));
        var loopOutput = topologySerdes ? LoopOutput + ".serdes" : LoopOutput;
        var confluentInvoices = new AvroSerdes<Invoice>(registry);
        var confluentEvents = new AvroSerdes<FinanceEvent>(registry);
        var fastInvoices = new StreamizAvroSerDes<Invoice>(registry);
        var fastEvents = new StreamizAvroSerDes<FinanceEvent>(registry);
        var invoiceContext = new SerializationContext(MessageComponentType.Value, Topics.BillingInvoices);
        var eventContext = new SerializationContext(MessageComponentType.Value, loopOutput);
        Func<byte[], Invoice> readInvoice = topologySerdes ? b => fastInvoices.Deserialize(b, invoiceContext) : b => confluentInvoices.DeserializeValue(b, Topics.BillingInvoices);
        Func<FinanceEvent, byte[]> writeEvent = topologySerdes ? e => fastEvents.Serialize(e, eventContext) : e => confluentEvents.SerializeValue(e, loopOutput);
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = bootstrap, EnableIdempotence = true, LingerMs = 5 }).Build();
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap, GroupId = topologySerdes ? $"bench-loop-serdes-{round}" : $"bench-loop-{round}", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = true, EnableAutoOffsetStore = false,
            FetchQueueBackoffMs = 100,
        }).Build();
        consumer.Subscribe(Topics.BillingInvoices);
        GC.Collect();
        Stopwatch? sw = null;
        var window = new SteadyWindow(options.Records);
        var done = 0;
        var failed = 0L;
        while (done < options.Records)
        {
            ct.ThrowIfCancellationRequested();
            if (consumer.Consume(TimeSpan.FromSeconds(10)) is not { Message: { } m } r)
            {
                throw new TimeoutException($"loop got no record for 10 s after {done:N0}");
            }

            sw ??= Stopwatch.StartNew();
            var invoice = readInvoice(m.Value);
            var link = links[$"billing:{invoice.customerId}"];
            var entity = entities[link.legalEntityId];
            foreach (var line in invoice.lines)
            {
                _ = products[line.productId!];
            }

            foreach (var tax in invoice.taxLines)
            {
                _ = taxRules[(entity.legalEntityId, tax.jurisdictionCode)];
            }

            _ = glMappings[(entity.legalEntityId, AccountRole.AR)];
            _ = glMappings[(entity.legalEntityId, AccountRole.SERVICES_REVENUE)];
            _ = glMappings[(entity.legalEntityId, AccountRole.TAX_PAYABLE)];
            var fe = FinanceEventMapper.FromInvoice(invoice, link, new SourcePosition(r.Topic, r.Partition.Value, r.Offset.Value))!;
            producer.Produce(loopOutput, new Message<string, byte[]> { Key = fe.customerId, Value = writeEvent(fe), Headers = m.Headers },
                report => { if (report.Error.IsError) { Interlocked.Increment(ref failed); } });
            consumer.StoreOffset(r);
            done++;
            window.Observe(sw.Elapsed.TotalSeconds, done);
        }

        if (producer.Flush(TimeSpan.FromSeconds(60)) > 0 || Interlocked.Read(ref failed) > 0)
        {
            throw new InvalidOperationException("loop output not delivered");
        }

        var seconds = sw!.Elapsed.TotalSeconds;
        if (options.Verbose)
        {
            Console.WriteLine($"  loop: CPU µs per record by thread: {window.Threads()}");
        }

        var heap = GC.GetTotalMemory(false) / 1048576.0;
        consumer.Close();
        await Task.CompletedTask;
        return new Result(options.Records, window.Finish(seconds, 0), heap, Process.GetCurrentProcess().WorkingSet64 / 1048576.0, 0);
    }

    private static Dictionary<string, T> Load<T>(string bootstrap, string topic, AvroSerdes<T> serdes)
        where T : class, Avro.Specific.ISpecificRecord
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = $"bench-md-{topic}", EnableAutoCommit = false }).Build();
        var result = new Dictionary<string, T>(StringComparer.Ordinal);
        var metadata = consumer.GetWatermarkOffsets(new TopicPartition(topic, 0));
        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build();
        var partitions = admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics[0].Partitions.Select(p => new TopicPartition(topic, p.PartitionId)).ToList();
        consumer.Assign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var ends = partitions.ToDictionary(tp => tp.Partition.Value, tp => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(5)).High.Value);
        var remaining = ends.Values.Sum();
        while (remaining > 0)
        {
            var r = consumer.Consume(TimeSpan.FromSeconds(10)) ?? throw new TimeoutException($"master data {topic} not read within 10 s");
            result[r.Message.Key] = serdes.DeserializeValue(r.Message.Value, topic);
            remaining--;
        }

        _ = metadata;
        return result;
    }
}
