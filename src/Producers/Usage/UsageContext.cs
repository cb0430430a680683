using Confluent.Kafka;
using Streaming.Platform.Serialization;

namespace Streaming.Producers.Usage;

/// <summary>
/// The tracing headers (<c>correlation-id</c>, <c>traceparent</c>) put on a group of usage records: one ingest request,
/// or one in-process producer. Built once and shared by every record of the group, because building headers per
/// record would cost a large share of the per-record budget at this volume (see BENCHMARKS.md, micro-benchmarks).
/// </summary>
public sealed class UsageContext
{
    private UsageContext(string correlationId, string traceParent)
    {
        CorrelationId = correlationId;
        TraceParent = traceParent;
        Headers = TracingHeaders.Create(correlationId, traceParent);
    }

    /// <summary>Correlation id written to every record of the group.</summary>
    public string CorrelationId { get; }

    /// <summary>W3C traceparent written to every record of the group.</summary>
    public string TraceParent { get; }

    /// <summary>The Kafka headers; never mutated after construction, so concurrent produce calls may share them.</summary>
    internal Headers Headers { get; }

    /// <summary>A context with <paramref name="correlationId"/> and the given (or a fresh) traceparent.</summary>
    public static UsageContext Create(string correlationId, string? traceParent = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(correlationId);
        return new UsageContext(correlationId, traceParent ?? TracingHeaders.NewTraceParent());
    }
}
