using System.Text;
using System.Text.Json;

namespace Streaming.Producers.MasterData;

/// <summary>One input record, from a CSV line or a JSON object, read field by field.</summary>
internal abstract class MasterDataRow(string file, int number, string prefix)
{
    public string File { get; } = file;

    public int Number { get; } = number;

    /// <summary>Field name as shown in errors (JSON nested records: <c>prices[2].tiers[1].upTo</c>).</summary>
    public string FieldName(string field) => prefix + field;

    /// <summary>The field as text; null when absent, null or empty.</summary>
    public abstract string? Text(string field);

    /// <summary>The field as a list of strings; null when absent (CSV: <c>;</c>-separated cell).</summary>
    public abstract IReadOnlyList<string>? List(string field);
}

internal sealed class CsvRow(string file, int number, IReadOnlyDictionary<string, string> cells) : MasterDataRow(file, number, "")
{
    public override string? Text(string field) => cells.TryGetValue(field, out var v) && v.Trim().Length > 0 ? v.Trim() : null;

    public override IReadOnlyList<string>? List(string field) => Text(field) is { } v
        ? v.Split(';', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
        : cells.ContainsKey(field) ? [] : null;
}

internal sealed class JsonRow(string file, int number, JsonElement element, string prefix = "") : MasterDataRow(file, number, prefix)
{
    public override string? Text(string field)
    {
        if (!element.TryGetProperty(field, out var v))
        {
            return null;
        }

        return v.ValueKind switch
        {
            JsonValueKind.Null or JsonValueKind.Undefined => null,
            JsonValueKind.String => v.GetString() is { } s && s.Trim().Length > 0 ? s.Trim() : null,
            JsonValueKind.True => "true",
            JsonValueKind.False => "false",
            JsonValueKind.Number => v.GetRawText(),
            _ => throw new RowFormatException(FieldName(field), "must be a string, number or boolean"),
        };
    }

    public override IReadOnlyList<string>? List(string field)
    {
        if (!element.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return null;
        }

        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.String))
        {
            throw new RowFormatException(FieldName(field), "must be an array of strings");
        }

        return v.EnumerateArray().Select(e => e.GetString()!.Trim()).ToList();
    }

    /// <summary>Nested objects of an array field (a product's prices, a price's tiers).</summary>
    public IReadOnlyList<JsonRow> Children(string field)
    {
        if (!element.TryGetProperty(field, out var v) || v.ValueKind == JsonValueKind.Null)
        {
            return [];
        }

        if (v.ValueKind != JsonValueKind.Array || v.EnumerateArray().Any(e => e.ValueKind != JsonValueKind.Object))
        {
            throw new RowFormatException(FieldName(field), "must be an array of objects");
        }

        return v.EnumerateArray().Select((e, i) => new JsonRow(File, Number, e, $"{FieldName(field)}[{i + 1}].")).ToList();
    }
}

/// <summary>A field of the wrong JSON shape; caught per row and reported.</summary>
internal sealed class RowFormatException(string field, string reason) : Exception(reason)
{
    public string Field { get; } = field;
}

/// <summary>Reads CSV (RFC 4180: comma separated, double-quoted fields may hold commas, quotes as <c>""</c> and line breaks) and JSON arrays into rows.</summary>
internal static class RowFiles
{
    public static List<MasterDataRow> ReadCsv(string path, string name, List<MasterDataError> errors)
    {
        var text = File.ReadAllText(path, Encoding.UTF8);
        var records = ParseCsv(text, name, errors);
        if (records.Count == 0)
        {
            errors.Add(new MasterDataError(name, 0, null, "is empty: the first line must name the columns"));
            return [];
        }

        var header = records[0].Fields.Select(h => h.Trim()).ToList();
        var duplicate = header.GroupBy(h => h, StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null)
        {
            errors.Add(new MasterDataError(name, 1, duplicate.Key, "column appears twice in the header"));
            return [];
        }

        var rows = new List<MasterDataRow>();
        foreach (var (line, fields) in records.Skip(1))
        {
            if (fields.Count == 1 && fields[0].Trim().Length == 0)
            {
                continue;
            }

            if (fields.Count != header.Count)
            {
                errors.Add(new MasterDataError(name, line, null, $"has {fields.Count} columns, the header has {header.Count}"));
                continue;
            }

            rows.Add(new CsvRow(name, line, header.Zip(fields).ToDictionary(p => p.First, p => p.Second, StringComparer.Ordinal)));
        }

        return rows;
    }

    public static List<JsonRow> ReadJson(string path, string name, List<MasterDataError> errors)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllBytes(path), new JsonDocumentOptions { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true });
        }
        catch (JsonException ex)
        {
            errors.Add(new MasterDataError(name, 0, null, $"is not valid JSON (line {ex.LineNumber + 1}, byte {ex.BytePositionInLine + 1})"));
            return [];
        }

        if (document.RootElement.ValueKind != JsonValueKind.Array)
        {
            errors.Add(new MasterDataError(name, 0, null, "must hold a JSON array of objects"));
            return [];
        }

        var rows = new List<JsonRow>();
        var i = 0;
        foreach (var element in document.RootElement.EnumerateArray())
        {
            i++;
            if (element.ValueKind != JsonValueKind.Object)
            {
                errors.Add(new MasterDataError(name, i, null, "must be a JSON object"));
                continue;
            }

            rows.Add(new JsonRow(name, i, element));
        }

        return rows;
    }

    private static List<(int Line, List<string> Fields)> ParseCsv(string text, string name, List<MasterDataError> errors)
    {
        var records = new List<(int, List<string>)>();
        var fields = new List<string>();
        var field = new StringBuilder();
        var line = 1;
        var recordLine = 1;
        var quoted = false;
        var i = 0;
        if (text.Length > 0 && text[0] == '\uFEFF')
        {
            i = 1;
        }

        for (; i < text.Length; i++)
        {
            var c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"')
                {
                    field.Append('"');
                    i++;
                }
                else if (c == '"')
                {
                    quoted = false;
                }
                else
                {
                    if (c == '\n')
                    {
                        line++;
                    }

                    field.Append(c);
                }

                continue;
            }

            switch (c)
            {
                case '"' when field.ToString().Trim().Length == 0:
                    field.Clear();
                    quoted = true;
                    break;
                case ',':
                    fields.Add(field.ToString());
                    field.Clear();
                    break;
                case '\r':
                    break;
                case '\n':
                    fields.Add(field.ToString());
                    field.Clear();
                    records.Add((recordLine, fields));
                    fields = [];
                    line++;
                    recordLine = line;
                    break;
                default:
                    field.Append(c);
                    break;
            }
        }

        if (quoted)
        {
            errors.Add(new MasterDataError(name, recordLine, null, "a quoted field is never closed"));
        }

        if (field.Length > 0 || fields.Count > 0)
        {
            fields.Add(field.ToString());
            records.Add((recordLine, fields));
        }

        return records;
    }
}
