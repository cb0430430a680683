using Avro.Specific;

namespace Streaming.Producers.Edge;

/// <summary>
/// One record a connector produces for a vendor event: the topic, the Kafka key, the typed value, the correlation id for the
/// header, and the vendor event id that makes a redelivery recognisable.
/// </summary>
public sealed record EdgeRecord(string Topic, string Key, ISpecificRecord Value, string CorrelationId, string EventId)
{
    /// <summary>What the duplicate filter remembers: the same event producing the same record again is a duplicate.</summary>
    public string DedupeKey => $"{EventId}|{Topic}|{Key}";
}

/// <summary>What a connector made of one request: records to produce, and how many vendor events it ignored (unhandled types).</summary>
public sealed record EdgeBatch(IReadOnlyList<EdgeRecord> Records, int IgnoredEvents)
{
    /// <summary>An empty batch.</summary>
    public static EdgeBatch Empty { get; } = new([], 0);
}

/// <summary>A vendor payload that cannot be mapped (missing field, wrong type); dead-lettered with its bytes, logged without its content.</summary>
public sealed class VendorPayloadException(string message) : Exception(message)
{
    /// <summary>
    /// True for the exceptions mapping an authentic payload can raise: a missing or malformed field, a JSON value of the wrong
    /// kind, an amount that does not fit decimal(18,4). Such an event is dead-lettered, never retried forever.
    /// </summary>
    public static bool IsMappingFailure(Exception ex) => ex is VendorPayloadException or ArgumentException or InvalidOperationException
        or FormatException or OverflowException or KeyNotFoundException or System.Text.Json.JsonException;
}
