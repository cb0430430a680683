using Streaming.SchemaRegistry.Evolution;

namespace Streaming.SchemaRegistry.Tests.Evolution;

/// <summary>
/// Reader/writer conformance cases for <see cref="AvroResolution"/>, derived from the Avro specification's "Schema
/// Resolution" rules (promotions, records, enums, fixed, arrays, maps, unions, aliases) and from Confluent's documented
/// semantics; logical types follow this project's stricter rule (decimal precision/scale must match). Each case names
/// the writer, the reader, whether the reader can read the writer's data and, when not, the path the message must name.
/// Level semantics (BACKWARD/FORWARD/FULL, transitive) are covered by <see cref="CompatibilityLevelTests"/>.
/// </summary>
public sealed class AvroResolutionConformanceTests
{
    private static string Field(string name, string type, string? defaultJson = null, string? aliases = null) =>
        $$"""{"name":"{{name}}","type":{{type}}{{(defaultJson is null ? "" : ",\"default\":" + defaultJson)}}{{(aliases is null ? "" : ",\"aliases\":" + aliases)}}}""";

    private static string Rec(string name, params string[] fields) =>
        $$"""{"type":"record","name":"{{name}}","namespace":"t","fields":[{{string.Join(",", fields)}}]}""";

    private static string R(params string[] fields) => Rec("R", fields);

    private static string F(string type) => R(Field("f", type));

    private const string Dec18x4 = """{"type":"bytes","logicalType":"decimal","precision":18,"scale":4}""";
    private const string Dec18x2 = """{"type":"bytes","logicalType":"decimal","precision":18,"scale":2}""";
    private const string Dec20x4 = """{"type":"bytes","logicalType":"decimal","precision":20,"scale":4}""";
    private const string TsMillis = """{"type":"long","logicalType":"timestamp-millis"}""";
    private const string TsMicros = """{"type":"long","logicalType":"timestamp-micros"}""";
    private const string Color3 = """{"type":"enum","name":"Color","symbols":["RED","GREEN","BLUE"]}""";
    private const string Color2 = """{"type":"enum","name":"Color","symbols":["RED","GREEN"]}""";

    private static string Node(params string[] extra) =>
        Rec("Node", [Field("value", "\"long\""), Field("next", """["null","Node"]""", "null"), .. extra]);

    private static string InvoiceWithLine(string amountType, params string[] extraLineFields) =>
        Rec("Invoice", Field("id", "\"string\""),
            Field("lines", $$"""{"type":"array","items":{{Rec("InvoiceLine", [Field("amount", amountType), .. extraLineFields])}}}"""));

