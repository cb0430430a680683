using System.Diagnostics;
using System.Text;
using Confluent.Kafka;

namespace Streaming.Platform.Serialization;

/// <summary>The tracing headers every record carries: <c>correlation-id</c> and W3C <c>traceparent</c>.</summary>
public static class TracingHeaders
{
    /// <summary>Header carrying the business flow's correlation id.</summary>
    public const string CorrelationId = "correlation-id";

    /// <summary>Header carrying the W3C trace context.</summary>
    public const string TraceParent = "traceparent";

    /// <summary>Builds headers for a new record of a flow; a fresh traceparent is made when none is given.</summary>
    public static Headers Create(string correlationId, string? traceParent = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(correlationId);
        var headers = new Headers
        {
            { CorrelationId, Encoding.UTF8.GetBytes(correlationId) },
            { TraceParent, Encoding.UTF8.GetBytes(traceParent ?? NewTraceParent()) },
        };
        return headers;
    }

    /// <summary>A new W3C traceparent (<c>00-{trace-id}-{span-id}-01</c>).</summary>
    public static string NewTraceParent() => $"00-{ActivityTraceId.CreateRandom().ToHexString()}-{ActivitySpanId.CreateRandom().ToHexString()}-01";

    /// <summary>
    /// Headers as a name → bytes map for quarantine and dead-letter records: the last value per name, as the contracts
    /// document (Kafka allows a name to repeat; a plain ToDictionary would throw on such a record).
    /// </summary>
    public static Dictionary<string, byte[]> ToMap(Headers? headers)
    {
        var map = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (var header in headers ?? [])
        {
            map[header.Key] = header.GetValueBytes();
        }

        return map;
    }

    /// <summary>Reads a UTF-8 header value, or null.</summary>
    public static string? Get(Headers? headers, string name)
        => headers is not null && headers.TryGetLastBytes(name, out var bytes) ? Encoding.UTF8.GetString(bytes) : null;
}
