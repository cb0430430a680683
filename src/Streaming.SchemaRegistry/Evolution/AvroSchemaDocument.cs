using System.Text.Json;
using System.Text.Json.Nodes;
using Avro;

namespace Streaming.SchemaRegistry.Evolution;

/// <summary>An Avro schema parsed with Apache.Avro, plus the aliases of its named types (which Apache.Avro does not expose).</summary>
public sealed class AvroSchemaDocument
{
    private readonly Dictionary<string, IReadOnlyList<string>> _aliases;

    private AvroSchemaDocument(Schema schema, Dictionary<string, IReadOnlyList<string>> aliases)
    {
        Schema = schema;
        _aliases = aliases;
    }

    /// <summary>The parsed schema.</summary>
    public Schema Schema { get; }

    /// <summary>The schema's JSON as Apache.Avro writes it (referenced types inlined); whitespace and attribute order do not matter.</summary>
    public string CanonicalJson => Schema.ToString();

    /// <summary>Full names declared as aliases of the named type <paramref name="fullName"/>; empty when none.</summary>
    public IReadOnlyList<string> AliasesOf(string fullName) => _aliases.TryGetValue(fullName, out var a) ? a : [];

    /// <summary>
    /// Parses <paramref name="schemaText"/>. <paramref name="references"/> are the texts of schemas it refers to by name
    /// (Confluent schema references), dependencies first; their named types become visible to the main schema.
    /// </summary>
    /// <exception cref="InvalidSchemaException">The text (or a reference) is not a valid Avro schema; the message says why.</exception>
    public static AvroSchemaDocument Parse(string schemaText, IReadOnlyList<string>? references = null)
    {
        if (string.IsNullOrWhiteSpace(schemaText))
        {
            throw new InvalidSchemaException("schema text is empty");
        }

        var names = new SchemaNames();
        var index = 0;
        foreach (var reference in references ?? [])
        {
            try
            {
                _ = Schema.Parse(reference, names, null);
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                throw new InvalidSchemaException($"reference {index}: {ex.GetType().Name}: {ex.Message}");
            }

            index++;
        }

        Schema schema;
        try
        {
            schema = references is { Count: > 0 } ? Schema.Parse(schemaText, names, null) : Schema.Parse(schemaText);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            throw new InvalidSchemaException($"{ex.GetType().Name}: {ex.Message}");
        }

        if (DefaultValueValidator.FindInvalid(schema) is { } invalidDefault)
        {
            throw new InvalidSchemaException($"invalid default: {invalidDefault}");
        }

        var aliases = new Dictionary<string, IReadOnlyList<string>>(StringComparer.Ordinal);
        try
        {
            CollectAliases(JsonNode.Parse(schema.ToString()), null, aliases);
        }
        catch (JsonException ex)
        {
            throw new InvalidSchemaException($"schema JSON could not be re-read: {ex.Message}");
        }

        return new AvroSchemaDocument(schema, aliases);
    }

    private static void CollectAliases(JsonNode? node, string? enclosingNamespace, Dictionary<string, IReadOnlyList<string>> aliases)
    {
        switch (node)
        {
            case JsonArray union:
                foreach (var branch in union)
                {
                    CollectAliases(branch, enclosingNamespace, aliases);
                }

                break;
            case JsonObject obj:
                var type = obj["type"];
                if (type is JsonValue typeValue && typeValue.TryGetValue<string>(out var typeName))
                {
                    switch (typeName)
                    {
                        case "record" or "error" or "enum" or "fixed":
                            var name = obj["name"]?.GetValue<string>() ?? string.Empty;
                            var ns = name.Contains('.', StringComparison.Ordinal)
                                ? name[..name.LastIndexOf('.')]
                                : obj["namespace"]?.GetValue<string>() ?? enclosingNamespace;
                            var fullName = name.Contains('.', StringComparison.Ordinal) || string.IsNullOrEmpty(ns) ? name : ns + "." + name;
                            if (obj["aliases"] is JsonArray list)
                            {
                                aliases[fullName] = [.. list.Select(a => a!.GetValue<string>())
                                    .Select(a => a.Contains('.', StringComparison.Ordinal) || string.IsNullOrEmpty(ns) ? a : ns + "." + a)];
                            }

                            if (obj["fields"] is JsonArray fields)
                            {
                                foreach (var field in fields)
                                {
                                    CollectAliases(field?["type"], ns, aliases);
                                }
                            }

                            break;
                        case "array":
                            CollectAliases(obj["items"], enclosingNamespace, aliases);
                            break;
                        case "map":
                            CollectAliases(obj["values"], enclosingNamespace, aliases);
                            break;
                    }
                }
                else
                {
                    CollectAliases(type, enclosingNamespace, aliases);
                }

                break;
        }
    }
}

/// <summary>The input is not a valid Avro schema; <see cref="Exception.Message"/> says why.</summary>
public sealed class InvalidSchemaException(string message) : Exception(message);
