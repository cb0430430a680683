using Streamiz.Kafka.Net;
using Streaming.Platform.Configuration;
using Streaming.Processors.Hosting;

namespace Streaming.Processors.Tests;

/// <summary>The stream-thread settings <c>up</c> and the processors benchmark apply, as the clients Streamiz builds receive them.</summary>
public sealed class StreamizThroughputTests
{
    [Fact]
    public void Settings_reach_the_producer_and_the_main_consumer_only()
    {
        var config = new StreamConfig { ApplicationId = "app", BootstrapServers = "localhost:9092", Guarantee = ProcessingGuarantee.AT_LEAST_ONCE };
        StreamizThroughput.Apply(config, new ProcessorsOptions { ProducerLingerMs = 40, FetchQueueBackoffMs = 70, MaxPollRecords = 300, CommitIntervalMs = 2000, PollMs = 25 });

        Assert.Equal(40, config.ToProducerConfig().LingerMs);
        Assert.Equal(70, config.ToConsumerConfig().FetchQueueBackoffMs);
        Assert.NotEqual(70, config.ToGlobalConsumerConfig("global").FetchQueueBackoffMs);
        Assert.Equal(300, config.MaxPollRecords);
        Assert.Equal(2000, config.CommitIntervalMs);
        Assert.Equal(25, config.PollMs);
    }

    [Fact]
    public void Exactly_once_keeps_a_100_ms_commit_interval()
    {
        var config = new StreamConfig { ApplicationId = "app", BootstrapServers = "localhost:9092", Guarantee = ProcessingGuarantee.EXACTLY_ONCE };
        StreamizThroughput.Apply(config, new ProcessorsOptions { CommitIntervalMs = 2000 });

        Assert.Equal(100, config.CommitIntervalMs);
        Assert.Equal(new ProcessorsOptions().ProducerLingerMs, config.ToProducerConfig().LingerMs);
    }
}
