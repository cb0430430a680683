using Streaming.SchemaRegistry.Evolution;

namespace Streaming.SchemaRegistry.Tests.Evolution;

/// <summary>
/// Field defaults must be valid values of the field's type (a union's: of its first branch), as the Avro specification
/// requires; a schema with a bad default is not a valid schema (the registry answers 42201, the gate exits 2).
/// </summary>
public sealed class DefaultValueTests
{
    private static string Field(string type, string defaultJson) =>
        $$"""{"type":"record","name":"R","fields":[{"name":"f","type":{{type}},"default":{{defaultJson}}}]}""";

    [Theory]
    [InlineData("\"int\"", "\"abc\"")]
    [InlineData("\"int\"", "3000000000")]
    [InlineData("\"long\"", "1.5")]
    [InlineData("\"string\"", "null")]
    [InlineData("""["null","string"]""", "\"x\"")]
    [InlineData("""{"type":"enum","name":"E","symbols":["A","B"]}""", "\"C\"")]
    [InlineData("""{"type":"fixed","name":"F","size":2}""", "\"abc\"")]
    [InlineData("""{"type":"array","items":"int"}""", "[1,\"two\"]")]
    [InlineData("""{"type":"map","values":"long"}""", "{\"a\":\"b\"}")]
    [InlineData("""{"type":"record","name":"Inner","fields":[{"name":"x","type":"int"}]}""", "{}")]
    [InlineData("\"boolean\"", "0")]
    public void An_invalid_default_makes_the_schema_invalid_naming_the_field(string type, string defaultJson)
    {
        var error = Assert.Throws<InvalidSchemaException>(() => AvroSchemaDocument.Parse(Field(type, defaultJson)));

        Assert.Contains("R.f: default", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("\"int\"", "-5")]
    [InlineData("\"double\"", "1")]
    [InlineData("""["null","string"]""", "null")]
    [InlineData("""["string","null"]""", "\"x\"")]
    [InlineData("""{"type":"enum","name":"E","symbols":["A","B"]}""", "\"B\"")]
    [InlineData("""{"type":"fixed","name":"F","size":2}""", "\"\\u0000\\u00ff\"")]
    [InlineData("""{"type":"bytes","logicalType":"decimal","precision":18,"scale":4}""", "\"\\u0000\"")]
    [InlineData("""{"type":"array","items":"int"}""", "[]")]
    [InlineData("""{"type":"record","name":"Inner","fields":[{"name":"x","type":"int"},{"name":"y","type":"int","default":0}]}""", "{\"x\":1}")]
    public void A_valid_default_is_accepted(string type, string defaultJson) =>
        Assert.NotNull(AvroSchemaDocument.Parse(Field(type, defaultJson)));
}
