using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Platform.Serialization;

namespace Streaming.IntegrationTests;

/// <summary>
/// <c>streaming connectors serve</c> (the producers service; <c>up</c> starts the same host): <c>POST /ingest/usage</c> with an
/// NDJSON batch holding one bad line answers the per-line report, and the valid lines are on <c>billing.usage.v1</c> exactly
/// once, keyed by subscription item, with the request's correlation id. Runs the embedded stack <c>serve</c> starts (the shared
/// fixture's mock cluster cannot be administered by a second process-level client), read back through the addresses it prints.
/// </summary>
public sealed partial class UsageIngestionHostTests
{
    [Fact]
    public async Task Connectors_serve_ingests_usage_batches_reporting_bad_lines_and_storing_valid_ones_once()
    {
        var ct = TestContext.Current.CancellationToken;
        var run = Guid.NewGuid().ToString("N")[..12];
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Usage:Http:DefaultSource"] = "it-serve",
        }).Build();
        var inner = new StringWriter();
        var output = TextWriter.Synchronized(inner);
        var errorInner = new StringWriter();
        var error = TextWriter.Synchronized(errorInner);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var serve = ConnectorsCommand.ServeAsync("http://127.0.0.1:0", output, error, stop.Token, configuration);
        string? baseUrl = null;
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (baseUrl is null || !Snapshot(output, inner).Contains("Press Ctrl-C to stop.", StringComparison.Ordinal))
        {
            Assert.False(serve.IsCompleted, $"connectors serve ended early: {Snapshot(error, errorInner)}\n{Snapshot(output, inner)}");
            Assert.True(DateTime.UtcNow < deadline, "connectors serve did not report its address within 60 s");
            baseUrl ??= ListeningOn().Match(Snapshot(output, inner)) is { Success: true } m ? m.Groups[1].Value : null;
            await Task.Delay(100, ct);
        }

        var started = Snapshot(output, inner);
        Assert.Contains("/ingest/usage", started, StringComparison.Ordinal);
        var bootstrap = EmbeddedKafka().Match(started).Groups[1].Value;
        var registryUrl = EmbeddedRegistry().Match(started).Groups[1].Value;
        using var http = new HttpClient { BaseAddress = new Uri(baseUrl) };
        Assert.Equal("ready\n", await http.GetStringAsync("/health/ready", ct));

        string Line(int i, string item, string quantity = "1.5") =>
            $$"""{"usageEventId":"use_{{run}}_{{i}}","subscriptionItemId":"si_{{run}}_{{item}}","customerId":"cus_{{run}}","meter":"api_calls","quantity":{{quantity}},"occurredAt":"2026-11-25T10:00:0{{i}}Z"}""";
        var body = string.Join("\n", Line(1, "a"), Line(2, "b", "\"2.125\""), Line(3, "a", "-1"), Line(4, "c")) + "\n";
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse("application/x-ndjson");
        using var request = new HttpRequestMessage(HttpMethod.Post, "/ingest/usage") { Content = content };
        request.Headers.Add("X-Correlation-Id", $"it-batch-{run}");

        using (var response = await http.SendAsync(request, ct))
        {
            var text = await response.Content.ReadAsStringAsync(ct);
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"{response.StatusCode}: {text}");
            var report = JsonDocument.Parse(text).RootElement;
            Assert.Equal((3, 1), (report.GetProperty("accepted").GetInt32(), report.GetProperty("rejected").GetInt32()));
            var lineError = Assert.Single(report.GetProperty("errors").EnumerateArray());
            Assert.Equal((3, "quantity", "must not be negative"),
                (lineError.GetProperty("line").GetInt32(), lineError.GetProperty("field").GetString(), lineError.GetProperty("reason").GetString()));
            Assert.False(report.GetProperty("errorsTruncated").GetBoolean());
        }

        // The answer came after Kafka acknowledged the lines, so the log already holds them: read it to its end.
        var mine = ReadToEnd(bootstrap, registryUrl, Topics.BillingUsage, ct).Where(r => r.Value.usageEventId.StartsWith($"use_{run}_", StringComparison.Ordinal)).ToList();
        Assert.Equal([$"use_{run}_1", $"use_{run}_2", $"use_{run}_4"], mine.Select(r => r.Value.usageEventId).Order(StringComparer.Ordinal));
        Assert.All(mine, r => Assert.Equal(r.Value.subscriptionItemId, r.Result.Message.Key));
        Assert.All(mine, r => Assert.Equal($"it-batch-{run}", TracingHeaders.Get(r.Result.Message.Headers, TracingHeaders.CorrelationId)));
        Assert.All(mine, r => Assert.Equal("it-serve", r.Value.source));
        Assert.Equal(2.125m, Money.ToDecimal(mine.Single(r => r.Value.usageEventId.EndsWith("_2", StringComparison.Ordinal)).Value.quantity));

        await stop.CancelAsync();
        Assert.Equal(0, await serve.WaitAsync(TimeSpan.FromSeconds(60), ct));
        Assert.Contains("Stopped.", Snapshot(output, inner), StringComparison.Ordinal);
    }

    private static List<(ConsumeResult<string, byte[]> Result, UsageEvent Value)> ReadToEnd(string bootstrap, string registryUrl, string topic, CancellationToken ct)
    {
        using var registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
        var deserializer = new AvroDeserializer<UsageEvent>(registry).AsSyncOverAsync();
        List<TopicPartition> partitions;
        using (var admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = bootstrap }).Build())
        {
            partitions = [.. Assert.Single(admin.GetMetadata(topic, TimeSpan.FromSeconds(10)).Topics).Partitions.Select(p => new TopicPartition(topic, p.PartitionId))];
        }

        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig
        {
            BootstrapServers = bootstrap,
            GroupId = KafkaStackFixture.UniqueName("it.usage-reader"),
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        }).Build();
        consumer.Assign(partitions.Select(tp => new TopicPartitionOffset(tp, Offset.Beginning)));
        var atEnd = new HashSet<int>();
        var read = new List<(ConsumeResult<string, byte[]>, UsageEvent)>();
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (atEnd.Count < partitions.Count)
        {
            ct.ThrowIfCancellationRequested();
            Assert.True(DateTime.UtcNow < deadline, $"{topic} not read to its end within 30 s");
            var result = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (result is null)
            {
                continue;
            }

            if (result.IsPartitionEOF)
            {
                atEnd.Add(result.Partition.Value);
                continue;
            }

            read.Add((result, deserializer.Deserialize(result.Message.Value, false, new SerializationContext(MessageComponentType.Value, topic, result.Message.Headers))));
        }

        consumer.Close();
        return read;
    }

    [GeneratedRegex(@"Kafka: embedded .* brokers at (\S+)")]
    private static partial Regex EmbeddedKafka();

    [GeneratedRegex(@"Schema registry: embedded at (http://\S+)")]
    private static partial Regex EmbeddedRegistry();

    [GeneratedRegex(@"Connectors: listening on (http://[^\s,]+)")]
    private static partial Regex ListeningOn();

    private static string Snapshot(TextWriter synchronizedWrapper, StringWriter inner)
    {
        lock (synchronizedWrapper)
        {
            return inner.ToString();
        }
    }
}
