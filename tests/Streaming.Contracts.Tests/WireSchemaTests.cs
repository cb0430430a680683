using System.Reflection;
using Avro;
using Avro.IO;
using Avro.Specific;
using Streaming.Codegen;

namespace Streaming.Contracts.Tests;

/// <summary>
/// Each top-level generated class carries exactly the schema of its .avsc file. The files use the C# namespaces because
/// Apache.Avro's specific reader resolves classes by Avro full name: the registered schema, the wire schema and the
/// class's schema must be one text.
/// </summary>
public sealed class WireSchemaTests
{
    public static TheoryData<string> SchemaFiles() => SchemaRulesTests.SchemaFiles();

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Generated_class_carries_the_wire_schema_of_its_file(string file)
    {
        var wire = (RecordSchema)ContractGenerator.ToWireSchema(File.ReadAllText(Path.Combine(Repo.Root, file)), file);

        var type = typeof(Money).Assembly.GetType(wire.Fullname);
        Assert.True(type is not null, $"{file}: no generated class {wire.Fullname}");
        var embedded = (Schema)type.GetField("_SCHEMA", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;

        Assert.Equal(wire.ToString(), embedded.ToString());
    }

    [Fact]
    public void Wire_schema_names_use_the_contract_namespaces()
    {
        var wire = (RecordSchema)ContractGenerator.ToWireSchema(File.ReadAllText(Path.Combine(Repo.SchemasDir, "finance/event.avsc")));

        Assert.Equal("Streaming.Contracts.Finance.FinanceEvent", wire.Fullname);
        Assert.Equal("Streaming.Contracts.Finance.SourceRef", ((RecordSchema)wire["source"].Schema).Fullname);
    }

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Schema_file_is_exactly_the_schema_the_class_writes(string file)
    {
        // What is registered from schemas/ must be what serializers put on the wire, or readers could not resolve it.
        var fromFile = (RecordSchema)Schema.Parse(File.ReadAllText(Path.Combine(Repo.Root, file)));
        var type = typeof(Money).Assembly.GetType(fromFile.Fullname);
        Assert.True(type is not null, $"{file}: no generated class {fromFile.Fullname}; .avsc namespaces must be the C# ones");
        var embedded = (Schema)type.GetField("_SCHEMA", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;
        Assert.Equal(fromFile.ToString(), embedded.ToString());
    }
}
