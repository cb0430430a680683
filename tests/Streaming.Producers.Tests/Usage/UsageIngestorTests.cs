using Confluent.Kafka;
using Streaming.Platform.Serialization;
using Streaming.Producers.Usage;

namespace Streaming.Producers.Tests.Usage;

/// <summary>
/// The in-process library API on the embedded broker: records land once each, keyed by subscription item, readable by
/// the Confluent deserializer; the bound holds (TryEnqueue refuses, EnqueueAsync waits) while Kafka has not acknowledged.
/// </summary>
public sealed class UsageIngestorTests(UsageStack stack) : IClassFixture<UsageStack>
{
    private static UsageRecord Record(int i) => new(
        $"use_{i:D5}", $"si_{i % 7}", $"cus_{i % 7}", "api_calls", i + 0.5m, new DateTimeOffset(2026, 11, 1, 0, 0, 0, TimeSpan.Zero).AddSeconds(i),
        new DateTimeOffset(2026, 11, 1, 0, 0, 5, TimeSpan.Zero).AddSeconds(i), "in-process");

    [Fact]
    public async Task Enqueued_records_land_exactly_once_keyed_by_subscription_item()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = await stack.NewTopicAsync(3);
        using var ingestor = await UsageIngestor.CreateAsync(stack.ProducerConfig(), stack.Client, new UsageIngestorOptions { Topic = topic }, cancellationToken: ct);
        var context = UsageContext.Create("corr-lib");

        for (var i = 0; i < 500; i++)
        {
            if (i % 2 == 0)
            {
                Assert.True(ingestor.TryEnqueue(Record(i), context));
            }
            else
            {
                await ingestor.EnqueueAsync(Record(i), context, ct);
            }
        }

        await ingestor.FlushAsync(TimeSpan.FromSeconds(30), ct);
        Assert.Equal((500, 500, 0, 0), (ingestor.Enqueued, ingestor.Delivered, ingestor.Failed, ingestor.InFlight));

