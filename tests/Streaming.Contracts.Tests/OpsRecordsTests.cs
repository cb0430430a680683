using Avro.IO;
using Avro.Specific;
using Streaming.Contracts.Ops;

namespace Streaming.Contracts.Tests;

/// <summary>
/// <see cref="OpsRecords"/> keeps a failed record's coordinates, bytes and headers in dead letters and quarantine records,
/// derives the quarantine id from the coordinates, and builds records that encode with their schema. Producing them is not covered.
/// </summary>
public sealed class OpsRecordsTests
{
    private static readonly DateTime At = new(2026, 11, 25, 10, 0, 0, DateTimeKind.Utc);
    private static readonly FailedRecord Failed = new("billing.invoices.v1", 3, 42, FailedRecord.KeyBytes("in_1"), [1, 2, 3],
        new Dictionary<string, byte[]> { ["correlation-id"] = "corr-1"u8.ToArray() });

    private static T RoundTrip<T>(T record) where T : ISpecificRecord
    {
        using var stream = new MemoryStream();
        new SpecificDatumWriter<T>(record.Schema).Write(record, new BinaryEncoder(stream));
        stream.Position = 0;
        return new SpecificDatumReader<T>(record.Schema, record.Schema).Read(default!, new BinaryDecoder(stream));
    }

    [Fact]
    public void A_dead_letter_keeps_the_coordinates_bytes_headers_and_error()
    {
        var letter = RoundTrip(OpsRecords.DeadLetter(Failed, At.AddMinutes(-1), "System.IO.InvalidDataException", "bad magic byte", "streaming-sink", At));

        Assert.Equal(("billing.invoices.v1", 3, 42L), (letter.originalTopic, letter.originalPartition, letter.originalOffset));
        Assert.Equal("in_1"u8.ToArray(), letter.originalKey);
        Assert.Equal([1, 2, 3], letter.originalValue);
        Assert.Equal("corr-1"u8.ToArray(), letter.headers["correlation-id"]);
        Assert.Equal(("System.IO.InvalidDataException", "bad magic byte", "streaming-sink"), (letter.errorType, letter.errorMessage, letter.consumerGroup));
        Assert.Equal((At.AddMinutes(-1), At), (letter.originalTimestamp, letter.failedAt));
    }

    [Fact]
    public void A_quarantine_record_is_identified_by_its_source_coordinates()
    {
        var q = RoundTrip(OpsRecords.Quarantine(Failed, "MISSING_TAX_RULE", "no tax rule for US-TX", ["tax-rule:US01/US-TX"], "finance-mapping",
            "corr-1", "invoice:in_1:issued", new Dictionary<string, string> { ["amount"] = "10.00" }, At));

        Assert.Equal("q_billing.invoices.v1_3_42", q.quarantineId);
        Assert.Equal(OpsRecords.QuarantineId("billing.invoices.v1", 3, 42), q.quarantineId);
        Assert.Equal(("billing.invoices.v1", 3, 42L), (q.sourceTopic, q.sourcePartition, q.sourceOffset));
        Assert.Equal(("MISSING_TAX_RULE", "no tax rule for US-TX", "finance-mapping"), (q.reasonCode, q.reasonDetail, q.stage));
        Assert.Equal(("corr-1", "invoice:in_1:issued"), (q.correlationId, q.postingKey));
        Assert.Equal(["tax-rule:US01/US-TX"], q.missing);
        Assert.Equal("10.00", q.businessContext["amount"]);
        Assert.Equal("in_1"u8.ToArray(), q.originalKey);
        Assert.Equal([1, 2, 3], q.originalValue);
        Assert.Equal("corr-1"u8.ToArray(), q.headers["correlation-id"]);
        Assert.Equal(At, q.quarantinedAt);
    }

    [Fact]
    public void A_null_key_stays_null()
    {
        Assert.Null(FailedRecord.KeyBytes(null));
        Assert.Null(OpsRecords.DeadLetter(Failed with { Key = null, Value = null }, null, "Tombstone", "x", "g", At).originalKey);
    }
}
