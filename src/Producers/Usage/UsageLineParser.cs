using System.Text.Json;

namespace Streaming.Producers.Usage;

/// <summary>Why one NDJSON line was refused: its 1-based line number, the field at fault (null for the line as a whole) and the reason.</summary>
public readonly record struct UsageLineError(int Line, string? Field, string Reason);

/// <summary>Limits the NDJSON parser applies to each line.</summary>
public sealed class UsageLineRules
{
    /// <summary>Longest id, meter or source, in characters.</summary>
    public int MaxIdLength { get; set; } = 256;

    /// <summary>Most entries in <c>attributes</c>.</summary>
    public int MaxAttributes { get; set; } = 32;

    /// <summary>How far in the future <c>occurredAt</c> may lie (clock skew between client and server).</summary>
    public TimeSpan MaxFutureSkew { get; set; } = TimeSpan.FromMinutes(5);
}

/// <summary>
/// Parses and validates the lines of one NDJSON usage batch with <see cref="Utf8JsonReader"/> over the raw bytes (no
/// string per line, no DOM). A line is one JSON object:
/// <c>{"usageEventId":"…","subscriptionItemId":"…","customerId":"…","meter":"…","quantity":12.5,"occurredAt":"2026-11-01T10:00:00Z","source":"…","attributes":{"region":"eu"}}</c>.
/// <c>source</c> and <c>attributes</c> are optional; other unknown fields are ignored. Each refused line yields one
/// <see cref="UsageLineError"/>; the others still become records. A <c>usageEventId</c> repeated within the batch is
/// refused on its later lines. Reasons never quote the submitted values.
/// </summary>
public sealed class UsageLineParser(DateTimeOffset receivedAt, string defaultSource, UsageLineRules? rules = null)
{
    private readonly UsageLineRules _rules = rules ?? new UsageLineRules();
    private readonly Dictionary<string, int> _seenIds = new(StringComparer.Ordinal);

    // Per-line state (a parser serves one batch on one thread): the first problem found and the line it is on.
    private UsageLineError? _failure;
    private int _line;

    /// <summary>
    /// Splits <paramref name="body"/> on <c>\n</c> (a trailing <c>\r</c> is dropped; blank lines are skipped but counted)
    /// and parses every line into <paramref name="records"/> or <paramref name="errors"/>.
    /// </summary>
    /// <returns>The number of non-blank lines.</returns>
    public int ParseAll(ReadOnlySpan<byte> body, List<UsageRecord> records, List<UsageLineError> errors)
    {
        ArgumentNullException.ThrowIfNull(records);
        ArgumentNullException.ThrowIfNull(errors);
        var lineNumber = 0;
        var lines = 0;
        while (!body.IsEmpty)
        {
            lineNumber++;
            var end = body.IndexOf((byte)'\n');
            var line = end < 0 ? body : body[..end];
            body = end < 0 ? [] : body[(end + 1)..];
            if (!line.IsEmpty && line[^1] == (byte)'\r')
            {
                line = line[..^1];
            }

            if (line.Trim(" \t"u8).IsEmpty)
            {
                continue;
            }

            lines++;
            if (TryParse(line, lineNumber, out var record, out var error))
            {
                records.Add(record);
            }
            else
            {
                errors.Add(error);
            }
        }

        return lines;
    }

    /// <summary>Parses one line.</summary>
    public bool TryParse(ReadOnlySpan<byte> line, int lineNumber, out UsageRecord record, out UsageLineError error)
    {
        record = default;
        try
        {
            return TryParseCore(line, lineNumber, out record, out error);
        }
        catch (JsonException ex)
        {
            error = new UsageLineError(lineNumber, null, $"not valid JSON (byte {ex.BytePositionInLine} of the line)");
        }
        catch (InvalidOperationException)
        {
            // Utf8JsonReader.GetString on a string that is not valid UTF-8.
            error = new UsageLineError(lineNumber, null, "not valid UTF-8");
        }

        return false;
    }

    private bool TryParseCore(ReadOnlySpan<byte> line, int lineNumber, out UsageRecord record, out UsageLineError error)
    {
        record = default;
        var reader = new Utf8JsonReader(line, new JsonReaderOptions { CommentHandling = JsonCommentHandling.Disallow, MaxDepth = 4 });
        if (!reader.Read() || reader.TokenType != JsonTokenType.StartObject)
        {
            error = new UsageLineError(lineNumber, null, "a line must be one JSON object");
            return false;
        }

        string? usageEventId = null, subscriptionItemId = null, customerId = null, meter = null, source = null;
        decimal? quantity = null;
        DateTimeOffset? occurredAt = null;
        Dictionary<string, string>? attributes = null;
        _failure = null;
        _line = lineNumber;

        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("usageEventId"u8))
            {
                usageEventId = ReadId(ref reader, "usageEventId", usageEventId);
            }
            else if (reader.ValueTextEquals("subscriptionItemId"u8))
            {
                subscriptionItemId = ReadId(ref reader, "subscriptionItemId", subscriptionItemId);
            }
            else if (reader.ValueTextEquals("customerId"u8))
            {
                customerId = ReadId(ref reader, "customerId", customerId);
            }
            else if (reader.ValueTextEquals("meter"u8))
            {
                meter = ReadId(ref reader, "meter", meter);
            }
            else if (reader.ValueTextEquals("source"u8))
            {
                source = ReadId(ref reader, "source", source);
            }
            else if (reader.ValueTextEquals("quantity"u8))
            {
                if (quantity is not null) { Fail("quantity", "appears twice"); }
                reader.Read();
                quantity = ReadQuantity(ref reader);
            }
            else if (reader.ValueTextEquals("occurredAt"u8))
            {
                if (occurredAt is not null) { Fail("occurredAt", "appears twice"); }
                reader.Read();
                occurredAt = ReadTimestamp(ref reader);
            }
            else if (reader.ValueTextEquals("attributes"u8))
            {
                if (attributes is not null) { Fail("attributes", "appears twice"); }
                reader.Read();
                attributes = ReadAttributes(ref reader);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }

