using Microsoft.Extensions.Configuration;
using Streaming.Producers.Usage;

namespace Streaming.Producers.Tests.Usage;

/// <summary>
/// <see cref="UsageIngestionService"/>, the hosted form of usage ingestion: readiness follows the ingest queue, disposal
/// waits for Kafka to acknowledge everything accepted, and the settings bind from <c>Usage:Ingestor</c> / <c>Usage:Http</c>.
/// </summary>
public sealed class UsageIngestionServiceTests(UsageStack stack) : IClassFixture<UsageStack>
{
    private static UsageRecord Record(int i) => new($"use_svc_{i}", $"si_{i % 3}", "cus_1", "api_calls", i + 0.5m,
        DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow, "svc-test", new Dictionary<string, string>());

    [Fact]
    public async Task Not_ready_while_the_queue_is_full_and_disposal_delivers_everything_accepted()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = await stack.NewTopicAsync(3);
        var settings = UsageIngestionSettings.Bind(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Usage:Ingestor:Topic"] = topic,
            ["Usage:Ingestor:Capacity"] = "5",
            ["Usage:Http:DefaultSource"] = "svc",
        }).Build());
        Assert.Equal(("svc", 5), (settings.Http.DefaultSource, settings.Ingestor.Capacity));
        var service = await UsageIngestionService.CreateAsync(stack.ProducerConfig(), stack.Client, settings, cancellationToken: ct);
        Assert.Null(service.NotReadyReason());
        stack.SetRoundTripTime(TimeSpan.FromMilliseconds(1500));
        try
        {
            for (var i = 0; i < 5; i++)
            {
                Assert.True(service.Ingestor.TryEnqueue(Record(i)));
            }

            Assert.False(service.Ingestor.TryEnqueue(Record(5)));
            Assert.Equal("usage ingest queue full (5/5 records unacknowledged)", service.NotReadyReason());

            // Disposed while all five are still unacknowledged: it waits for them before the producer goes.
            await service.DisposeAsync();
        }
        finally
        {
            stack.SetRoundTripTime(TimeSpan.Zero);
        }

        Assert.Equal((5L, 0L, 0L), (service.Ingestor.Delivered, service.Ingestor.Failed, service.Ingestor.InFlight));
        Assert.Equal("usage ingestion stopped", service.NotReadyReason());
        Assert.Equal(5, stack.CountInLog(topic));
        await service.DisposeAsync(); // idempotent
    }
}
