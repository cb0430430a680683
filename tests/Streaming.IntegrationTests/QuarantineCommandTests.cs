using System.Text;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;
using Streaming.Contracts;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Producers;

namespace Streaming.IntegrationTests;

/// <summary>
/// <c>streaming quarantine list|resubmit</c> on the shared broker: the selection options pick records by correlation id and
/// reason; <c>--dry-run</c> lists and sends nothing; a real run sends the original key, bytes and headers back to the source
/// topic with a <c>resubmitted-from</c> header. That a resubmitted record then flows through the topology is
/// <c>ReadinessGateTests</c>.
/// </summary>
public sealed class QuarantineCommandTests(KafkaStackFixture stack)
{
    private static QuarantineRecord Quarantined(string id, string reason, string correlation, string sourceTopic, string value) => new()
    {
        quarantineId = id, reasonCode = reason, reasonDetail = "test", missing = [$"account-link billing:{id}"], stage = "finance-mapping",
        correlationId = correlation, postingKey = $"invoice:{id}:issued", businessContext = new Dictionary<string, string> { ["customer"] = "cus_1" },
        sourceTopic = sourceTopic, sourcePartition = 0, sourceOffset = 7, originalKey = Encoding.UTF8.GetBytes($"key-{id}"),
        originalValue = Encoding.UTF8.GetBytes(value), headers = new Dictionary<string, byte[]> { [TracingHeaders.CorrelationId] = Encoding.UTF8.GetBytes(correlation) },
        quarantinedAt = new DateTime(2026, 11, 5, 0, 0, 0, DateTimeKind.Utc),
    };

    [Fact]
    public async Task Dry_run_lists_the_selection_and_resubmit_sends_the_original_bytes_back()
    {
        var ct = TestContext.Current.CancellationToken;
        var suffix = Guid.NewGuid().ToString("N")[..10];
        var source = KafkaStackFixture.UniqueName("it-quarantine-src");
        await stack.CreateTopicAsync(source, 1, ct);
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = stack.BootstrapServers, EnableIdempotence = true }).Build();
        var records = new AvroRecordProducer(producer, stack.Registry);
        records.Produce(Topics.Quarantine, $"a-{suffix}", Quarantined($"q-a-{suffix}", "MISSING_ACCOUNT_LINK", $"corr-{suffix}", source, "bytes-a"), $"corr-{suffix}");
        records.Produce(Topics.Quarantine, $"b-{suffix}", Quarantined($"q-b-{suffix}", "MISSING_GL_MAPPING", $"corr-{suffix}", source, "bytes-b"), $"corr-{suffix}");
        records.Produce(Topics.Quarantine, $"c-{suffix}", Quarantined($"q-c-{suffix}", "MISSING_ACCOUNT_LINK", $"other-{suffix}", source, "bytes-c"), $"other-{suffix}");
        await records.FlushAsync(TimeSpan.FromSeconds(20), ct);
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = stack.BootstrapServers, ["SchemaRegistry:Url"] = stack.SchemaRegistryUrl,
        }).Build();
        var selection = new QuarantineCommand.Selection("MISSING_ACCOUNT_LINK", $"corr-{suffix}", null, All: false);

        var output = new StringWriter();
        var error = new StringWriter();
        Assert.Equal(QuarantineCommand.ExitOk, await QuarantineCommand.RunAsync(resubmit: false, selection, output, error, ct, configuration));
        var listed = output.ToString();
        Assert.Contains($"q-a-{suffix}  MISSING_ACCOUNT_LINK  missing [account-link billing:q-a-{suffix}]  from {source}[0]@7", listed, StringComparison.Ordinal);
        Assert.DoesNotContain($"q-b-{suffix}", listed, StringComparison.Ordinal); // other reason
        Assert.DoesNotContain($"q-c-{suffix}", listed, StringComparison.Ordinal); // other correlation id
        Assert.Contains("1 of ", listed, StringComparison.Ordinal);
        Assert.Contains("nothing sent", listed, StringComparison.Ordinal);
        Assert.Equal(0, KafkaTestClients.RecordsInLog(stack, source));

        output = new StringWriter();
        Assert.Equal(QuarantineCommand.ExitOk, await QuarantineCommand.RunAsync(resubmit: true, selection, output, error, ct, configuration));
        Assert.Contains("Resubmitted 1 of ", output.ToString(), StringComparison.Ordinal);
        Assert.Equal("", error.ToString());

        using var consumer = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers, GroupId = $"it-quarantine-{suffix}", AutoOffsetReset = AutoOffsetReset.Earliest, EnableAutoCommit = false,
        }).Build();
        consumer.Assign(new TopicPartitionOffset(source, 0, Offset.Beginning));
        var sent = consumer.Consume(TimeSpan.FromSeconds(20)) ?? throw new TimeoutException($"nothing resubmitted to {source}");
        Assert.Equal(($"key-q-a-{suffix}", "bytes-a"), (Encoding.UTF8.GetString(sent.Message.Key), Encoding.UTF8.GetString(sent.Message.Value)));
        Assert.Equal($"corr-{suffix}", Encoding.UTF8.GetString(sent.Message.Headers.GetLastBytes(TracingHeaders.CorrelationId)));
        Assert.Equal($"q-a-{suffix}", Encoding.UTF8.GetString(sent.Message.Headers.GetLastBytes("resubmitted-from")));
        Assert.Equal(1, KafkaTestClients.RecordsInLog(stack, source)); // only the selected record
    }
}
