using System.Globalization;
using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Cli.Commands;
using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Posting;

namespace Streaming.IntegrationTests;

/// <summary>
/// <c>streaming replay</c> against an embedded broker of its own (the sink reads the fixed <c>finance.events.v1</c>, which the
/// shared fixture's other tests also write): the ERP posting sink with the SQLite ledger posts a set of events, stops, its group
/// is reset to the start, and the restarted sink posts nothing new. Also: the dry run's per-partition table, refusal while the
/// group has an active member, <c>--to-datetime</c>, and bad input. The mock cluster does not answer DescribeGroups and refuses
/// admin offset commits for a known group, so on it the command takes its join-the-group path; the admin path
/// (DescribeConsumerGroups / AlterConsumerGroupOffsets) runs only against a real cluster and is not exercised here.
/// </summary>
public sealed class ReplayCommandTests
{
    private const int Events = 24;
    private static readonly DateTime Base = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    [Fact]
    public async Task Replaying_the_sink_input_from_offset_0_posts_nothing_new()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var env = await SinkEnvironment.StartAsync(ct);
        var group = "replay-sink";
        var ends = env.Ends();

        var first = await env.RunSinkUntilCommittedAsync(group, ends, ct);
        Assert.Equal((Events, 0L), (first.PostedCount, first.DuplicateCount));

        // Dry run: per partition, current = end, target = 0, all of it re-read; nothing moves.
        var (exit, output, error) = await env.ReplayAsync(group, toEarliest: true, dryRun: true, ct: ct);
        Assert.True(exit == ReplayCommand.ExitOk, error);
        foreach (var (tp, end) in ends)
        {
            Assert.Matches($@"(?m)^{tp.Partition.Value}\s+{end}\s+0\s+0\s+{end}\s+{end}\b", output);
        }

        Assert.Contains($"Records re-read: {Events}", output, StringComparison.Ordinal);
        Assert.Equal(ends, await env.CommittedAsync(group, ct));

        (exit, output, error) = await env.ReplayAsync(group, toEarliest: true, ct: ct);
        Assert.True(exit == ReplayCommand.ExitOk, error + output);
        Assert.All((await env.CommittedAsync(group, ct)).Values, offset => Assert.Equal(0, offset));

