using System.Text.Json;
using System.Text.RegularExpressions;

namespace Streaming.Contracts.Tests;

/// <summary>
/// House rules for every .avsc file in schemas/: parses, documented, no floating point, money as decimal(18,4),
/// times as timestamp-millis, optional fields as ["null", T] with default null. Compatibility between versions is
/// the registry's job and is not covered here.
/// </summary>
public sealed partial class SchemaRulesTests
{
    public static TheoryData<string> SchemaFiles()
    {
        var data = new TheoryData<string>();
        foreach (var file in Repo.SchemaFiles)
        {
            data.Add(Repo.Relative(file));
        }

        return data;
    }

    [Fact]
    public void There_is_a_schema_for_every_required_record()
    {
        var names = Repo.SchemaFiles
            .Select(f => Avro.Schema.Parse(File.ReadAllText(f)))
            .Select(s => ((Avro.NamedSchema)s).Fullname)
            .ToHashSet(StringComparer.Ordinal);

        string[] required =
        [
            "Streaming.Contracts.Crm.CrmAccount", "Streaming.Contracts.Crm.CrmOpportunity",
            "Streaming.Contracts.Billing.BillingCustomer", "Streaming.Contracts.Billing.Subscription", "Streaming.Contracts.Billing.Invoice",
            "Streaming.Contracts.Billing.Payment", "Streaming.Contracts.Billing.CreditNote", "Streaming.Contracts.Billing.UsageEvent",
            "Streaming.Contracts.MasterData.LegalEntity", "Streaming.Contracts.MasterData.Product", "Streaming.Contracts.MasterData.TaxRule",
            "Streaming.Contracts.MasterData.GlMapping", "Streaming.Contracts.MasterData.AccountLink",
            "Streaming.Contracts.Finance.FinanceOrder", "Streaming.Contracts.Finance.FinanceEvent",
            "Streaming.Contracts.Erp.ErpPostingResult",
            "Streaming.Contracts.Ops.QuarantineRecord", "Streaming.Contracts.Ops.DeadLetterRecord", "Streaming.Contracts.Ops.ConnectorCheckpoint",
        ];
        var missing = required.Where(r => !names.Contains(r)).ToList();
        Assert.True(missing.Count == 0, "missing schemas: " + string.Join(", ", missing));
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Schema_parses_as_one_record_in_a_contracts_namespace(string file)
    {
        var schema = Avro.Schema.Parse(File.ReadAllText(Path.Combine(Repo.Root, file)));

        var record = Assert.IsType<Avro.RecordSchema>(schema);
        Assert.StartsWith("Streaming.Contracts.", record.Namespace, StringComparison.Ordinal);
        Assert.Equal(file.Split('/')[1], record.Namespace.Split('.')[2].ToLowerInvariant());
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Every_record_enum_and_field_has_a_doc(string file)
    {
        var missing = Walk(file).Where(n => n.Kind is "field" or "record" or "enum")
            .Where(n => !n.Json.TryGetProperty("doc", out var doc) || string.IsNullOrWhiteSpace(doc.GetString()))
            .Select(n => n.Path)
            .ToList();

        Assert.True(missing.Count == 0, $"{file}: missing doc on {string.Join(", ", missing)}");
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void No_field_uses_float_or_double(string file)
    {
        var text = File.ReadAllText(Path.Combine(Repo.Root, file));

        Assert.DoesNotMatch(FloatingType(), text);
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Money_fields_are_decimal_18_4_bytes(string file)
    {
        var offenders = new List<string>();
        foreach (var field in Walk(file).Where(n => n.Kind == "field" && MoneyName().IsMatch(n.Name)))
        {
            var type = NonNull(field.Json.GetProperty("type"));
            if (!(type.ValueKind == JsonValueKind.Object
                  && Str(type, "type") == "bytes"
                  && Str(type, "logicalType") == "decimal"
                  && type.GetProperty("precision").GetInt32() == 18
                  && type.GetProperty("scale").GetInt32() == 4))
            {
                offenders.Add(field.Path);
            }
        }

        Assert.True(offenders.Count == 0, $"{file}: money fields not decimal(18,4): {string.Join(", ", offenders)}");
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Every_decimal_is_bytes_with_precision_and_scale(string file)
    {
        foreach (var node in Walk(file).Where(n => n.Kind == "type" && Str(n.Json, "logicalType") == "decimal"))
        {
            Assert.Equal("bytes", Str(node.Json, "type"));
            Assert.InRange(node.Json.GetProperty("precision").GetInt32(), 1, 28);
            Assert.InRange(node.Json.GetProperty("scale").GetInt32(), 0, node.Json.GetProperty("precision").GetInt32());
        }
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Time_fields_are_timestamp_millis_and_date_fields_are_dates(string file)
    {
        var offenders = new List<string>();
        foreach (var field in Walk(file).Where(n => n.Kind == "field"))
        {
            var type = NonNull(field.Json.GetProperty("type"));
            var logical = type.ValueKind == JsonValueKind.Object ? Str(type, "logicalType") : null;
            if (TimeName().IsMatch(field.Name) && logical != "timestamp-millis")
            {
                offenders.Add($"{field.Path} should be long/timestamp-millis");
            }

            if (field.Name.EndsWith("Date", StringComparison.Ordinal) && logical is not ("date" or "timestamp-millis"))
            {
                offenders.Add($"{field.Path} should be int/date or timestamp-millis");
            }

            if (logical == "timestamp-millis" && Str(type, "type") != "long")
            {
                offenders.Add($"{field.Path} timestamp-millis must be on long");
            }
        }

        Assert.True(offenders.Count == 0, $"{file}: {string.Join("; ", offenders)}");
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Optional_fields_are_null_first_unions_with_default_null(string file)
    {
        var offenders = new List<string>();
        foreach (var field in Walk(file).Where(n => n.Kind == "field"))
        {
            var type = field.Json.GetProperty("type");
            if (type.ValueKind != JsonValueKind.Array)
            {
                continue;
            }

            var branches = type.EnumerateArray().ToList();
            var ok = branches.Count == 2
                     && branches[0].ValueKind == JsonValueKind.String && branches[0].GetString() == "null"
                     && field.Json.TryGetProperty("default", out var def) && def.ValueKind == JsonValueKind.Null;
            if (!ok)
            {
                offenders.Add(field.Path);
            }
        }

        Assert.True(offenders.Count == 0, $"{file}: optional fields must be [\"null\", T] with \"default\": null: {string.Join(", ", offenders)}");
    }

    private static JsonElement NonNull(JsonElement type) =>
        type.ValueKind == JsonValueKind.Array
            ? type.EnumerateArray().First(b => !(b.ValueKind == JsonValueKind.String && b.GetString() == "null"))
            : type;

    private static string? Str(JsonElement obj, string name) =>
        obj.ValueKind == JsonValueKind.Object && obj.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String
            ? v.GetString()
            : null;

    private sealed record Node(string Kind, string Name, string Path, JsonElement Json);

    private static List<Node> Walk(string file)
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.Root, file)));
        var nodes = new List<Node>();
        Visit(doc.RootElement.Clone(), "");
        return nodes;

        void Visit(JsonElement type, string path)
        {
            switch (type.ValueKind)
            {
                case JsonValueKind.Array:
                    foreach (var branch in type.EnumerateArray())
                    {
                        Visit(branch, path);
                    }

                    break;
                case JsonValueKind.Object:
                    var kind = Str(type, "type");
                    switch (kind)
                    {
                        case "record":
                            var name = Str(type, "name") ?? "?";
                            nodes.Add(new Node("record", name, name, type));
                            foreach (var field in type.GetProperty("fields").EnumerateArray())
                            {
                                var fieldName = Str(field, "name") ?? "?";
                                nodes.Add(new Node("field", fieldName, $"{name}.{fieldName}", field));
                                Visit(field.GetProperty("type"), $"{name}.{fieldName}");
                            }

                            break;
                        case "enum":
                            nodes.Add(new Node("enum", Str(type, "name") ?? "?", Str(type, "name") ?? "?", type));
                            break;
                        case "array":
                            Visit(type.GetProperty("items"), path + "[]");
                            break;
                        case "map":
                            Visit(type.GetProperty("values"), path + "{}");
                            break;
                        default:
                            nodes.Add(new Node("type", kind ?? "?", path, type));
                            break;
                    }

                    break;
            }
        }
    }

    [GeneratedRegex(@"""(float|double)""")]
    private static partial Regex FloatingType();

    // amount, total, subtotal, tax, unitPrice, fee, totalDebits ... but not ids (priceId), collections (taxLines) or GL accounts.
    [GeneratedRegex(@"^(?!.*(Id|Ids|Lines|Account|Jurisdiction|Jurisdictions|prices)$)(.*([Aa]mount|[Tt]otal|[Pp]rice|[Ff]ee|[Dd]ebits|[Cc]redits).*|tax|subtotal)$")]
    private static partial Regex MoneyName();

    [GeneratedRegex(@"(At|Timestamp|PeriodStart|PeriodEnd)$|^effectiveDate$")]
    private static partial Regex TimeName();
}
