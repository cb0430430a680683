using System.Globalization;
using System.Text.Json;

namespace Streaming.Producers.Edge;

/// <summary>Small readers over vendor JSON that fail with the field's path, never with the payload's content.</summary>
internal static class Json
{
    public static JsonElement? Prop(this JsonElement e, string name)
        => e.ValueKind == JsonValueKind.Object && e.TryGetProperty(name, out var v) && v.ValueKind != JsonValueKind.Null ? v : null;

    public static JsonElement Obj(this JsonElement e, string name, string path)
        => e.Prop(name) is { ValueKind: JsonValueKind.Object } v ? v : throw new VendorPayloadException($"{path}.{name} is missing or not an object");

    public static string? Str(this JsonElement e, string name) => e.Prop(name) switch
    {
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        { ValueKind: JsonValueKind.Number } v => v.GetRawText(),
        _ => null,
    };

    public static string ReqStr(this JsonElement e, string name, string path)
        => e.Str(name) is { Length: > 0 } s ? s : throw new VendorPayloadException($"{path}.{name} is missing or empty");

    /// <summary>An id that may be a string or an expanded object with an <c>id</c>.</summary>
    public static string? Id(this JsonElement e, string name) => e.Prop(name) switch
    {
        { ValueKind: JsonValueKind.String } v => v.GetString(),
        { ValueKind: JsonValueKind.Object } v => v.Str("id"),
        _ => null,
    };

    public static long? Long(this JsonElement e, string name) => e.Prop(name) switch
    {
        { ValueKind: JsonValueKind.Number } v when v.TryGetInt64(out var l) => l,
        { ValueKind: JsonValueKind.String } v when long.TryParse(v.GetString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l) => l,
        _ => null,
    };

    public static long ReqLong(this JsonElement e, string name, string path)
        => e.Long(name) ?? throw new VendorPayloadException($"{path}.{name} is missing or not an integer");

    public static bool? Bool(this JsonElement e, string name) => e.Prop(name) switch
    {
        { ValueKind: JsonValueKind.True } => true,
        { ValueKind: JsonValueKind.False } => false,
        { ValueKind: JsonValueKind.String } v when bool.TryParse(v.GetString(), out var b) => b,
        _ => null,
    };

    /// <summary>Elements of an array property, or of a Stripe list object's <c>data</c>.</summary>
    public static IEnumerable<JsonElement> Items(this JsonElement e, string name) => e.Prop(name) switch
    {
        { ValueKind: JsonValueKind.Array } a => a.EnumerateArray(),
        { ValueKind: JsonValueKind.Object } o when o.Prop("data") is { ValueKind: JsonValueKind.Array } d => d.EnumerateArray(),
        _ => [],
    };

    public static Dictionary<string, string> StringMap(this JsonElement e, string name)
    {
        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        if (e.Prop(name) is { ValueKind: JsonValueKind.Object } o)
        {
            foreach (var p in o.EnumerateObject())
            {
                if (p.Value.ValueKind is JsonValueKind.String)
                {
                    map[p.Name] = p.Value.GetString()!;
                }
                else if (p.Value.ValueKind is not JsonValueKind.Null)
                {
                    map[p.Name] = p.Value.GetRawText();
                }
            }
        }

        return map;
    }

    public static DateTime UnixSeconds(long seconds) => DateTimeOffset.FromUnixTimeSeconds(seconds).UtcDateTime;

    public static DateTime UnixMillis(long millis) => DateTimeOffset.FromUnixTimeMilliseconds(millis).UtcDateTime;
}
