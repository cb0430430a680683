using System.CommandLine;
using System.Text.Json.Nodes;
using Streaming.Cli.Commands;

namespace Streaming.Cli.Tests;

/// <summary>
/// <c>streaming schemas check | compat | release</c>: the schema-evolution gate on the repository's real schemas and on a
/// temporary copy of them with a breaking change (the real files are never modified), plus exit codes for bad input.
/// Checking against a live registry is covered in Streaming.SchemaRegistry.Tests.
/// </summary>
public sealed class SchemasCommandTests : IDisposable
{
    private readonly DirectoryInfo _temp = Directory.CreateTempSubdirectory("schemas-gate-");

    public void Dispose() => _temp.Delete(recursive: true);

    private static string RepositorySchemas()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "schemas");
            if (File.Exists(Path.Combine(candidate, "subjects.json")) && Directory.Exists(Path.Combine(dir.FullName, "src")))
            {
                return candidate;
            }
        }

        throw new DirectoryNotFoundException("repository schemas/ not found above " + AppContext.BaseDirectory);
    }

    /// <summary>A copy of the repository's schemas/ (with its release baseline) to break.</summary>
    private string CopyOfSchemas()
    {
        var source = RepositorySchemas();
        var target = Path.Combine(_temp.FullName, "schemas");
        foreach (var file in Directory.EnumerateFiles(source, "*", SearchOption.AllDirectories))
        {
            var destination = Path.Combine(target, Path.GetRelativePath(source, file));
            Directory.CreateDirectory(Path.GetDirectoryName(destination)!);
            File.Copy(file, destination);
        }

        return target;
    }

    private static void EditSchema(string path, Action<JsonObject> edit)
    {
        var schema = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        edit(schema);
        File.WriteAllText(path, schema.ToJsonString());
    }

    private static JsonObject FieldOf(JsonObject record, string name) =>
        record["fields"]!.AsArray().Single(f => f!["name"]!.GetValue<string>() == name)!.AsObject();

    [Fact]
    public async Task The_repository_schemas_pass_the_gate()
    {
        var (exit, output, error) = await RunAsync("schemas", "check", "--schemas", RepositorySchemas());

        Assert.True(exit == 0, output + error);
        Assert.Contains("subjects compatible", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_changed_decimal_scale_in_invoice_lines_fails_the_gate_naming_subject_path_and_reason()
    {
        var schemas = CopyOfSchemas();
        EditSchema(Path.Combine(schemas, "billing", "invoice.avsc"), invoice =>
        {
            var line = FieldOf(invoice, "lines")["type"]!["items"]!.AsObject();
            FieldOf(line, "amount")["type"]!["scale"] = 2;
        });

        var (exit, output, _) = await RunAsync("schemas", "check", "--schemas", schemas);

        Assert.Equal(SchemasCommand.ExitIncompatible, exit);
        var lines = output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Contains(lines, l => l.StartsWith("billing.invoices.v1-value (billing/invoice.avsc, BACKWARD): Invoice.lines[].amount: decimal scale differs: reader decimal(18,2), writer decimal(18,4)", StringComparison.Ordinal));
        Assert.Equal("schemas check: 1 of 20 subjects incompatible, 1 incompatibilities", lines[^1]);
    }

    [Fact]
    public async Task A_new_required_field_fails_and_the_same_field_with_a_default_passes()
    {
        var schemas = CopyOfSchemas();
        var file = Path.Combine(schemas, "billing", "payment.avsc");
        var original = File.ReadAllText(file);
        EditSchema(file, payment => payment["fields"]!.AsArray().Add(new JsonObject { ["name"] = "settlementBatch", ["type"] = "string" }));

        var (failExit, failOutput, _) = await RunAsync("schemas", "check", "--schemas", schemas);

        File.WriteAllText(file, original);
        EditSchema(file, payment => payment["fields"]!.AsArray().Add(new JsonObject { ["name"] = "settlementBatch", ["type"] = "string", ["default"] = "" }));
        var (passExit, passOutput, _) = await RunAsync("schemas", "check", "--schemas", schemas);

        Assert.Equal(1, failExit);
        Assert.Contains("billing.payments.v1-value (billing/payment.avsc, BACKWARD): Payment.settlementBatch: reader field 'settlementBatch' (string) has no default", failOutput, StringComparison.Ordinal);
        Assert.True(passExit == 0, passOutput);
    }

    [Fact]
    public async Task Full_transitive_subjects_reject_a_removed_field_without_default()
    {
        var schemas = CopyOfSchemas();
        string removed = "";
        EditSchema(Path.Combine(schemas, "finance", "order.avsc"), order =>
        {
            var fields = order["fields"]!.AsArray();
            var required = fields.First(f => f!["default"] is null)!;
            removed = required["name"]!.GetValue<string>();
            fields.Remove(required);
        });

        var (exit, output, _) = await RunAsync("schemas", "check", "--schemas", schemas);

        Assert.Equal(1, exit);
        Assert.Contains($"finance.orders.v1-value (finance/order.avsc, FULL_TRANSITIVE): ", output, StringComparison.Ordinal);
        Assert.Contains($".{removed}: reader field '{removed}'", output, StringComparison.Ordinal);
        Assert.Contains("FORWARD: released v1 cannot read data written with the new schema", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Release_appends_a_changed_schema_as_the_next_version_and_check_then_compares_with_it()
    {
        var schemas = CopyOfSchemas();
        EditSchema(Path.Combine(schemas, "billing", "payment.avsc"), payment =>
            payment["fields"]!.AsArray().Add(new JsonObject { ["name"] = "memo", ["type"] = new JsonArray("null", "string"), ["default"] = null }));

        var (exit, output, _) = await RunAsync("schemas", "release", "--schemas", schemas);
        var (again, againOutput, _) = await RunAsync("schemas", "release", "--schemas", schemas);

        Assert.Equal(0, exit);
        Assert.Contains("released billing.payments.v1-value v2", output, StringComparison.Ordinal);
        Assert.True(File.Exists(Path.Combine(schemas, "releases", "billing.payments.v1-value", "v2.json")));
        Assert.Equal(0, again);
        Assert.Contains("baseline already current", againOutput, StringComparison.Ordinal);

        // Removing the released field now breaks nothing backward (BACKWARD ignores extra writer fields) ...
        EditSchema(Path.Combine(schemas, "billing", "payment.avsc"), payment =>
            payment["fields"]!.AsArray().Remove(FieldOf(payment, "memo")));
        Assert.Equal(0, (await RunAsync("schemas", "check", "--schemas", schemas)).Exit);
    }

    [Fact]
    public async Task Release_refuses_an_incompatible_schema_and_writes_nothing()
    {
        var schemas = CopyOfSchemas();
        EditSchema(Path.Combine(schemas, "billing", "payment.avsc"), payment =>
            payment["fields"]!.AsArray().Add(new JsonObject { ["name"] = "x", ["type"] = "long" }));

        var (exit, _, error) = await RunAsync("schemas", "release", "--schemas", schemas);

        Assert.Equal(1, exit);
        Assert.Contains("Payment.x", error, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(schemas, "releases", "billing.payments.v1-value", "v2.json")));
    }

    [Fact]
    public async Task Compat_exits_0_when_compatible_and_1_with_reasons_when_not()
    {
        var v1 = Write("v1.avsc", """{"type":"record","name":"Invoice","fields":[{"name":"id","type":"string"}]}""");
        var v2 = Write("v2.avsc", """{"type":"record","name":"Invoice","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"],"default":null}]}""");
        var v3 = Write("v3.avsc", """{"type":"record","name":"Invoice","fields":[{"name":"id","type":"string"},{"name":"note","type":["null","string"]}]}""");

        var ok = await RunAsync("schemas", "compat", "--level", "FULL", "--old", v1, "--new", v2);
        var backward = await RunAsync("schemas", "compat", "--level", "BACKWARD", "--old", v1, "--old", v2, "--new", v3);
        var transitive = await RunAsync("schemas", "compat", "--level", "BACKWARD_TRANSITIVE", "--old", v1, "--old", v2, "--new", v3);

        Assert.Equal(0, ok.Exit);
        Assert.Equal(0, backward.Exit);
        Assert.Equal(1, transitive.Exit);
        Assert.StartsWith("Invoice.note: reader field 'note' ([null, string]) has no default and the writer record 'Invoice' has no such field (BACKWARD: the new schema cannot read data written with 'v1.avsc')", transitive.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compat_exits_2_on_an_invalid_schema_or_an_unknown_level()
    {
        var good = Write("good.avsc", """{"type":"record","name":"A","fields":[{"name":"id","type":"string"}]}""");
        var bad = Write("bad.avsc", """{"type":"record","name":"A","fields":[{"name":"id","type":"strang"}]}""");
        var notJson = Write("notjson.avsc", """{"type":"record",""");

        var invalid = await RunAsync("schemas", "compat", "--level", "BACKWARD", "--old", good, "--new", bad);
        var malformed = await RunAsync("schemas", "compat", "--level", "BACKWARD", "--old", notJson, "--new", good);
        var level = await RunAsync("schemas", "compat", "--level", "SIDEWAYS", "--old", good, "--new", good);
        var missing = await RunAsync("schemas", "compat", "--level", "BACKWARD", "--old", Path.Combine(_temp.FullName, "nope.avsc"), "--new", good);

        Assert.Equal((2, 2, 2, 2), (invalid.Exit, malformed.Exit, level.Exit, missing.Exit));
        Assert.Contains("bad.avsc", invalid.Error, StringComparison.Ordinal);
        Assert.Contains("strang", invalid.Error, StringComparison.Ordinal);
        Assert.Contains("notjson.avsc", malformed.Error, StringComparison.Ordinal);
        Assert.Contains("SIDEWAYS", level.Error, StringComparison.Ordinal);
        Assert.Contains("nope.avsc", missing.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_exits_2_when_a_schema_in_the_directory_is_not_valid_avro()
    {
        var schemas = CopyOfSchemas();
        File.WriteAllText(Path.Combine(schemas, "billing", "payment.avsc"), """{"type":"record","name":"Payment","fields":[{"name":"x","type":"nope"}]}""");

        var (exit, _, error) = await RunAsync("schemas", "check", "--schemas", schemas);

        Assert.Equal(2, exit);
        Assert.Contains("payment.avsc", error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Check_against_a_live_registry_uses_its_versions_after_register()
    {
        await using var registry = await Streaming.SchemaRegistry.EmbeddedSchemaRegistry.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        var schemas = CopyOfSchemas();
        Directory.Delete(Path.Combine(schemas, "releases"), recursive: true); // only the registry's versions count here

        var register = await RunAsync("schemas", "register", "--schemas", schemas, "--registry", registry.Url);
        var unchanged = await RunAsync("schemas", "check", "--schemas", schemas, "--registry", registry.Url);
        EditSchema(Path.Combine(schemas, "billing", "invoice.avsc"), invoice =>
            FieldOf(invoice, "tax")["type"]!["scale"] = 6);
        var broken = await RunAsync("schemas", "check", "--schemas", schemas, "--registry", registry.Url);
        var baselineOnly = await RunAsync("schemas", "check", "--schemas", schemas);
        var refused = await RunAsync("schemas", "register", "--schemas", schemas, "--registry", registry.Url);

        Assert.True(register.Exit == 0, register.Output + register.Error);
        Assert.Contains("schemas register: 20 subjects registered", register.Output, StringComparison.Ordinal);
        Assert.True(unchanged.Exit == 0, unchanged.Output + unchanged.Error);
        Assert.Equal(1, broken.Exit);
        Assert.Contains("billing.invoices.v1-value (billing/invoice.avsc, BACKWARD): Invoice.tax: decimal scale differs: reader decimal(18,6), writer decimal(18,4)", broken.Output, StringComparison.Ordinal);
        Assert.Contains("registry version 1", broken.Output, StringComparison.Ordinal);
        Assert.Equal(0, baselineOnly.Exit); // no releases folder: every subject is new to the baseline
        Assert.Contains("(20 without released versions)", baselineOnly.Output, StringComparison.Ordinal);
        Assert.Equal(1, refused.Exit);
        Assert.Contains("409", refused.Error, StringComparison.Ordinal);
        Assert.Contains("Invoice.tax", refused.Error, StringComparison.Ordinal);
    }

    private string Write(string name, string text)
    {
        var path = Path.Combine(_temp.FullName, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static async Task<(int Exit, string Output, string Error)> RunAsync(params string[] args)
    {
        var root = new RootCommand { SchemasCommand.Create() };
        using var output = new StringWriter();
        using var error = new StringWriter();
        var exit = await root.Parse(args).InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, TestContext.Current.CancellationToken);
        return (exit, output.ToString(), error.ToString());
    }
}
