using Avro;
using Newtonsoft.Json.Linq;

namespace Streaming.SchemaRegistry.Evolution;

/// <summary>
/// Checks that every field default is a valid value of the field's type (for a union: of its first branch), as the
/// Avro specification requires and Confluent's registry enforces. Apache.Avro's parser accepts any JSON there, and a
/// bad default only fails later, when a reader needs it.
/// </summary>
internal static class DefaultValueValidator
{
    /// <summary>The first invalid default as "path: reason", or null when all are valid.</summary>
    public static string? FindInvalid(Schema root)
    {
        var visited = new HashSet<RecordSchema>(ReferenceEqualityComparer.Instance);
        return Walk(root, RootName(root), visited);
    }

    private static string RootName(Schema schema) => schema is NamedSchema named ? named.Name : schema.Tag.ToString().ToLowerInvariant();

    private static string? Walk(Schema schema, string path, HashSet<RecordSchema> visited)
    {
        switch (schema)
        {
            case RecordSchema record when visited.Add(record):
                foreach (var field in record.Fields)
                {
                    var fieldPath = path + "." + field.Name;
                    if (field.DefaultValue is { } value)
                    {
                        var target = field.Schema is UnionSchema union ? union.Schemas[0] : field.Schema;
                        if (!IsValid(target, value, 0))
                        {
                            return $"{fieldPath}: default {value.ToString(Newtonsoft.Json.Formatting.None)} is not a valid {AvroResolution.Describe(target)}"
                                + (field.Schema is UnionSchema ? " (a union field's default must match its first branch)" : "");
                        }
                    }

                    if (Walk(field.Schema, fieldPath, visited) is { } nested)
                    {
                        return nested;
                    }
                }

                return null;
            case ArraySchema array:
                return Walk(array.ItemSchema, path + "[]", visited);
            case MapSchema map:
                return Walk(map.ValueSchema, path + "{}", visited);
            case UnionSchema union:
                return union.Schemas.Select(b => Walk(b, path, visited)).FirstOrDefault(r => r is not null);
            case LogicalSchema logical:
                return Walk(logical.BaseSchema, path, visited);
            default:
                return null;
        }
    }

    private static bool IsValid(Schema schema, JToken value, int depth)
    {
        if (depth > 64)
        {
            return true; // a default nested this deep is data, not a schema mistake worth rejecting
        }

        return schema switch
        {
            LogicalSchema logical => IsValid(logical.BaseSchema, value, depth),
            UnionSchema union => union.Schemas.Count > 0 && IsValid(union.Schemas[0], value, depth + 1),
            RecordSchema record => value is JObject obj && record.Fields.All(f =>
                obj.TryGetValue(f.Name, out var v) ? IsValid(f.Schema, v, depth + 1) : f.DefaultValue is not null),
            EnumSchema e => value.Type == JTokenType.String && e.Contains(value.Value<string>()!),
            FixedSchema f => value.Type == JTokenType.String && value.Value<string>()!.Length == f.Size,
            ArraySchema a => value is JArray items && items.All(i => IsValid(a.ItemSchema, i, depth + 1)),
            MapSchema m => value is JObject map && map.Properties().All(p => IsValid(m.ValueSchema, p.Value, depth + 1)),
            _ => schema.Tag switch
            {
                Schema.Type.Null => value.Type == JTokenType.Null,
                Schema.Type.Boolean => value.Type == JTokenType.Boolean,
                // Newtonsoft keeps integers as long, or BigInteger when they do not fit one.
                Schema.Type.Int => value is JValue { Value: long i } && i is >= int.MinValue and <= int.MaxValue,
                Schema.Type.Long => value is JValue { Value: long },
                Schema.Type.Float or Schema.Type.Double => value.Type is JTokenType.Integer or JTokenType.Float,
                Schema.Type.String or Schema.Type.Bytes => value.Type == JTokenType.String,
                _ => true,
            },
        };
    }
}
