using Prometheus;

namespace Streaming.Producers.Hosting;

/// <summary>Prometheus metrics of the connector host, in their own registry (served at <c>GET /metrics</c>).</summary>
public sealed class ConnectorMetrics
{
    /// <summary>Creates the metrics in <paramref name="registry"/> (a fresh one when null).</summary>
    public ConnectorMetrics(CollectorRegistry? registry = null)
    {
        Registry = registry ?? Metrics.NewCustomRegistry();
        var factory = Metrics.WithCustomRegistry(Registry);
        Requests = factory.CreateCounter("streaming_connector_requests_total", "Webhook requests by source and HTTP status.",
            new CounterConfiguration { LabelNames = ["source", "status"] });
        Records = factory.CreateCounter("streaming_connector_records_total", "Records acknowledged by Kafka, by source and topic.",
            new CounterConfiguration { LabelNames = ["source", "topic"] });
        Duplicates = factory.CreateCounter("streaming_connector_duplicates_total", "Records dropped as redeliveries of stored ones.",
            new CounterConfiguration { LabelNames = ["source"] });
        Ignored = factory.CreateCounter("streaming_connector_ignored_events_total", "Authentic vendor events of a type no record is made of.",
            new CounterConfiguration { LabelNames = ["source"] });
        DeadLettered = factory.CreateCounter("streaming_connector_dead_letters_total", "Authentic events that could not be mapped, stored in ops.dlq.v1.",
            new CounterConfiguration { LabelNames = ["source"] });
        Latency = factory.CreateHistogram("streaming_connector_request_seconds", "Webhook request duration, including the wait for Kafka.",
            new HistogramConfiguration { LabelNames = ["source"], Buckets = Histogram.ExponentialBuckets(0.001, 2, 14) });
    }

    /// <summary>The registry served by <c>/metrics</c>.</summary>
    public CollectorRegistry Registry { get; }

    /// <summary>Requests by source and status.</summary>
    public Counter Requests { get; }

    /// <summary>Records produced by source and topic.</summary>
    public Counter Records { get; }

    /// <summary>Duplicates dropped by source.</summary>
    public Counter Duplicates { get; }

    /// <summary>Ignored event types by source.</summary>
    public Counter Ignored { get; }

    /// <summary>Dead-lettered events by source.</summary>
    public Counter DeadLettered { get; }

    /// <summary>Request latency by source.</summary>
    public Histogram Latency { get; }
}
