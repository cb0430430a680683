using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Serialization;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Posting;
using AccountRole = Streaming.Sinks.Journals.AccountRole;
using MdRole = Streaming.Contracts.MasterData.AccountRole;

namespace Streaming.Sinks.Tests;

/// <summary>
/// The sink follows <c>md.gl-mappings.v1</c> while it runs: mappings read at start decide the first postings, a mapping
/// changed on the topic mid-run moves later postings to the new account (earlier ones stay where they were posted), and an
/// entity that gets its first mappings mid-run leaves the default chart, and a mapping that cannot be read stops the start
/// (naming it) or, while running, stops the sink before it builds a journal with a stale chart. Journal-template rules of
/// the chart are in <see cref="JournalRulesTests"/>.
/// </summary>
public sealed class GlMappingFollowTests
{
    private static GlMapping Mapping(string entity, MdRole role, string account)
        => new() { mappingId = $"gl_{entity}_{role}", legalEntityId = entity, accountRole = role, glAccountNumber = account, description = $"{role}" };

    private static async Task<SinkTestStack> StackWithMappingsTopicAsync(CancellationToken ct)
    {
        var stack = await SinkTestStack.StartAsync(1, ct);
        stack.Cluster.CreateTopic(Topics.GlMappings, 1, 1);
        await stack.Client.RegisterSchemaAsync(Topics.ValueSubject(Topics.GlMappings), new Schema(GlMapping._SCHEMA.ToString(), SchemaType.Avro));
        return stack;
    }

    private static void Publish(SinkTestStack stack, params GlMapping[] mappings)
    {
        var serdes = new AvroSerdes<GlMapping>(stack.Client);
        foreach (var m in mappings)
        {
            stack.Producer.Produce(Topics.GlMappings, new Message<string, byte[]> { Key = m.mappingId, Value = serdes.SerializeValue(m, Topics.GlMappings) });
        }

        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
    }

    private static async Task<Dictionary<string, (decimal Debit, decimal Credit)>> LinesAsync(ILedger ledger, string postingKey, CancellationToken ct)
    {
        var journal = await ledger.FindJournalAsync(postingKey, ct);
        Assert.NotNull(journal);
        return journal.Lines.ToDictionary(l => l.Account, l => (l.Debit, l.Credit));
    }

    [Fact]
    public async Task A_mapping_changed_mid_run_moves_later_postings_to_the_new_account()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await StackWithMappingsTopicAsync(ct);
        Publish(stack, Mapping("DE01", MdRole.CASH, "1200"), Mapping("DE01", MdRole.AR, "1400"), Mapping("DE01", MdRole.PAYMENT_FEES, "6800"));

