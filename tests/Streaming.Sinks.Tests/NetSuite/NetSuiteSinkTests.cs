using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;
using Streaming.Sinks.Journals;
using Streaming.Sinks.NetSuite;
using Streaming.Sinks.Posting;
using FinanceLineKind = Streaming.Contracts.Finance.FinanceLineKind;

namespace Streaming.Sinks.Tests.NetSuite;

/// <summary>
/// The NetSuite adapter plugged into the unchanged <see cref="ErpPostingSink"/> as its ledger, on the embedded broker, with the
/// fake NetSuite throttling (429) and failing (5xx, also after writing): every finance event ends as exactly one journal entry in
/// NetSuite with the right lines, a duplicate delivery posts nothing, and the sink's offsets reach the end. Failures beyond the
/// adapter's own retries (the sink pausing partitions) are not covered here.
/// </summary>
public sealed class NetSuiteSinkTests
{
    private const int Events = 30;

    private static FinanceEvent Invoice(int i) => new()
    {
        eventId = $"fe_{i}", eventType = FinanceEventType.INVOICE_ISSUED, postingKey = $"invoice:in_{i}:issued", correlationId = $"corr-{i}",
        legalEntityId = "US01", customerId = $"C-{i % 3}", currency = "USD", totalAmount = Money.ToAvro(200m + i + 14.50m), taxAmount = Money.ToAvro(14.50m),
        effectiveDate = new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc), documentNumber = $"INV-{i}",
        lines =
        [
            new FinanceEventLine { lineId = $"in_{i}:l1", kind = FinanceLineKind.SERVICES, amount = Money.ToAvro(200m + i) },
            new FinanceEventLine { lineId = $"in_{i}:tax", kind = FinanceLineKind.TAX, amount = Money.ToAvro(14.50m), taxJurisdiction = "US-CA" },
        ],
        source = new SourceRef { system = "stripe", objectType = "invoice", objectId = $"in_{i}", eventId = $"evt_{i}" },
        createdAt = new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc),
    };

    [Fact]
    public async Task The_sink_posts_every_event_once_to_NetSuite_through_429s_and_5xx()
    {
        var ct = TestContext.Current.CancellationToken;
        using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 1, WatermarkCheckInterval = TimeSpan.Zero });
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        foreach (var (topic, schema) in new (string, Avro.Schema)[]
                 {
                     (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.ErpPostings, Contracts.Erp.ErpPostingResult._SCHEMA),
                     (Topics.Quarantine, QuarantineRecord._SCHEMA), (Topics.DeadLetters, DeadLetterRecord._SCHEMA),
                 })
        {
            cluster.CreateTopic(topic, topic == Topics.FinanceEvents ? 3 : 1, 1);
            await client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }

        var serdes = new AvroSerdes<FinanceEvent>(client);
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, EnableIdempotence = true }).Build();
        foreach (var i in Enumerable.Range(1, Events).Append(7)) // invoice 7 is delivered twice
        {
            producer.Produce(Topics.FinanceEvents, new Message<string, byte[]> { Key = $"C-{i % 3}", Value = serdes.SerializeValue(Invoice(i), Topics.FinanceEvents) });
        }

        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));

        var fake = new FakeNetSuiteOptions { MaxConcurrentRequests = 2, RetryAfterSeconds = null, FaultRate = 0.15, FaultAfterCommitRate = 0.1, Latency = TimeSpan.FromMilliseconds(10) };
        await using var server = await FakeNetSuiteServer.StartAsync(fake, ct);
        using var http = new HttpClient();
        await using var ledger = new NetSuiteLedger(new NetSuiteOptions
        {
            BaseUrl = server.BaseUrl, AccountId = fake.AccountId, ConsumerKey = fake.ConsumerKey, ConsumerSecret = fake.ConsumerSecret,
            TokenId = fake.TokenId, TokenSecret = fake.TokenSecret, MaxConcurrency = 4, MaxAttempts = 15, InitialBackoffMs = 10, MaxBackoffMs = 200,
        }, http, NullLogger<NetSuiteLedger>.Instance);
        var sink = new ErpPostingSink(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers }, producer, client, ledger,
            DefaultChartOfAccounts.Instance, new ErpPostingSinkOptions { GroupId = "sink-netsuite", MaxBatchSize = 8 }, NullLogger<ErpPostingSink>.Instance);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);

        using var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var partitions = Enumerable.Range(0, 3).Select(p => new TopicPartition(Topics.FinanceEvents, p)).ToList();
        var deadline = DateTime.UtcNow.AddSeconds(60);
        long committed = 0;
        while (DateTime.UtcNow < deadline && !run.IsCompleted)
        {
            committed = (await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions("sink-netsuite", partitions)])).Single()
                .Partitions.Sum(p => p.Offset.IsSpecial ? 0 : p.Offset.Value);
            if (committed == Events + 1)
            {
                break;
            }

            await Task.Delay(100, ct);
        }

        await stop.CancelAsync();
        await run;

        Assert.Equal(Events + 1, committed);
        Assert.True(server.Throttled > 0 && server.Faults > 0, $"expected injected 429s and 5xx, got {server.Throttled} and {server.Faults}");
        Assert.Equal((Events, 1L, 0L), (sink.PostedCount, sink.DuplicateCount, sink.QuarantinedCount));
        Assert.Equal(Events, server.Records.Count);
        foreach (var i in Enumerable.Range(1, Events))
        {
            var record = server.Records[NetSuiteExternalId.FromPostingKey($"invoice:in_{i}:issued")];
            Assert.Equal([("1100", 214.50m + i, 0m), ("4200", 0m, 200m + i), ("2300-US-CA", 0m, 14.50m)], record.Lines);
        }
    }
}
