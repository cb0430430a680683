using System.Text;
using Streaming.Producers.Usage;

namespace Streaming.Producers.Tests.Usage;

/// <summary>
/// Per-line validation of NDJSON usage batches: every error kind names its line, field and reason, valid lines around
/// a bad one still parse, and reasons never quote the submitted value. No Kafka involved.
/// </summary>
public sealed class UsageLineParserTests
{
    private static readonly DateTimeOffset Now = new(2026, 11, 25, 12, 0, 0, TimeSpan.Zero);

    private const string Valid = """{"usageEventId":"use_1","subscriptionItemId":"si_1","customerId":"cus_1","meter":"api_calls","quantity":12.5,"occurredAt":"2026-11-25T10:00:00Z"}""";

    private static (List<UsageRecord> Records, List<UsageLineError> Errors, int Lines) Parse(string body)
    {
        var records = new List<UsageRecord>();
        var errors = new List<UsageLineError>();
        var lines = new UsageLineParser(Now, "default-source").ParseAll(Encoding.UTF8.GetBytes(body), records, errors);
        return (records, errors, lines);
    }

    [Fact]
    public void A_valid_line_becomes_a_record_with_every_field()
    {
        var (records, errors, _) = Parse("""{"usageEventId":"use_9","subscriptionItemId":"si_9","customerId":"cus_9","meter":"gb_stored","quantity":"0.000001","occurredAt":"2026-11-25T11:59:00+01:00","source":"gw-eu1","attributes":{"region":"eu","plan":"pro"},"ignored":[1,2]}""");

        Assert.Empty(errors);
        var r = Assert.Single(records);
        Assert.Equal(("use_9", "si_9", "cus_9", "gb_stored", 0.000001m, "gw-eu1"), (r.UsageEventId, r.SubscriptionItemId, r.CustomerId, r.Meter, r.Quantity, r.Source));
        Assert.Equal(new DateTimeOffset(2026, 11, 25, 10, 59, 0, TimeSpan.Zero), r.OccurredAt);
        Assert.Equal(Now, r.ReceivedAt);
        Assert.Equal(new Dictionary<string, string> { ["region"] = "eu", ["plan"] = "pro" }, r.Attributes);
    }

    [Fact]
    public void Source_defaults_and_blank_lines_are_skipped_but_counted()
    {
        var (records, errors, lines) = Parse($"\n{Valid}\r\n   \n{Valid.Replace("use_1", "use_2", StringComparison.Ordinal)}\n");

        Assert.Empty(errors);
        Assert.Equal(2, lines);
        Assert.All(records, r => Assert.Equal("default-source", r.Source));
    }