        var path = Path.Combine(Path.GetTempPath(), $"gl-follow-{Guid.NewGuid():N}.db");
        await using var ledger = await SqliteLedger.OpenAsync(path, ct);
        var consumerConfig = new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers };
        using var chart = GlMappingFollower.Start(consumerConfig, stack.Client, DefaultChartOfAccounts.Instance, NullLogger.Instance, ct);
        Assert.Equal(3, chart.Count);
        const string group = "gl-follow";
        var sink = new ErpPostingSink(consumerConfig, stack.Producer, stack.Client, ledger, chart,
            new ErpPostingSinkOptions { GroupId = group, MaxBatchWait = TimeSpan.FromMilliseconds(50) }, NullLogger<ErpPostingSink>.Instance);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);

        stack.Produce(0, SinkTestStack.Payment("p1", "DE01", "EUR", 100m, fee: 2m));
        stack.Produce(0, SinkTestStack.Payment("p2", "US01", "USD", 50m));
        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        Assert.Equal(2, (await stack.WaitCommittedAsync(group, c => c.GetValueOrDefault(0) == 2, TimeSpan.FromSeconds(60), run, ct)).GetValueOrDefault(0));

        // Mid-run: DE01's cash account changes, and US01 gets mappings of its own (it leaves the default chart).
        Publish(stack, Mapping("DE01", MdRole.CASH, "1210"),
            Mapping("US01", MdRole.CASH, "10100"), Mapping("US01", MdRole.AR, "11100"), Mapping("US01", MdRole.PAYMENT_FEES, "61100"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (chart.ChangesApplied < 4 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        Assert.Equal(4, chart.ChangesApplied);
        Assert.Equal(("1210", "10100"), (chart.Current.Account("DE01", AccountRole.Cash), chart.Current.Account("US01", AccountRole.Cash)));

        stack.Produce(0, SinkTestStack.Payment("p3", "DE01", "EUR", 100m, fee: 2m));
        stack.Produce(0, SinkTestStack.Payment("p4", "US01", "USD", 50m, fee: 1m));
        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        Assert.Equal(4, (await stack.WaitCommittedAsync(group, c => c.GetValueOrDefault(0) == 4, TimeSpan.FromSeconds(60), run, ct)).GetValueOrDefault(0));
        await stop.CancelAsync();
        await run;

        Assert.Equal((4L, 0L), (sink.PostedCount, sink.QuarantinedCount));
        Assert.Equal(new Dictionary<string, (decimal, decimal)> { ["1200"] = (98m, 0m), ["6800"] = (2m, 0m), ["1400"] = (0m, 100m) }, await LinesAsync(ledger, "payment:p1:applied", ct));
        Assert.Equal(new Dictionary<string, (decimal, decimal)> { ["1000"] = (50m, 0m), ["1100"] = (0m, 50m) }, await LinesAsync(ledger, "payment:p2:applied", ct));
        Assert.Equal(new Dictionary<string, (decimal, decimal)> { ["1210"] = (98m, 0m), ["6800"] = (2m, 0m), ["1400"] = (0m, 100m) }, await LinesAsync(ledger, "payment:p3:applied", ct));
        Assert.Equal(new Dictionary<string, (decimal, decimal)> { ["10100"] = (49m, 0m), ["61100"] = (1m, 0m), ["11100"] = (0m, 50m) }, await LinesAsync(ledger, "payment:p4:applied", ct));
        File.Delete(path);
    }

    [Fact]
    public async Task A_removed_mapping_sends_later_journals_of_that_role_to_quarantine()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await StackWithMappingsTopicAsync(ct);
        Publish(stack, Mapping("DE01", MdRole.CASH, "1200"), Mapping("DE01", MdRole.AR, "1400"));
        using var chart = GlMappingFollower.Start(new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers }, stack.Client,
            DefaultChartOfAccounts.Instance, NullLogger.Instance, ct);
        var before = chart.Current;

        stack.Producer.Produce(Topics.GlMappings, new Message<string, byte[]> { Key = "gl_DE01_CASH", Value = null! });
        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (chart.Count != 1 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        // The entity still has a mapping, so the removed role is unknown (quarantine), never the default chart's guess.
        Assert.Equal(1, chart.Count);
        Assert.Throws<UnknownAccountException>(() => chart.Current.Account("DE01", AccountRole.Cash));
        Assert.Equal("1400", chart.Current.Account("DE01", AccountRole.AccountsReceivable));
        // A chart taken earlier is a snapshot: a batch being built with it is not changed under it.
        Assert.Equal("1200", before.Account("DE01", AccountRole.Cash));
        var rejected = Assert.Throws<JournalRejectedException>(() => new JournalBuilder(chart.Current).Build(
            FinanceFactMapper.ToFact(SinkTestStack.Payment("p9", "DE01", "EUR", 10m))));
        Assert.Equal("UNKNOWN_ACCOUNT", rejected.ReasonCode);
    }

    [Fact]
    public async Task An_unreadable_mapping_while_running_stops_the_sink_before_it_posts_with_a_stale_chart()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await StackWithMappingsTopicAsync(ct);
        Publish(stack, Mapping("DE01", MdRole.CASH, "1200"), Mapping("DE01", MdRole.AR, "1400"));
        var consumerConfig = new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers };
        using var chart = GlMappingFollower.Start(consumerConfig, stack.Client, DefaultChartOfAccounts.Instance, NullLogger.Instance, ct);
        const string group = "gl-follow-failed";
        var path = Path.Combine(Path.GetTempPath(), $"gl-follow-{Guid.NewGuid():N}.db");
        await using var ledger = await SqliteLedger.OpenAsync(path, ct);
        var sink = new ErpPostingSink(consumerConfig, stack.Producer, stack.Client, ledger, chart,
            new ErpPostingSinkOptions { GroupId = group, MaxBatchWait = TimeSpan.FromMilliseconds(50) }, NullLogger<ErpPostingSink>.Instance);
        var run = Task.Run(() => sink.RunAsync(ct), ct);

        stack.Producer.Produce(Topics.GlMappings, new Message<string, byte[]> { Key = "gl_bad", Value = [0, 0, 0, 0, 42, 1, 2] });
        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        await Assert.ThrowsAsync<InvalidDataException>(() => chart.Completion.WaitAsync(TimeSpan.FromSeconds(30), ct));
        var stale = Assert.Throws<GlMappingsUnavailableException>(() => chart.Current);
        Assert.Contains("md.gl-mappings.v1 [[0]] @2", stale.Message, StringComparison.Ordinal);

        // The running sink fails on its next batch and commits nothing: a restart reads the fact again.
        stack.Produce(0, SinkTestStack.Payment("p1", "DE01", "EUR", 10m));
        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        await Assert.ThrowsAsync<GlMappingsUnavailableException>(() => run.WaitAsync(TimeSpan.FromSeconds(60), ct));
        Assert.Equal(0, (await stack.CommittedAsync(group)).GetValueOrDefault(0));
        Assert.Equal(0, await ledger.CountJournalsAsync(ct));
        File.Delete(path);
    }

    [Fact]
    public async Task A_mappings_topic_created_after_start_is_followed_once_it_appears()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(1, ct);
        using var chart = GlMappingFollower.Start(new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers }, stack.Client,
            DefaultChartOfAccounts.Instance, NullLogger.Instance, ct, new GlMappingFollowerOptions { PartitionRefresh = TimeSpan.FromMilliseconds(200) });
        Assert.Equal((0, "1000"), (chart.Count, chart.Current.Account("DE01", AccountRole.Cash)));

        stack.Cluster.CreateTopic(Topics.GlMappings, 2, 1);
        await stack.Client.RegisterSchemaAsync(Topics.ValueSubject(Topics.GlMappings), new Schema(GlMapping._SCHEMA.ToString(), SchemaType.Avro));
        Publish(stack, Mapping("DE01", MdRole.CASH, "1200"));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (chart.Count == 0 && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50, ct);
        }

        Assert.Equal((1, "1200"), (chart.Count, chart.Current.Account("DE01", AccountRole.Cash)));
    }

    [Fact]
    public async Task An_unreadable_mapping_stops_the_start_and_names_the_record()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await StackWithMappingsTopicAsync(ct);
        stack.Producer.Produce(Topics.GlMappings, new Message<string, byte[]> { Key = "gl_bad", Value = [0, 0, 0, 0, 42, 1, 2] });
        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));

        var ex = Assert.Throws<InvalidDataException>(() => GlMappingFollower.Start(new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers },
            stack.Client, DefaultChartOfAccounts.Instance, NullLogger.Instance, ct));
        Assert.Contains("md.gl-mappings.v1 [[0]] @0", ex.Message, StringComparison.Ordinal);
        Assert.Contains("gl_bad", ex.Message, StringComparison.Ordinal);
    }
}