        var second = await env.RunSinkUntilCommittedAsync(group, ends, ct);
        Assert.Equal((0L, (long)Events), (second.PostedCount, second.DuplicateCount));
        Assert.Equal(Events, await env.Ledger.CountJournalsAsync(ct));
    }

    [Fact]
    public async Task A_group_with_an_active_member_is_refused_and_keeps_its_offsets()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var env = await SinkEnvironment.StartAsync(ct);
        var group = "replay-active";
        var ends = env.Ends();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var sink = env.NewSink(group);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);
        await env.WaitCommittedAsync(group, ends, run, ct);

        var (exit, _, error) = await env.ReplayAsync(group, toEarliest: true, ct: ct);

        Assert.Equal(ReplayCommand.ExitRefusedOrFailed, exit);
        Assert.Contains("Refused", error, StringComparison.Ordinal);
        Assert.Contains("active member", error, StringComparison.Ordinal);
        await stop.CancelAsync();
        await run;
        Assert.Equal(ends, await env.CommittedAsync(group, ct));
    }

    [Fact]
    public async Task To_offset_and_to_datetime_move_only_what_they_name()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var env = await SinkEnvironment.StartAsync(ct);
        var group = "replay-targets";
        var ends = env.Ends();
        await env.RunSinkUntilCommittedAsync(group, ends, ct);

        var (exit, _, error) = await env.ReplayAsync(group, toOffset: "1:3", ct: ct);
        Assert.True(exit == ReplayCommand.ExitOk, error);
        var committed = await env.CommittedAsync(group, ct);
        Assert.Equal((ends[Tp(0)], 3L), (committed[Tp(0)], committed[Tp(1)]));

        // Record i (partition i % 2, offset i / 2) has timestamp Base + i minutes: 10:00 past Base is record 10 → offset 5 on
        // partition 0, and record 11 (offset 5) on partition 1.
        (exit, var output, error) = await env.ReplayAsync(group, toDateTime: Base.AddMinutes(10).ToString("O", CultureInfo.InvariantCulture), dryRun: true, ct: ct);
        Assert.True(exit == ReplayCommand.ExitOk, error);
        Assert.Matches($@"(?m)^0\s+{ends[Tp(0)]}\s+5\s", output);
        Assert.Matches(@"(?m)^1\s+3\s+5\s", output);
        Assert.Contains("skips 2", output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("no.such.topic", null, "does not exist")]
    [InlineData(Topics.FinanceEvents, "7:0", "Partition 7 does not exist")]
    [InlineData(Topics.FinanceEvents, "0:999", "outside the records the broker holds")]
    public async Task Unknown_topic_missing_partition_or_out_of_range_offset_is_bad_input(string topic, string? toOffset, string message)
    {
        var ct = TestContext.Current.CancellationToken;
        await using var env = await SinkEnvironment.StartAsync(ct);
        var (exit, _, error) = await env.ReplayAsync("replay-bad", toEarliest: toOffset is null, toOffset: toOffset, topic: topic, dryRun: true, ct: ct);
        Assert.Equal(ReplayCommand.ExitBadInput, exit);
        Assert.Contains(message, error, StringComparison.Ordinal);
    }

    private static TopicPartition Tp(int p) => new(Topics.FinanceEvents, p);

    private static FinanceEvent Payment(int i) => new()
    {
        eventId = $"fe_{i}", eventType = FinanceEventType.PAYMENT_APPLIED, postingKey = $"payment:pi_{i}:applied", correlationId = $"corr-{i}",
        legalEntityId = "US01", customerId = $"C-{i % 2}", currency = "USD", totalAmount = Money.ToAvro(100m + i), taxAmount = Money.ToAvro(0m),
        effectiveDate = Base, documentNumber = $"INV-{i}",
        lines = [new FinanceEventLine { lineId = $"{i}:cash", kind = Contracts.Finance.FinanceLineKind.CASH, amount = Money.ToAvro(100m + i) }],
        source = new SourceRef { system = "stripe", objectType = "payment", objectId = $"pi_{i}", eventId = $"evt_{i}" },
        createdAt = Base,
    };

    /// <summary>One broker, a registry, the sink's topics, <see cref="Events"/> payments spread over two partitions, and a SQLite ledger.</summary>
    private sealed class SinkEnvironment : IAsyncDisposable
    {
        private readonly string _ledgerPath = Path.Combine(Path.GetTempPath(), $"replay-{Guid.NewGuid():N}.db");

        private SinkEnvironment(EmbeddedKafkaCluster cluster, EmbeddedSchemaRegistry registry, CachedSchemaRegistryClient client, IProducer<string, byte[]> producer)
        {
            Cluster = cluster;
            Registry = registry;
            Client = client;
            Producer = producer;
        }

        public EmbeddedKafkaCluster Cluster { get; }
        public EmbeddedSchemaRegistry Registry { get; }
        public CachedSchemaRegistryClient Client { get; }
        public IProducer<string, byte[]> Producer { get; }
        public SqliteLedger Ledger { get; private set; } = null!;

        public static async Task<SinkEnvironment> StartAsync(CancellationToken ct)
        {
            var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 1, WatermarkCheckInterval = TimeSpan.Zero });
            var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
            var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
            foreach (var (topic, schema) in new (string, Avro.Schema)[]
                     {
                         (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.ErpPostings, Contracts.Erp.ErpPostingResult._SCHEMA),
                         (Topics.Quarantine, QuarantineRecord._SCHEMA), (Topics.DeadLetters, DeadLetterRecord._SCHEMA),
                     })
            {
                cluster.CreateTopic(topic, topic == Topics.FinanceEvents ? 2 : 1, 1);
                await client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
            }

            var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build();
            var env = new SinkEnvironment(cluster, registry, client, producer);
            var serdes = new AvroSerdes<FinanceEvent>(client);
            for (var i = 0; i < Events; i++)
            {
                producer.Produce(Tp(i % 2), new Message<string, byte[]>
                {
                    Key = $"C-{i % 2}", Value = serdes.SerializeValue(Payment(i), Topics.FinanceEvents), Timestamp = new Timestamp(Base.AddMinutes(i)),
                });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));
            env.Ledger = await SqliteLedger.OpenAsync(env._ledgerPath, ct);
            return env;
        }

        public Dictionary<TopicPartition, long> Ends()
        {
            using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = Cluster.BootstrapServers, GroupId = "wm" }).Build();
            return new[] { Tp(0), Tp(1) }.ToDictionary(tp => tp, tp => consumer.QueryWatermarkOffsets(tp, TimeSpan.FromSeconds(10)).High.Value);
        }

        // A short session: the mock coordinator waits (session timeout - 1 s) after a member leaves before it lets the next join complete.
        public ErpPostingSink NewSink(string group) => new(new ConsumerConfig { BootstrapServers = Cluster.BootstrapServers, SessionTimeoutMs = 6000 }, Producer, Client, Ledger,
            DefaultChartOfAccounts.Instance, new ErpPostingSinkOptions { GroupId = group }, NullLogger<ErpPostingSink>.Instance);

        /// <summary>Runs a sink until the group's committed offsets reach <paramref name="ends"/>, then stops it (closing its consumer).</summary>
        public async Task<ErpPostingSink> RunSinkUntilCommittedAsync(string group, Dictionary<TopicPartition, long> ends, CancellationToken ct)
        {
            var sink = NewSink(group);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var run = Task.Run(() => sink.RunAsync(stop.Token), ct);
            await WaitCommittedAsync(group, ends, run, ct);
            await stop.CancelAsync();
            await run;
            return sink;
        }

        public async Task WaitCommittedAsync(string group, Dictionary<TopicPartition, long> ends, Task run, CancellationToken ct)
        {
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline && !run.IsCompleted)
            {
                var committed = await CommittedAsync(group, ct);
                if (ends.All(e => committed.GetValueOrDefault(e.Key, -1) == e.Value))
                {
                    return;
                }

                await Task.Delay(100, ct);
            }

            await (run.IsCompleted ? run : Task.CompletedTask); // surfaces a sink failure
            throw new TimeoutException($"Group {group} did not commit up to {string.Join(",", ends.Values)} within 60 s.");
        }

        public async Task<Dictionary<TopicPartition, long>> CommittedAsync(string group, CancellationToken ct)
        {
            using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = Cluster.BootstrapServers }).Build();
            return (await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, [Tp(0), Tp(1)])]).WaitAsync(ct)).Single()
                .Partitions.ToDictionary(p => p.TopicPartition, p => p.Offset.IsSpecial ? -1 : p.Offset.Value);
        }

        public async Task<(int Exit, string Output, string Error)> ReplayAsync(string group, bool toEarliest = false, string? toOffset = null,
            string? toDateTime = null, bool dryRun = false, string topic = Topics.FinanceEvents, CancellationToken ct = default)
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Kafka:BootstrapServers"] = Cluster.BootstrapServers }).Build();
            var exit = await ReplayCommand.RunAsync(group, topic, toEarliest, toOffset, toDateTime, dryRun, output, error, ct, config);
            return (exit, output.ToString(), error.ToString());
        }

        public async ValueTask DisposeAsync()
        {
            await Ledger.DisposeAsync();
            Producer.Dispose();
            Client.Dispose();
            await Registry.DisposeAsync();
            await Cluster.DisposeAsync();
            foreach (var f in new[] { _ledgerPath, _ledgerPath + "-wal", _ledgerPath + "-shm" })
            {
                File.Delete(f);
            }
        }
    }
}