    public static TheoryData<string, string?, string> BadLines => new()
    {
        { "{not json", null, "not valid JSON" },
        { "[1,2]", null, "one JSON object" },
        { Valid + " {}", null, "not valid JSON" },
        { Valid.Replace("\"usageEventId\":\"use_1\",", "", StringComparison.Ordinal), "usageEventId", "is required" },
        { Valid.Replace("\"subscriptionItemId\":\"si_1\",", "", StringComparison.Ordinal), "subscriptionItemId", "is required" },
        { Valid.Replace("\"customerId\":\"cus_1\",", "", StringComparison.Ordinal), "customerId", "is required" },
        { Valid.Replace("\"meter\":\"api_calls\",", "", StringComparison.Ordinal), "meter", "is required" },
        { Valid.Replace("\"quantity\":12.5,", "", StringComparison.Ordinal), "quantity", "is required" },
        { Valid.Replace(",\"occurredAt\":\"2026-11-25T10:00:00Z\"", "", StringComparison.Ordinal), "occurredAt", "is required" },
        { Valid.Replace("\"si_1\"", "42", StringComparison.Ordinal), "subscriptionItemId", "must be a string" },
        { Valid.Replace("\"cus_1\"", "\"  \"", StringComparison.Ordinal), "customerId", "must not be empty" },
        { Valid.Replace("\"api_calls\"", "\"" + new string('m', 300) + "\"", StringComparison.Ordinal), "meter", "longer than 256" },
        { Valid.Replace("\"si_1\"", "\"si\\u0001\"", StringComparison.Ordinal), "subscriptionItemId", "control characters" },
        { Valid.Replace("12.5", "-1", StringComparison.Ordinal), "quantity", "must not be negative" },
        { Valid.Replace("12.5", "0.0000001", StringComparison.Ordinal), "quantity", "at most 6 digits after the point" },
        { Valid.Replace("12.5", "1e13", StringComparison.Ordinal), "quantity", "12 before it" },
        { Valid.Replace("12.5", "\"twelve\"", StringComparison.Ordinal), "quantity", "not a decimal number" },
        { Valid.Replace("12.5", "true", StringComparison.Ordinal), "quantity", "must be a number" },
        { Valid.Replace("2026-11-25T10:00:00Z", "2026-11-25T10:00:00", StringComparison.Ordinal), "occurredAt", "with an offset" },
        { Valid.Replace("2026-11-25T10:00:00Z", "yesterday", StringComparison.Ordinal), "occurredAt", "RFC 3339" },
        { Valid.Replace("\"2026-11-25T10:00:00Z\"", "1732528800000", StringComparison.Ordinal), "occurredAt", "timestamp string" },
        { Valid.Replace("2026-11-25T10:00:00Z", "2026-11-25T12:06:00Z", StringComparison.Ordinal), "occurredAt", "in the future" },
        { Valid.Replace("}", ",\"attributes\":{\"region\":1}}", StringComparison.Ordinal), "attributes.region", "must be a string" },
        { Valid.Replace("}", ",\"attributes\":[\"eu\"]}", StringComparison.Ordinal), "attributes", "object of string values" },
        { Valid.Replace("}", ",\"attributes\":{" + string.Join(",", Enumerable.Range(0, 33).Select(i => $"\"k{i}\":\"v\"")) + "}}", StringComparison.Ordinal), "attributes", "more than 32 entries" },
        { Valid.Replace("}", ",\"meter\":\"again\"}", StringComparison.Ordinal), "meter", "appears twice" },
    };

    [Theory]
    [MemberData(nameof(BadLines))]
    public void A_bad_line_is_reported_with_its_line_field_and_reason_and_the_valid_lines_around_it_still_parse(string bad, string? field, string reason)
    {
        var second = Valid.Replace("use_1", "use_2", StringComparison.Ordinal);
        var (records, errors, lines) = Parse($"{Valid}\n{bad}\n{second}");

        var error = Assert.Single(errors);
        Assert.Equal(2, error.Line);
        Assert.Equal(field, error.Field);
        Assert.Contains(reason, error.Reason, StringComparison.Ordinal);
        Assert.Equal(["use_1", "use_2"], records.Select(r => r.UsageEventId));
        Assert.Equal(3, lines);
    }

    [Fact]
    public void A_usageEventId_repeated_in_the_batch_is_refused_on_the_later_line_naming_the_first()
    {
        var (records, errors, _) = Parse($"{Valid}\n\n{Valid}");

        Assert.Single(records);
        Assert.Equal(new UsageLineError(3, "usageEventId", "repeats the usageEventId of line 1 in this batch"), Assert.Single(errors));
    }

    [Fact]
    public void Reasons_never_quote_the_submitted_values()
    {
        var secret = "jane.doe@example.com";
        var bad = new[]
        {
            Valid.Replace("12.5", $"\"{secret}\"", StringComparison.Ordinal),
            Valid.Replace("2026-11-25T10:00:00Z", secret, StringComparison.Ordinal),
            Valid.Replace("\"si_1\"", $"[\"{secret}\"]", StringComparison.Ordinal),
            "{\"" + secret + "\"",
        };
        var (_, errors, _) = Parse(string.Join("\n", bad));

        Assert.Equal(4, errors.Count);
        Assert.All(errors, e => Assert.DoesNotContain(secret, e.Reason + e.Field, StringComparison.Ordinal));
    }
}