    /// <summary>(case, writer, reader, reader can read writer's data, path the first message must name).</summary>
    public static TheoryData<string, string, string, bool, string?> Cases => new()
    {
        // Primitives and the specification's promotions: int→long→float→double, string↔bytes.
        { "int read as int", F("\"int\""), F("\"int\""), true, null },
        { "int promoted to long", F("\"int\""), F("\"long\""), true, null },
        { "int promoted to float", F("\"int\""), F("\"float\""), true, null },
        { "int promoted to double", F("\"int\""), F("\"double\""), true, null },
        { "long promoted to float", F("\"long\""), F("\"float\""), true, null },
        { "long promoted to double", F("\"long\""), F("\"double\""), true, null },
        { "float promoted to double", F("\"float\""), F("\"double\""), true, null },
        { "string read as bytes", F("\"string\""), F("\"bytes\""), true, null },
        { "bytes read as string", F("\"bytes\""), F("\"string\""), true, null },
        { "null read as null", F("\"null\""), F("\"null\""), true, null },
        { "long narrowed to int", F("\"long\""), F("\"int\""), false, "R.f" },
        { "double narrowed to float", F("\"double\""), F("\"float\""), false, "R.f" },
        { "float read as long", F("\"float\""), F("\"long\""), false, "R.f" },
        { "double read as long", F("\"double\""), F("\"long\""), false, "R.f" },
        { "string read as int", F("\"string\""), F("\"int\""), false, "R.f" },
        { "boolean read as int", F("\"boolean\""), F("\"int\""), false, "R.f" },
        { "int read as string", F("\"int\""), F("\"string\""), false, "R.f" },
        { "top-level long read as int", "\"long\"", "\"int\"", false, "int" },

        // Records: fields matched by name (or reader alias); missing reader fields need a default; extra writer fields are skipped.
        { "reader adds a field with a default", R(Field("a", "\"string\"")), R(Field("a", "\"string\""), Field("b", "\"int\"", "0")), true, null },
        { "reader adds a field without a default", R(Field("a", "\"string\"")), R(Field("a", "\"string\""), Field("b", "\"int\"")), false, "R.b" },
        { "reader adds a nullable field defaulting to null", R(Field("a", "\"string\"")), R(Field("a", "\"string\""), Field("b", """["null","string"]""", "null")), true, null },
        { "reader drops a writer field", R(Field("a", "\"string\""), Field("b", "\"int\"")), R(Field("a", "\"string\"")), true, null },
        { "fields reordered", R(Field("a", "\"string\""), Field("b", "\"int\"")), R(Field("b", "\"int\""), Field("a", "\"string\"")), true, null },
        { "field renamed with a reader alias", R(Field("old", "\"string\"")), R(Field("renamed", "\"string\"", aliases: """["old"]""")), true, null },
        { "field renamed without an alias", R(Field("old", "\"string\"")), R(Field("renamed", "\"string\"")), false, "R.renamed" },
        { "record renamed", Rec("A", Field("a", "\"int\"")), Rec("B", Field("a", "\"int\"")), false, "B" },
        { "record renamed with a reader alias", Rec("A", Field("a", "\"int\"")), """{"type":"record","name":"B","namespace":"t","aliases":["t.A"],"fields":[{"name":"a","type":"int"}]}""", true, null },
        { "record namespace changed, same name", """{"type":"record","name":"R","namespace":"x","fields":[{"name":"a","type":"int"}]}""", """{"type":"record","name":"R","namespace":"y","fields":[{"name":"a","type":"int"}]}""", true, null },
        { "nested record field narrowed", R(Field("inner", Rec("Inner", Field("x", "\"long\"")))), R(Field("inner", Rec("Inner", Field("x", "\"int\"")))), false, "R.inner.x" },
        { "nested record gains a defaulted field", R(Field("inner", Rec("Inner", Field("x", "\"long\"")))), R(Field("inner", Rec("Inner", Field("x", "\"long\""), Field("y", "\"string\"", "\"\"")))), true, null },
        { "record read as string", F(Rec("Inner", Field("x", "\"long\""))), F("\"string\""), false, "R.f" },

        // Enums: writer symbols must exist in the reader unless the reader declares an enum default.
        { "enum unchanged", F(Color3), F(Color3), true, null },
        { "reader enum adds a symbol", F(Color2), F(Color3), true, null },
        { "reader enum lacks a writer symbol", F(Color3), F(Color2), false, "R.f" },
        { "reader enum lacks a symbol but has a default", F(Color3), F("""{"type":"enum","name":"Color","symbols":["RED","GREEN"],"default":"RED"}"""), true, null },
        { "enum renamed", F(Color3), F("""{"type":"enum","name":"Colour","symbols":["RED","GREEN","BLUE"]}"""), false, "R.f" },
        { "enum renamed with a reader alias", F(Color3), F("""{"type":"enum","name":"Colour","aliases":["Color"],"symbols":["RED","GREEN","BLUE"]}"""), true, null },
        { "enum read as string", F(Color3), F("\"string\""), false, "R.f" },

        // Fixed: same name and size.
        { "fixed unchanged", F("""{"type":"fixed","name":"Id","size":16}"""), F("""{"type":"fixed","name":"Id","size":16}"""), true, null },
        { "fixed size changed", F("""{"type":"fixed","name":"Id","size":16}"""), F("""{"type":"fixed","name":"Id","size":8}"""), false, "R.f" },
        { "fixed renamed", F("""{"type":"fixed","name":"Id","size":16}"""), F("""{"type":"fixed","name":"Key","size":16}"""), false, "R.f" },

        // Arrays and maps resolve their items / values.
        { "array items promoted", F("""{"type":"array","items":"int"}"""), F("""{"type":"array","items":"long"}"""), true, null },
        { "array items narrowed", F("""{"type":"array","items":"long"}"""), F("""{"type":"array","items":"int"}"""), false, "R.f[]" },
        { "map values promoted", F("""{"type":"map","values":"int"}"""), F("""{"type":"map","values":"long"}"""), true, null },
        { "map values changed", F("""{"type":"map","values":"string"}"""), F("""{"type":"map","values":"int"}"""), false, "R.f{}" },
        { "map bytes read as string", F("""{"type":"map","values":"bytes"}"""), F("""{"type":"map","values":"string"}"""), true, null },
        { "array read as map", F("""{"type":"array","items":"int"}"""), F("""{"type":"map","values":"int"}"""), false, "R.f" },
        { "array of records gains a field without default", InvoiceWithLine(Dec18x4), InvoiceWithLine(Dec18x4, Field("sku", "\"string\"")), false, "Invoice.lines[].sku" },
        { "array of records gains a field with default", InvoiceWithLine(Dec18x4), InvoiceWithLine(Dec18x4, Field("sku", "\"string\"", "\"\"")), true, null },

        // Unions: every writer branch must be readable; a non-union writer needs one matching reader branch.
        { "union unchanged", F("""["null","string"]"""), F("""["null","string"]"""), true, null },
        { "reader union adds a branch", F("""["null","string"]"""), F("""["null","string","int"]"""), true, null },
        { "reader union drops a writer branch", F("""["null","string","int"]"""), F("""["null","string"]"""), false, "R.f" },
        { "non-union widened to a union", F("\"string\""), F("""["null","string"]"""), true, null },
        { "union narrowed to a non-union", F("""["null","string"]"""), F("\"string\""), false, "R.f" },
        { "single-branch union read as its branch", F("""["string"]"""), F("\"string\""), true, null },
        { "int promoted into a union's long branch", F("\"int\""), F("""["null","long"]"""), true, null },
        { "int into a union with no readable branch", F("\"int\""), F("""["null","string"]"""), false, "R.f" },
        { "writer union branches all promote to the reader", F("""["int","long"]"""), F("\"double\""), true, null },
        { "record inside a union gains a field without default", R(Field("u", $$"""["null",{{Rec("Inner", Field("a", "\"int\""))}}]""", "null")), R(Field("u", $$"""["null",{{Rec("Inner", Field("a", "\"int\""), Field("b", "\"int\""))}}]""", "null")), false, "R.u.b" },

        // Logical types: decimal precision and scale must match; different logical types on one value are not read alike.
        { "decimal unchanged", F(Dec18x4), F(Dec18x4), true, null },
        { "decimal scale changed", F(Dec18x4), F(Dec18x2), false, "R.f" },
        { "decimal precision changed", F(Dec18x4), F(Dec20x4), false, "R.f" },
        { "decimal read as plain bytes", F(Dec18x4), F("\"bytes\""), false, "R.f" },
        { "decimal scale changed inside array of records", InvoiceWithLine(Dec18x4), InvoiceWithLine(Dec18x2), false, "Invoice.lines[].amount" },
        { "fixed decimal unchanged", F("""{"type":"fixed","name":"Money","size":12,"logicalType":"decimal","precision":18,"scale":4}"""), F("""{"type":"fixed","name":"Money","size":12,"logicalType":"decimal","precision":18,"scale":4}"""), true, null },
        { "timestamp-millis unchanged", F(TsMillis), F(TsMillis), true, null },
        { "timestamp-millis read as timestamp-micros", F(TsMillis), F(TsMicros), false, "R.f" },
        { "plain long read as timestamp-millis", F("\"long\""), F(TsMillis), true, null },
        { "date promoted to long", F("""{"type":"int","logicalType":"date"}"""), F("\"long\""), true, null },
        { "uuid read as string", F("""{"type":"string","logicalType":"uuid"}"""), F("\"string\""), true, null },
        { "nullable timestamp unchanged", F($$"""["null",{{TsMillis}}]"""), F($$"""["null",{{TsMillis}}]"""), true, null },

        // Recursive records.
        { "recursive record unchanged", Node(), Node(), true, null },
        { "recursive record gains a defaulted field", Node(), Node(Field("label", "\"string\"", "\"\"")), true, null },
        { "recursive record gains a field without default", Node(), Node(Field("label", "\"string\"")), false, "Node.label" },
        { "recursive record narrows a field", Node(), Rec("Node", Field("value", "\"int\""), Field("next", """["null","Node"]""", "null")), false, "Node.value" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Reader_reads_writer_data_as_the_specification_says(string name, string writer, string reader, bool compatible, string? path)
    {
        var issues = AvroResolution.Check(AvroSchemaDocument.Parse(reader), AvroSchemaDocument.Parse(writer));

        if (compatible)
        {
            Assert.True(issues.Count == 0, $"{name}: expected compatible, got: {string.Join("; ", issues)}");
        }
        else
        {
            Assert.True(issues.Count > 0, $"{name}: expected an incompatibility at {path}");
            Assert.Equal(path, issues[0].Path);
            Assert.False(string.IsNullOrWhiteSpace(issues[0].Reason));
        }
    }

    [Fact]
    public void The_case_table_has_at_least_sixty_cases_with_both_outcomes()
    {
        var rows = Cases.Select(r => r.Data).ToList();

        Assert.True(rows.Count >= 60, $"only {rows.Count} cases");
        Assert.True(rows.Count(r => r.Item4) >= 25);
        Assert.True(rows.Count(r => !r.Item4) >= 25);
    }

    [Fact]
    public void A_missing_field_message_names_the_field_its_type_and_the_writer_record()
    {
        var issue = Assert.Single(AvroResolution.Check(
            AvroSchemaDocument.Parse(InvoiceWithLine(Dec18x4, Field("sku", "\"string\""))), AvroSchemaDocument.Parse(InvoiceWithLine(Dec18x4))));

        Assert.Equal("Invoice.lines[].sku: reader field 'sku' (string) has no default and the writer record 't.InvoiceLine' has no such field", issue.ToString());
    }

    [Fact]
    public void A_decimal_scale_change_message_names_both_scales()
    {
        var issue = Assert.Single(AvroResolution.Check(AvroSchemaDocument.Parse(InvoiceWithLine(Dec18x2)), AvroSchemaDocument.Parse(InvoiceWithLine(Dec18x4))));

        Assert.Equal("Invoice.lines[].amount", issue.Path);
        Assert.Contains("reader decimal(18,2), writer decimal(18,4)", issue.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void A_dropped_enum_symbol_is_named()
    {
        var issue = Assert.Single(AvroResolution.Check(AvroSchemaDocument.Parse(F(Color2)), AvroSchemaDocument.Parse(F(Color3))));

        Assert.Contains("BLUE", issue.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Schema_references_make_named_types_of_other_schemas_visible()
    {
        const string money = """{"type":"record","name":"Money","namespace":"t","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":18,"scale":4}},{"name":"currency","type":"string"}]}""";
        const string order = """{"type":"record","name":"Order","namespace":"t","fields":[{"name":"total","type":"t.Money"}]}""";

        var parsed = AvroSchemaDocument.Parse(order, [money]);

        Assert.Contains("\"currency\"", parsed.CanonicalJson, StringComparison.Ordinal);
        Assert.Throws<InvalidSchemaException>(() => AvroSchemaDocument.Parse(order));
    }
}
