using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Microsoft.Extensions.Logging;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Stream;
using Streaming.Contracts;
using Streaming.Processors;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Hosting;
using Streaming.Platform.Topics;
using Streaming.Producers;
using Streaming.Producers.Demo;
using Streaming.Sinks.Journals;
using Streaming.Platform.Configuration;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.NetSuite;
using Streaming.Sinks.Posting;

namespace Streaming.Cli.Up;

/// <summary>What a demo run produced, for the printed summary and for tests.</summary>
public sealed record PipelineSummary(
    IReadOnlyDictionary<string, long> RecordsPerTopic,
    long? JournalsPosted,
    long JournalsPostedThisRun,
    long DuplicatesThisRun,
    long Quarantined,
    IReadOnlyList<TrialBalanceRow> TrialBalance,
    string LedgerLocation);

/// <summary>Runs the pipeline: finance-mapping topology + ERP posting sink over a started stack.</summary>
public sealed class PipelineRunner(StackRuntime stack, ILoggerFactory loggerFactory, TextWriter output)
{
    private readonly ILogger _log = loggerFactory.CreateLogger<PipelineRunner>();

    /// <summary>Starts everything; with <paramref name="demo"/> produces the demo month, waits for it to be processed and returns; otherwise runs until cancelled.</summary>
    /// <exception cref="InvalidOperationException">The topology stopped on its own (ERROR) or the sink failed: the pipeline is not healthy.</exception>
    public async Task<PipelineSummary?> RunAsync(string ledgerPath, bool demo, string stateDir, TimeSpan timeout, CancellationToken ct,
        LedgerOptions? ledgerOptions = null, NetSuiteOptions? netSuite = null,
        ProcessorsOptions? processorsOptions = null)
    {
        _guarantee = processorsOptions?.ExactlyOnce == true ? ProcessingGuarantee.EXACTLY_ONCE : ProcessingGuarantee.AT_LEAST_ONCE;
        _processorsOptions = processorsOptions ?? new ProcessorsOptions();
        // The configured ledger (Ledger:Provider / LEDGER_CONNECTION_STRING); SQLite at ledgerPath unless PostgreSQL is configured.
        await using var ledger = await LedgerFactory.OpenAsync(ledgerOptions ?? new LedgerOptions(), ct, ledgerPath, netSuite, loggerFactory).ConfigureAwait(false);
        output.WriteLine(ledger is SqliteLedger ? $"Ledger: SQLite at {ledger.Location}" : $"Ledger: {ledger.Location}");
        using var producer = new ProducerBuilder<string, byte[]>(stack.ProducerConfig("streaming-cli")).Build();
        var records = new AvroRecordProducer(producer, stack.Registry);

        // Offsets before anything of this run, so the summary counts this run only (a real cluster keeps history).
        var before = await EndOffsetsAsync(ct).ConfigureAwait(false);
        if (demo)
        {
            // Master data first: the GlobalKTables load it completely before the topology processes a record.
            DemoScenario.ProduceMasterData(records);
            await records.FlushAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        }

        using var stopping = CancellationTokenSource.CreateLinkedTokenSource(ct);
        using var streamizLogging = StreamizLogging.Attach(loggerFactory);
        // The demo's master data is loaded before the facts, so nothing waits for it; its revenue schedules are
        // released up to the end of the demo month and its last usage windows close after 1 s without usage.
        _financeOptions = demo
            ? new FinanceMappingOptions { ReadinessTimeout = TimeSpan.Zero, UsageIdleClose = TimeSpan.FromSeconds(1), RevenueClock = () => DemoScenario.RevenueAsOf }
            : new FinanceMappingOptions();
        var (stream, sourceTopics) = await StartTopologyAsync(stateDir, producer, ct).ConfigureAwait(false);
        Task sinkTask = Task.CompletedTask;
        try
        {
            await WaitForRunningAsync(timeout, ct).ConfigureAwait(false);
            // GL accounts from md.gl-mappings.v1 (followed while running); entities without mappings use the default chart.
            using var chart = GlMappingFollower.Start(stack.ConsumerConfig("streaming-erp-sink"), stack.Registry, DefaultChartOfAccounts.Instance,
                loggerFactory.CreateLogger("Streaming.Sinks.GlMappings"), ct);
            output.WriteLine($"GL mappings: {chart.Count} from {Topics.GlMappings}, following changes (entities without mappings use the default chart)");
            var sink = new ErpPostingSink(stack.ConsumerConfig("streaming-erp-sink"), producer, stack.Registry, ledger, chart,
                new ErpPostingSinkOptions(), loggerFactory.CreateLogger<ErpPostingSink>());
            sinkTask = Task.Run(() => sink.RunAsync(stopping.Token), CancellationToken.None);
            output.WriteLine("Pipeline running: topology " + FinanceMappingTopology.ApplicationId + ", sink " + new ErpPostingSinkOptions().GroupId);

            if (!demo)
            {
                output.WriteLine("Press Ctrl-C to stop.");
                // Whichever ends first: Ctrl-C, the sink failing, or the topology dying (a consumer that looks
                // healthy while consuming nothing is worse than a process that stops).
                var finished = await Task.WhenAny(sinkTask, _topologyFailed.Task, Task.Delay(Timeout.Infinite, ct)).ConfigureAwait(false);
                await finished.ConfigureAwait(false);
                return null;
            }

            DemoScenario.ProduceBilling(records);
            await records.FlushAsync(TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
            output.WriteLine($"Demo: {records.Delivered} records produced; waiting for the pipeline to catch up…");
            await WaitForCaughtUpAsync(sinkTask, sourceTopics, timeout, ct).ConfigureAwait(false);
            await StopSinkAsync(stopping, sinkTask).ConfigureAwait(false);
            return await SummarizeAsync(ledger, sink, before, ct).ConfigureAwait(false);
        }
        catch (TaskCanceledException) when (ct.IsCancellationRequested)
        {
            return null;
        }
        finally
        {
            // On every path, success or not: the sink stops (committing what it posted) before the topology and
            // the stack go away under it.
            try
            {
                output.WriteLine("Stopping: sink…");
                await StopSinkAsync(stopping, sinkTask).ConfigureAwait(false);
            }
            finally
            {
                output.WriteLine("Stopping: topology…");
                _stopping = true;
                try
                {
                    stream.Dispose();
                    output.WriteLine("Stopped: topology.");
                }
                catch (Exception ex) when (ex is KafkaException or InvalidOperationException or ObjectDisposedException)
                {
                    // At least once: whatever the topology had not committed is processed again on the next start,
                    // so a close that fails (e.g. stopped mid-rebalance) is reported, not fatal.
                    _log.LogWarning(ex, "The topology did not close cleanly");
                    output.WriteLine("Stopped: topology (did not close cleanly; see the log).");
                }
            }
        }
    }

    private async Task<(KafkaStream Stream, IReadOnlyList<string> SourceTopics)> StartTopologyAsync(string stateDir, IProducer<string, byte[]> producer, CancellationToken ct)
    {
        var topology = BuildTopology();

        // Internal topics (changelogs, repartition) exist before the application starts; the embedded broker cannot
        // create them on demand and Streamiz would wait in REBALANCING for ever.
        var internals = StreamizInternalTopics.For(topology, FinanceMappingTopology.ApplicationId, TopicManifest.LoadEmbedded());
        if (internals.Count > 0)
        {
            await stack.ApplyTopicsAsync(TopicManifest.Create(internals), ct).ConfigureAwait(false);
            output.WriteLine($"Topology internal topics: {string.Join(", ", internals.Select(t => t.Name))}");
        }

        var sources = topology.Describe().SubTopologies.SelectMany(st => st.Nodes.OfType<ISourceNodeDescription>()).SelectMany(n => n.Topics)
            .Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
        output.WriteLine($"Processing guarantee: {(_guarantee == ProcessingGuarantee.EXACTLY_ONCE ? "ExactlyOnce" : "AtLeastOnce")}");
        var config = CreateStreamConfig(stateDir, producer);
        // Our client supplier: under exactly-once it records the offsets the topology's transactions commit (the
        // embedded broker never shows them as group offsets), and its GlobalKTable consumer skips Streamiz's redundant
        // seek after assign that librdkafka used to refuse (Local: Erroneous state) — see docs/processors.md.
        _clients = new StreamizClientSupplier(config);
        var stream = new KafkaStream(topology, config, _clients);
        stream.StateChanged += (_, state) =>
        {
            _topologyState = state;
            if (!_stopping && !ct.IsCancellationRequested
                && (state == KafkaStream.State.ERROR || state == KafkaStream.State.PENDING_SHUTDOWN || state == KafkaStream.State.NOT_RUNNING))
            {
                _topologyFailed.TrySetException(new InvalidOperationException(
                    $"Topology {FinanceMappingTopology.ApplicationId} stopped on its own (state {state}); see the log above for the record that stopped it."));
            }
        };
        try
        {
            // Not bound to ct: Streamiz would close the stream on its own at Ctrl-C, racing the ordered shutdown below
            // (sink first, then topology) and looking like a topology that died.
            await stream.StartAsync(CancellationToken.None).ConfigureAwait(false);
            return (stream, sources);
        }
        catch
        {
            // The start failed: nothing was consumed or committed; release the instance and report the start failure.
            _stopping = true;
            try
            {
                stream.Dispose();
            }
            catch (Exception closeEx) when (closeEx is KafkaException or InvalidOperationException or ObjectDisposedException)
            {
                _log.LogWarning(closeEx, "The topology instance that failed to start did not close cleanly");
            }

            throw;
        }
    }

    private Topology BuildTopology()
    {
        var builder = new StreamBuilder();
        FinanceMappingTopology.ConfigureTopology(builder, new FinanceSerdes(stack.Registry), _financeOptions);
        return builder.Build();
    }

    private StreamConfig CreateStreamConfig(string stateDir, IProducer<string, byte[]> producer)
    {
        var config = new StreamConfig();
        foreach (var (k, v) in stack.Kafka.Common)
        {
            config.AddConfig(k, v);
        }

        config.ApplicationId = FinanceMappingTopology.ApplicationId;
        config.BootstrapServers = stack.BootstrapServers;
        config.StateDir = Path.GetFullPath(stateDir);
        config.AutoOffsetReset = AutoOffsetReset.Earliest;
        config.Logger = StreamizLogging.Factory;
        if (_guarantee == ProcessingGuarantee.EXACTLY_ONCE)
        {
            // Transactional producers are idempotent by construction; Streamiz refuses an explicit setting under EOS.
            config.Guarantee = ProcessingGuarantee.EXACTLY_ONCE;
        }
        else
        {
            config.Guarantee = ProcessingGuarantee.AT_LEAST_ONCE;
            config.EnableIdempotence = true;
        }

        StreamizThroughput.Apply(config, _processorsOptions);
        new StreamizDeadLetters(producer, stack.Registry, FinanceMappingTopology.ApplicationId, loggerFactory.CreateLogger<StreamizDeadLetters>()).Install(config);
        return config;
    }

    private FinanceMappingOptions _financeOptions = new();
    private ProcessingGuarantee _guarantee = ProcessingGuarantee.AT_LEAST_ONCE;
    private ProcessorsOptions _processorsOptions = new();
    private StreamizClientSupplier? _clients;
    private volatile KafkaStream.State? _topologyState;
    private volatile bool _stopping;
    private readonly TaskCompletionSource _topologyFailed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private async Task WaitForRunningAsync(TimeSpan timeout, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (_topologyState != KafkaStream.State.RUNNING)
        {
            if (DateTime.UtcNow > deadline || _topologyState == KafkaStream.State.ERROR || _topologyState == KafkaStream.State.NOT_RUNNING)
            {
                throw new TimeoutException($"Topology {FinanceMappingTopology.ApplicationId} did not reach RUNNING within {timeout.TotalSeconds:0} s (state {_topologyState}).");
            }

            await Task.Delay(100, ct).ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Waits until the topology's and the sink's committed offsets reach the end of their input topics, twice in a row.
    /// Under exactly-once the topology's committed offsets are those its transactions committed (also taken from
    /// <see cref="StreamizClientSupplier.TransactionalOffsets"/>), and a gap between a committed offset and the end that holds no data
    /// record (only transaction markers, which no consumer commits past) is not lag.
    /// </summary>
    private async Task WaitForCaughtUpAsync(Task sinkTask, IReadOnlyList<string> topologySources, TimeSpan timeout, CancellationToken ct)
    {
        using var admin = new AdminClientBuilder(stack.AdminConfig()).Build();
        var groups = new Dictionary<string, string[]>
        {
            // Every stream source of the topology (from its description, so a new input cannot be forgotten here).
            [FinanceMappingTopology.ApplicationId] = [.. topologySources],
            [new ErpPostingSinkOptions().GroupId] = [Topics.FinanceEvents],
        };
        // Partitions are resolved once; the loop then asks only for end and committed offsets.
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        var partitionsByGroup = groups.ToDictionary(g => g.Key, g => metadata.Topics.Where(t => g.Value.Contains(t.Topic))
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId))).ToList());
        var deadline = DateTime.UtcNow + timeout;
        var consecutive = 0;
        long lastLag = -1;
        while (consecutive < 2)
        {
            if (sinkTask.IsFaulted)
            {
                await sinkTask.ConfigureAwait(false);
            }

            if (_topologyFailed.Task.IsFaulted)
            {
                await _topologyFailed.Task.ConfigureAwait(false);
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"The pipeline did not catch up within {timeout.TotalSeconds:0} s (lag {lastLag}).");
            }

            long lag = 0;
            var parts = new List<string>();
            foreach (var (group, partitions) in partitionsByGroup)
            {
                var groupLag = await LagAsync(admin, group, partitions,
                    group == FinanceMappingTopology.ApplicationId && _guarantee == ProcessingGuarantee.EXACTLY_ONCE ? _clients?.TransactionalOffsets : null, ct).ConfigureAwait(false);
                lag += groupLag;
                parts.Add($"{group} {groupLag}");
            }

            var held = _financeOptions.Monitor.Held; // records parked by the readiness gate and usage windows not yet closed
            lag += held;

            if (lag != lastLag)
            {
                output.WriteLine($"  … remaining lag {lag} record(s) ({string.Join(", ", parts)}, held {held})");
                lastLag = lag;
            }

            consecutive = lag == 0 ? consecutive + 1 : 0;
            await Task.Delay(300, ct).ConfigureAwait(false);
        }
    }

    private async Task<long> LagAsync(IAdminClient admin, string group, List<TopicPartition> partitions,
        IReadOnlyDictionary<TopicPartition, long>? transactionallyCommitted, CancellationToken ct)
    {
        var ends = await admin.ListOffsetsAsync(partitions.Select(tp => new TopicPartitionOffsetSpec { TopicPartition = tp, OffsetSpec = OffsetSpec.Latest() }))
            .WaitAsync(ct).ConfigureAwait(false);
        var committed = (await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, partitions)]).WaitAsync(ct).ConfigureAwait(false))
            .Single().Partitions.ToDictionary(p => p.TopicPartition, p => p.Offset.IsSpecial ? 0 : p.Offset.Value);
        foreach (var (tp, offset) in transactionallyCommitted ?? new Dictionary<TopicPartition, long>())
        {
            committed[tp] = Math.Max(offset, committed.GetValueOrDefault(tp));
        }

        var behind = ends.ResultInfos.Select(r => (r.TopicPartitionOffsetError.TopicPartition, From: committed.GetValueOrDefault(r.TopicPartitionOffsetError.TopicPartition),
            End: r.TopicPartitionOffsetError.Offset.Value)).Where(p => p.End > p.From).ToList();
        if (_guarantee == ProcessingGuarantee.EXACTLY_ONCE && behind.Count > 0)
        {
            // Transactional topics end with commit markers: a committed offset just before a marker is caught up.
            var withData = await PartitionsWithDataAsync(behind.Select(p => new TopicPartitionOffset(p.TopicPartition, p.From)).ToList(), ct).ConfigureAwait(false);
            behind = behind.Where(p => withData.Contains(p.TopicPartition)).ToList();
        }

        return behind.Sum(p => p.End - p.From);
    }

    /// <summary>Of the given positions, the partitions where a <c>read_committed</c> reader would still get a record (not only markers).</summary>
    private async Task<HashSet<TopicPartition>> PartitionsWithDataAsync(List<TopicPartitionOffset> positions, CancellationToken ct)
    {
        var config = stack.ConsumerConfig("streaming-up-lag-probe");
        config.GroupId = "streaming-up-lag-probe"; // assign only, never commits
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        config.EnablePartitionEof = true;
        config.EnableAutoCommit = false;
        using var probe = new ConsumerBuilder<Ignore, Ignore>(config).Build();
        probe.Assign(positions);
        var withData = new HashSet<TopicPartition>();
        var open = positions.Select(p => p.TopicPartition).ToHashSet();
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (open.Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                // Not answered in time: count it as lag, the next round asks again.
                withData.UnionWith(open);
                break;
            }

            var r = await Task.Run(() => probe.Consume(TimeSpan.FromMilliseconds(200)), ct).ConfigureAwait(false);
            if (r is null || !open.Remove(r.TopicPartition))
            {
                continue;
            }

            if (!r.IsPartitionEOF)
            {
                withData.Add(r.TopicPartition);
            }
        }

        probe.Close();
        return withData;
    }

    private async Task StopSinkAsync(CancellationTokenSource stopping, Task sinkTask)
    {
        if (sinkTask.IsCompleted && stopping.IsCancellationRequested)
        {
            return;
        }

        await stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await sinkTask.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception ex)
        {
            _log.LogError(ex, "The posting sink failed");
            throw;
        }

        _log.LogInformation("Posting sink stopped");
    }

    private async Task<Dictionary<TopicPartition, long>> EndOffsetsAsync(CancellationToken ct)
    {
        using var admin = new AdminClientBuilder(stack.AdminConfig()).Build();
        var metadata = admin.GetMetadata(TimeSpan.FromSeconds(10));
        var partitions = metadata.Topics.Where(t => !t.Topic.StartsWith("__", StringComparison.Ordinal) && t.Error.Code == ErrorCode.NoError)
            .SelectMany(t => t.Partitions.Select(p => new TopicPartition(t.Topic, p.PartitionId))).ToList();
        if (partitions.Count == 0)
        {
            return [];
        }

        var ends = await admin.ListOffsetsAsync(partitions.Select(tp => new TopicPartitionOffsetSpec { TopicPartition = tp, OffsetSpec = OffsetSpec.Latest() }))
            .WaitAsync(ct).ConfigureAwait(false);
        return ends.ResultInfos.ToDictionary(r => r.TopicPartitionOffsetError.TopicPartition, r => Math.Max(0, r.TopicPartitionOffsetError.Offset.Value));
    }

    private async Task<PipelineSummary> SummarizeAsync(ILedger ledger, ErpPostingSink sink, Dictionary<TopicPartition, long> before, CancellationToken ct)
    {
        var after = await EndOffsetsAsync(ct).ConfigureAwait(false);
        var perTopic = after.GroupBy(kv => kv.Key.Topic)
            .ToDictionary(g => g.Key, g => g.Sum(kv => kv.Value - before.GetValueOrDefault(kv.Key)), StringComparer.Ordinal);
        if (_guarantee == ProcessingGuarantee.EXACTLY_ONCE)
        {
            // End offsets also count transaction markers (one per partition per transaction): count the records instead.
            foreach (var (topic, count) in await CountCommittedRecordsAsync(after.Where(kv => kv.Value > before.GetValueOrDefault(kv.Key))
                         .Select(kv => (new TopicPartitionOffset(kv.Key, before.GetValueOrDefault(kv.Key)), kv.Value)).ToList(), ct).ConfigureAwait(false))
            {
                perTopic[topic] = count;
            }
        }

        long? journals = null;
        IReadOnlyList<TrialBalanceRow> trialBalance = [];
        try
        {
            journals = await ledger.CountJournalsAsync(ct).ConfigureAwait(false);
            trialBalance = await ledger.TrialBalanceAsync(ct).ConfigureAwait(false);
        }
        catch (NotSupportedException)
        {
            // A REST ERP (NetSuite) does not read counts or balances back: its own reports are the source of truth.
        }

        return new PipelineSummary(new SortedDictionary<string, long>(perTopic, StringComparer.Ordinal), journals, sink.PostedCount, sink.DuplicateCount,
            perTopic.GetValueOrDefault(Topics.Quarantine), trialBalance, ledger.Location);
    }

    /// <summary>Records a <c>read_committed</c> reader gets between each start position and end offset, per topic.</summary>
    private async Task<Dictionary<string, long>> CountCommittedRecordsAsync(List<(TopicPartitionOffset From, long End)> ranges, CancellationToken ct)
    {
        var counts = ranges.Select(r => r.From.Topic).Distinct(StringComparer.Ordinal).ToDictionary(t => t, _ => 0L, StringComparer.Ordinal);
        if (ranges.Count == 0)
        {
            return counts;
        }

        var config = stack.ConsumerConfig("streaming-up-summary");
        config.GroupId = "streaming-up-summary"; // assign only, never commits
        config.IsolationLevel = IsolationLevel.ReadCommitted;
        config.EnablePartitionEof = true;
        config.EnableAutoCommit = false;
        using var reader = new ConsumerBuilder<Ignore, Ignore>(config).Build();
        reader.Assign(ranges.Select(r => r.From));
        var ends = ranges.ToDictionary(r => r.From.TopicPartition, r => r.End);
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (ends.Count > 0)
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Could not count the records of this run within 30 s ({string.Join(", ", ends.Keys)} not read to their end).");
            }

            var r = await Task.Run(() => reader.Consume(TimeSpan.FromMilliseconds(200)), ct).ConfigureAwait(false);
            if (r is null || !ends.TryGetValue(r.TopicPartition, out var end))
            {
                continue;
            }

            if (!r.IsPartitionEOF && r.Offset.Value < end)
            {
                counts[r.Topic]++;
            }

            if (r.IsPartitionEOF || r.Offset.Value + 1 >= end)
            {
                ends.Remove(r.TopicPartition);
            }
        }

        reader.Close();
        return counts;
    }

    /// <summary>Writes the summary as people read it.</summary>
    public static void Print(PipelineSummary summary, TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(summary);
        ArgumentNullException.ThrowIfNull(output);
        output.WriteLine();
        output.WriteLine("Records written this run, per topic");
        foreach (var (topic, count) in summary.RecordsPerTopic.Where(kv => kv.Value > 0))
        {
            output.WriteLine($"  {topic,-28} {count,8}");
        }

        output.WriteLine();
        output.WriteLine(summary.JournalsPosted is { } total
            ? $"Journals posted: {total} in the ledger ({summary.JournalsPostedThisRun} new this run, {summary.DuplicatesThisRun} duplicate deliveries ignored)"
            : $"Journals posted: {summary.JournalsPostedThisRun} new this run, {summary.DuplicatesThisRun} duplicate deliveries ignored (this ledger does not count or "
              + "balance its journals; use its own reports)");
        output.WriteLine($"Quarantined:     {summary.Quarantined} (this run)");
        output.WriteLine($"Ledger:          {summary.LedgerLocation}");
        foreach (var group in summary.TrialBalance.GroupBy(r => (r.LegalEntityId, r.Currency)))
        {
            output.WriteLine();
            output.WriteLine($"Trial balance {group.Key.LegalEntityId} {group.Key.Currency}");
            output.WriteLine($"  {"account",-14} {"debit",14} {"credit",14} {"balance",14}");
            foreach (var row in group)
            {
                output.WriteLine($"  {row.Account,-14} {Fmt(row.Debits),14} {Fmt(row.Credits),14} {Fmt(row.Balance),14}");
            }

            output.WriteLine($"  {"total",-14} {Fmt(group.Sum(r => r.Debits)),14} {Fmt(group.Sum(r => r.Credits)),14} {Fmt(group.Sum(r => r.Balance)),14}");
        }

        static string Fmt(decimal d) => d.ToString("#,##0.00##", CultureInfo.InvariantCulture);
    }
}
