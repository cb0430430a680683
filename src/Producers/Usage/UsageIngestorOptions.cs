using System.ComponentModel.DataAnnotations;
using Streaming.Contracts;

namespace Streaming.Producers.Usage;

/// <summary>Settings of <see cref="UsageIngestor"/> (configuration section <c>Usage:Ingestor</c>).</summary>
public sealed class UsageIngestorOptions
{
    /// <summary>Configuration section.</summary>
    public const string Section = "Usage:Ingestor";

    /// <summary>Topic the records go to.</summary>
    [Required]
    public string Topic { get; set; } = Topics.BillingUsage;

    /// <summary>
    /// Most records queued and not yet acknowledged by Kafka. Beyond it callers are refused (<c>TryEnqueue</c> false,
    /// HTTP 429) instead of buffering without bound. Capped at the producer's <c>queue.buffering.max.messages</c>.
    /// </summary>
    [Range(1, 10_000_000)]
    public int Capacity { get; set; } = 100_000;

    /// <summary>Correlation id of records enqueued without a <see cref="UsageContext"/>.</summary>
    [Required]
    public string DefaultCorrelationId { get; set; } = "usage-ingest";

    /// <summary>
    /// How long a record already admitted (capacity reserved) may wait for room in librdkafka's own queue (shared with
    /// other producers of the same handle, or limited by <c>queue.buffering.max.kbytes</c>) before it counts as failed.
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00.001", "01:00:00")]
    public TimeSpan QueueFullWait { get; set; } = TimeSpan.FromSeconds(30);
}