        if (reader.TokenType != JsonTokenType.EndObject || reader.Read())
        {
            error = new UsageLineError(lineNumber, null, "a line must hold exactly one JSON object");
            return false;
        }

        if (_failure is { } f)
        {
            error = f;
            return false;
        }

        var missing = usageEventId is null ? "usageEventId" : subscriptionItemId is null ? "subscriptionItemId" : customerId is null ? "customerId" : meter is null ? "meter" : null;
        if (missing is not null)
        {
            error = new UsageLineError(lineNumber, missing, "is required");
            return false;
        }

        if (quantity is null)
        {
            error = new UsageLineError(lineNumber, "quantity", "is required");
            return false;
        }

        if (occurredAt is null)
        {
            error = new UsageLineError(lineNumber, "occurredAt", "is required");
            return false;
        }

        if (occurredAt.Value > receivedAt + _rules.MaxFutureSkew)
        {
            error = new UsageLineError(lineNumber, "occurredAt", $"is more than {_rules.MaxFutureSkew.TotalMinutes:0} minutes in the future");
            return false;
        }

        if (!_seenIds.TryAdd(usageEventId!, lineNumber))
        {
            error = new UsageLineError(lineNumber, "usageEventId", $"repeats the usageEventId of line {_seenIds[usageEventId!]} in this batch");
            return false;
        }

        record = new UsageRecord(usageEventId!, subscriptionItemId!, customerId!, meter!, quantity.Value, occurredAt.Value, receivedAt, source ?? defaultSource, attributes);
        error = default;
        return true;
    }

    private void Fail(string field, string reason) => _failure ??= new UsageLineError(_line, field, reason);

    private string ReadId(ref Utf8JsonReader r, string field, string? current)
    {
        if (current is not null)
        {
            Fail(field, "appears twice");
        }

        r.Read();
        if (r.TokenType != JsonTokenType.String)
        {
            Fail(field, "must be a string");
            r.Skip();
            return current ?? string.Empty;
        }

        var value = r.GetString()!;
        if (value.Length == 0 || string.IsNullOrWhiteSpace(value))
        {
            Fail(field, "must not be empty");
        }
        else if (value.Length > _rules.MaxIdLength)
        {
            Fail(field, $"is longer than {_rules.MaxIdLength} characters");
        }
        else if (value.AsSpan().ContainsAnyInRange('\0', '\u001f'))
        {
            Fail(field, "contains control characters");
        }

        return value;
    }

    private decimal? ReadQuantity(ref Utf8JsonReader reader)
    {
        decimal value;
        switch (reader.TokenType)
        {
            case JsonTokenType.Number when reader.TryGetDecimal(out value):
                break;
            case JsonTokenType.String when decimal.TryParse(reader.GetString(), System.Globalization.NumberStyles.AllowDecimalPoint | System.Globalization.NumberStyles.AllowLeadingSign,
                System.Globalization.CultureInfo.InvariantCulture, out value):
                break;
            case JsonTokenType.Number or JsonTokenType.String:
                Fail("quantity", "is not a decimal number");
                return 0;
            default:
                Fail("quantity", "must be a number (or a decimal string)");
                reader.Skip();
                return 0;
        }

        if (value < 0)
        {
            Fail("quantity", "must not be negative");
        }
        else if (!UsageAvroEncoder.TryGetUnscaledQuantity(value, out _))
        {
            Fail("quantity", "must have at most 6 digits after the point and 12 before it");
        }

        return value;
    }

    private DateTimeOffset? ReadTimestamp(ref Utf8JsonReader reader)
    {
        if (reader.TokenType != JsonTokenType.String)
        {
            Fail("occurredAt", "must be an RFC 3339 timestamp string");
            reader.Skip();
            return DateTimeOffset.MinValue;
        }

        // An explicit offset is required: a local time without one would depend on the server's time zone.
        var raw = reader.ValueSpan;
        var hasOffset = !reader.ValueIsEscaped && raw.Length > 6
            && (raw[^1] is (byte)'Z' or (byte)'z' || (raw[^6] is (byte)'+' or (byte)'-' && raw[^3] == (byte)':'));
        if (!hasOffset || !reader.TryGetDateTimeOffset(out var value))
        {
            Fail("occurredAt", "must be an RFC 3339 timestamp with an offset, e.g. 2026-11-01T10:00:00Z");
            return DateTimeOffset.MinValue;
        }

        return value;
    }

    private Dictionary<string, string>? ReadAttributes(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }

        if (reader.TokenType != JsonTokenType.StartObject)
        {
            Fail("attributes", "must be an object of string values");
            reader.Skip();
            return [];
        }

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            var key = reader.GetString()!;
            reader.Read();
            if (reader.TokenType != JsonTokenType.String)
            {
                Fail($"attributes.{Truncate(key)}", "must be a string");
                reader.Skip();
                continue;
            }

            if (key.Length == 0 || key.Length > _rules.MaxIdLength)
            {
                Fail("attributes", $"keys must have 1 to {_rules.MaxIdLength} characters");
            }
            else if (!map.TryAdd(key, reader.GetString()!))
            {
                Fail($"attributes.{Truncate(key)}", "appears twice");
            }
            else if (map.Count > _rules.MaxAttributes)
            {
                Fail("attributes", $"has more than {_rules.MaxAttributes} entries");
            }
        }

        return map;
    }

    private static string Truncate(string key) => key.Length <= 64 ? key : key[..64];
}
