using System.Diagnostics;
using System.Text;
using BenchmarkDotNet.Attributes;
using Confluent.Kafka;

namespace Streaming.Bench.Micro;

/// <summary>
/// Per-record cost on the produce hot path before librdkafka sees the record: Confluent's serializer for a 100-byte
/// payload (bytes vs UTF-8 string) and building the correlation-id + W3C traceparent headers the design puts on every record.
/// </summary>
[MemoryDiagnoser]
public class KafkaMessageBuildBenchmarks
{
    private readonly byte[] _payload = new byte[100];
    private readonly string _payloadText = new('x', 100);
    private readonly SerializationContext _context = new(MessageComponentType.Value, "bench.topic");
    private readonly string _correlationId = Guid.NewGuid().ToString("N");
    private readonly ActivityTraceId _traceId = ActivityTraceId.CreateRandom();
    private readonly ActivitySpanId _spanId = ActivitySpanId.CreateRandom();

    /// <summary>Baseline: the byte[] value is handed over as is.</summary>
    [Benchmark(Baseline = true)]
    public byte[] Serialize_ByteArray_100B() => Serializers.ByteArray.Serialize(_payload, _context);

    /// <summary>Confluent's UTF-8 string serializer on a 100-char value.</summary>
    [Benchmark]
    public byte[] Serialize_Utf8String_100B() => Serializers.Utf8.Serialize(_payloadText, _context);

    /// <summary>Both headers built from strings, as a naive producer would.</summary>
    [Benchmark]
    public Headers Headers_CorrelationId_Traceparent()
    {
        var headers = new Headers
        {
            { "correlation-id", Encoding.UTF8.GetBytes(_correlationId) },
            { "traceparent", Encoding.UTF8.GetBytes($"00-{_traceId.ToHexString()}-{_spanId.ToHexString()}-01") },
        };
        return headers;
    }

    /// <summary>The same headers with traceparent hex-encoded straight into its 55-byte UTF-8 buffer (no intermediate strings).</summary>
    [Benchmark]
    public Headers Headers_CorrelationId_Traceparent_NoStrings()
    {
        var traceparent = new byte[55];
        Span<byte> raw = stackalloc byte[16];
        "00-"u8.CopyTo(traceparent);
        _traceId.CopyTo(raw);
        Convert.TryToHexStringLower(raw, traceparent.AsSpan(3, 32), out _);
        traceparent[35] = (byte)'-';
        _spanId.CopyTo(raw[..8]);
        Convert.TryToHexStringLower(raw[..8], traceparent.AsSpan(36, 16), out _);
        "-01"u8.CopyTo(traceparent.AsSpan(52));
        return new Headers
        {
            { "correlation-id", Encoding.UTF8.GetBytes(_correlationId) },
            { "traceparent", traceparent },
        };
    }
}