        var read = stack.ReadAll(topic, 500, ct);
        Assert.Equal(500, read.Count);
        Assert.Equal(Enumerable.Range(0, 500).Select(i => $"use_{i:D5}"), read.Select(r => r.Value.usageEventId).Order(StringComparer.Ordinal));
        Assert.All(read, r => Assert.Equal(r.Value.subscriptionItemId, r.Key));
        Assert.All(read, r => Assert.Equal("corr-lib", TracingHeaders.Get(r.Headers, TracingHeaders.CorrelationId)));
        Assert.All(read, r => Assert.Equal(ingestor.Encoder.SchemaId, r.SchemaId));
        // One subscription item's events are on one partition, in the order they were enqueued.
        var first = read.Where(r => r.Key == "si_3").Select(r => r.Value.usageEventId).ToList();
        Assert.Equal(first.Order(StringComparer.Ordinal), first);
    }

    [Fact]
    public async Task At_capacity_TryEnqueue_refuses_and_EnqueueAsync_waits_until_Kafka_acknowledges()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = await stack.NewTopicAsync(1);
        var config = stack.ProducerConfig();
        config.QueueBufferingMaxMessages = 5;
        using var ingestor = await UsageIngestor.CreateAsync(config, stack.Client, new UsageIngestorOptions { Topic = topic }, cancellationToken: ct);
        Assert.Equal(5, ingestor.Capacity);

        // Hold deliveries back: every broker answers after 1.5 s, so the five queued records stay unacknowledged.
        stack.SetRoundTripTime(TimeSpan.FromMilliseconds(1500));

        try
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.True(ingestor.TryEnqueue(Record(i)));
            }

            Assert.False(ingestor.TryEnqueue(Record(5)));
            Assert.False(ingestor.TryBeginBatch(1, null, out _));
            Assert.Equal(5, ingestor.InFlight);

            var waiting = ingestor.EnqueueAsync(Record(5), cancellationToken: ct).AsTask();
            Assert.False(waiting.IsCompleted);
            await waiting.WaitAsync(TimeSpan.FromSeconds(30), ct);
        }
        finally
        {
            stack.SetRoundTripTime(TimeSpan.Zero);
        }

        await ingestor.FlushAsync(TimeSpan.FromSeconds(30), ct);
        Assert.Equal(6, ingestor.Delivered);
        Assert.Equal(6, stack.ReadAll(topic, 6, ct).Count);
    }

    [Fact]
    public async Task An_invalid_record_is_refused_naming_the_field_and_nothing_is_queued()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = await stack.NewTopicAsync(1);
        using var ingestor = await UsageIngestor.CreateAsync(stack.ProducerConfig(), stack.Client, new UsageIngestorOptions { Topic = topic }, cancellationToken: ct);

        var blankItem = Assert.Throws<ArgumentException>(() => ingestor.TryEnqueue(Record(1) with { SubscriptionItemId = " " }));
        var negative = await Assert.ThrowsAsync<ArgumentException>(async () => await ingestor.EnqueueAsync(Record(2) with { Quantity = -1m }, cancellationToken: ct));
        var tooPrecise = Assert.Throws<ArgumentException>(() => ingestor.TryEnqueue(Record(3) with { Quantity = 0.0000001m }));

        Assert.Equal("SubscriptionItemId", blankItem.ParamName);
        Assert.Equal("Quantity", negative.ParamName);
        Assert.Contains("decimal(18,6)", tooPrecise.Message, StringComparison.Ordinal);
        Assert.Equal((0, 0), (ingestor.Enqueued, ingestor.InFlight));
    }

    [Fact]
    public async Task A_batch_completes_only_after_every_record_is_acknowledged()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = await stack.NewTopicAsync(2);
        using var ingestor = await UsageIngestor.CreateAsync(stack.ProducerConfig(), stack.Client, new UsageIngestorOptions { Topic = topic }, cancellationToken: ct);

        Assert.True(ingestor.TryBeginBatch(10, UsageContext.Create("corr-batch"), out var batch));
        for (var i = 0; i < 8; i++)
        {
            batch.Add(Record(i));
        }

        var result = await batch.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.Equal(new UsageBatchResult(8, 0, null), result);
        Assert.Equal(0, ingestor.InFlight); // the two unused reservations were released
        Assert.Equal(8, stack.ReadAll(topic, 8, ct).Count);
    }

    [Theory]
    [InlineData(null)]     // default: reports served by the producing thread and the ingestor's idle poller
    [InlineData("true")]   // explicitly configured: Confluent's background poll thread serves them
    public async Task Deliveries_are_counted_without_a_flush_whoever_serves_the_reports(string? backgroundPoll)
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = await stack.NewTopicAsync(2);
        var config = stack.ProducerConfig();
        if (backgroundPoll is not null)
        {
            config.Set("dotnet.producer.enable.background.poll", backgroundPoll);
        }

        using var ingestor = await UsageIngestor.CreateAsync(config, stack.Client, new UsageIngestorOptions { Topic = topic }, cancellationToken: ct);
        for (var i = 0; i < 150; i++)
        {
            Assert.True(ingestor.TryEnqueue(Record(i)));
        }

        // Nobody calls FlushAsync: the caller went idle after 150 records, so the last reports must still be served.
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (ingestor.Delivered < 150 && waited.Elapsed < TimeSpan.FromSeconds(30))
        {
            await Task.Delay(10, ct);
        }

        Assert.Equal((150, 150, 0, 0), (ingestor.Enqueued, ingestor.Delivered, ingestor.Failed, ingestor.InFlight));
    }

    [Fact]
    public async Task A_failed_delivery_fails_the_batch_and_the_flush()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = await stack.NewTopicAsync(1);
        var config = stack.ProducerConfig();
        config.MessageTimeoutMs = 2000;
        using var ingestor = await UsageIngestor.CreateAsync(config, stack.Client, new UsageIngestorOptions { Topic = topic }, cancellationToken: ct);
        stack.Cluster.SetTopicError(topic, ErrorCode.TopicAuthorizationFailed);

        Assert.True(ingestor.TryBeginBatch(3, null, out var batch));
        for (var i = 0; i < 3; i++)
        {
            batch.Add(Record(i));
        }

        var result = await batch.CompleteAsync().WaitAsync(TimeSpan.FromSeconds(30), ct);

        Assert.Equal(0, result.Delivered);
        Assert.Equal(3, result.Failed);
        Assert.NotNull(result.FirstError);
        await Assert.ThrowsAsync<KafkaException>(() => ingestor.FlushAsync(TimeSpan.FromSeconds(10), ct));
    }
}
