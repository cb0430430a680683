using System.Text;

namespace Streaming.Contracts.Ops;

/// <summary>A record a stage could not use: where it sits on Kafka and what it carried (key, value, headers as bytes).</summary>
/// <param name="Topic">Its topic, or a pseudo-topic such as <c>webhook:stripe</c> for input that never was a Kafka record.</param>
/// <param name="Partition">Its partition (-1 when it has none).</param>
/// <param name="Offset">Its offset (-1 when it has none).</param>
/// <param name="Key">Original key bytes, if any.</param>
/// <param name="Value">Original value bytes, if any (null for a tombstone).</param>
/// <param name="Headers">Original headers (last value per name).</param>
public sealed record FailedRecord(string Topic, int Partition, long Offset, byte[]? Key, byte[]? Value, IDictionary<string, byte[]> Headers)
{
    /// <summary>UTF-8 bytes of a string key; null stays null.</summary>
    public static byte[]? KeyBytes(string? key) => key is null ? null : Encoding.UTF8.GetBytes(key);
}

/// <summary>
/// Builds the records of <c>ops.dlq.v1</c> and <c>ops.quarantine.v1</c> the same way in every stage (connectors,
/// processors, sink), so the original bytes, headers and coordinates are always kept and the quarantine id is always
/// derived from the coordinates.
/// </summary>
public static class OpsRecords
{
    /// <summary>The quarantine id of a record: one per source coordinate, so quarantining it again is idempotent downstream.</summary>
    public static string QuarantineId(string topic, int partition, long offset) => $"q_{topic}_{partition}_{offset}";

    /// <summary>A dead letter: the record as it was, and why it could not be read.</summary>
    public static DeadLetterRecord DeadLetter(FailedRecord record, DateTime? originalTimestamp, string errorType, string errorMessage, string consumerGroup, DateTime failedAt)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new DeadLetterRecord
        {
            originalTopic = record.Topic,
            originalPartition = record.Partition,
            originalOffset = record.Offset,
            originalTimestamp = originalTimestamp,
            originalKey = record.Key,
            originalValue = record.Value,
            headers = record.Headers,
            errorType = errorType,
            errorMessage = errorMessage,
            consumerGroup = consumerGroup,
            failedAt = failedAt,
        };
    }

    /// <summary>A quarantine record: the record as it was, the reason, what was missing and the business context to act on it.</summary>
    public static QuarantineRecord Quarantine(FailedRecord record, string reasonCode, string reasonDetail, IList<string> missing, string stage,
        string correlationId, string? postingKey, IDictionary<string, string> businessContext, DateTime quarantinedAt)
    {
        ArgumentNullException.ThrowIfNull(record);
        return new QuarantineRecord
        {
            quarantineId = QuarantineId(record.Topic, record.Partition, record.Offset),
            reasonCode = reasonCode,
            reasonDetail = reasonDetail,
            missing = missing,
            stage = stage,
            correlationId = correlationId,
            postingKey = postingKey,
            businessContext = businessContext,
            sourceTopic = record.Topic,
            sourcePartition = record.Partition,
            sourceOffset = record.Offset,
            originalKey = record.Key,
            originalValue = record.Value,
            headers = record.Headers,
            quarantinedAt = quarantinedAt,
        };
    }
}
