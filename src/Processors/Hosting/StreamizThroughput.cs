using Streamiz.Kafka.Net;
using Streaming.Platform.Configuration;

namespace Streaming.Processors.Hosting;

/// <summary>
/// The throughput settings of a finance topology's Streamiz application, from <see cref="ProcessorsOptions"/>: the
/// commit interval under at least once, <c>max.poll.records</c>, <c>poll.ms</c>, the main consumer's
/// <c>fetch.queue.backoff.ms</c> and the producer's <c>linger.ms</c>.
/// The host (<c>streaming up</c>) and the benchmark apply the same settings. Measured in BENCHMARKS.md (Processors).
/// </summary>
public static class StreamizThroughput
{
    /// <summary>Applies the settings to <paramref name="config"/>; the processing guarantee must already be set on it.</summary>
    public static void Apply(StreamConfig config, ProcessorsOptions options)
    {
        ArgumentNullException.ThrowIfNull(config);
        ArgumentNullException.ThrowIfNull(options);
        // Under exactly once a commit is a transaction: keep it short (Streamiz's own default), whatever is configured.
        config.CommitIntervalMs = config.Guarantee == ProcessingGuarantee.EXACTLY_ONCE ? 100 : options.CommitIntervalMs;
        config.MaxPollRecords = options.MaxPollRecords;
        config.PollMs = options.PollMs;
        // Main consumer only (the restore and global consumers read to the end once; producers do not know the key).
        config.AddConfig("main.consumer.fetch.queue.backoff.ms", options.FetchQueueBackoffMs);
        // Producer only: bigger produce requests, less CPU per record in the producer and the broker.
        config.AddConfig("producer.linger.ms", options.ProducerLingerMs);
    }
}
