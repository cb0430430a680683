using Streaming.SchemaRegistry.Evolution;

namespace Streaming.SchemaRegistry;

/// <summary>Parses Avro schema text and produces the canonical form the registry uses for identity.</summary>
public static class AvroSchemaCanonicalizer
{
    /// <summary>
    /// Parses <paramref name="schemaText"/> with Apache.Avro and returns its re-serialised JSON. Unlike the Avro
    /// "parsing canonical form" this keeps logical types, docs and defaults, so <c>bytes</c> and
    /// <c>bytes/decimal(18,4)</c> stay different schemas (as in Confluent, which compares the parsed schema's JSON),
    /// while whitespace and attribute order do not matter.
    /// </summary>
    /// <exception cref="SchemaRegistryError">42201 with the parser's message when the text is not a valid Avro schema.</exception>
    public static string Canonicalize(string schemaText) => Parse(schemaText, []).CanonicalJson;

    /// <summary>Parses <paramref name="schemaText"/> with the texts of its references; 42201 when it is not valid Avro.</summary>
    public static AvroSchemaDocument Parse(string schemaText, IReadOnlyList<string> references)
    {
        try
        {
            return AvroSchemaDocument.Parse(schemaText, references);
        }
        catch (InvalidSchemaException ex)
        {
            throw SchemaRegistryError.InvalidSchema(ex.Message);
        }
    }
}
