using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Streaming.SchemaRegistry.Storage;

/// <summary>A reference from one schema to another registered schema (Confluent schema references).</summary>
/// <param name="Name">The name the referring schema uses (for Avro: the referenced type's full name).</param>
/// <param name="Subject">Subject holding the referenced schema.</param>
/// <param name="Version">Version of that subject.</param>
public sealed record SchemaReferenceRecord(string Name, string Subject, int Version);

/// <summary>
/// One entry of the registry's log (the compacted <c>_schemas</c> topic), shaped like Confluent's: a JSON key naming what it
/// is about and a JSON value, or no value for a permanent delete.
/// </summary>
public abstract record RegistryRecord
{
    /// <summary>The record key as written to the topic (compaction keeps the last value per key).</summary>
    public abstract string Key { get; }

    /// <summary>The record value, or null for a tombstone.</summary>
    public abstract string? Value { get; }

    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };

    /// <summary>Parses a key/value pair read from the topic; null for keys this registry does not know (e.g. Confluent's NOOP).</summary>
    /// <exception cref="InvalidDataException">The key or value is not the JSON this registry writes.</exception>
    public static RegistryRecord? Parse(string key, string? value)
    {
        JsonObject keyJson;
        try
        {
            keyJson = JsonNode.Parse(key) as JsonObject ?? throw new InvalidDataException($"_schemas key is not a JSON object: {key}");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"_schemas key is not JSON: {key}: {ex.Message}", ex);
        }

        var keyType = keyJson["keytype"]?.GetValue<string>();
        var subject = keyJson["subject"]?.GetValue<string>();
        switch (keyType)
        {
            case "SCHEMA":
                var version = keyJson["version"]?.GetValue<int>() ?? throw new InvalidDataException($"_schemas SCHEMA key without version: {key}");
                if (value is null)
                {
                    return new SchemaTombstone(subject ?? throw new InvalidDataException($"_schemas SCHEMA key without subject: {key}"), version);
                }

                var v = JsonNode.Parse(value)!.AsObject();
                return new SchemaRecord(
                    v["subject"]!.GetValue<string>(),
                    v["version"]!.GetValue<int>(),
                    v["id"]!.GetValue<int>(),
                    v["schema"]!.GetValue<string>(),
                    v["schemaType"]?.GetValue<string>() ?? "AVRO",
                    [.. (v["references"] as JsonArray ?? []).Select(r => new SchemaReferenceRecord(r!["name"]!.GetValue<string>(), r["subject"]!.GetValue<string>(), r["version"]!.GetValue<int>()))],
                    v["deleted"]?.GetValue<bool>() ?? false);
            case "CONFIG":
                var level = value is null ? null : JsonNode.Parse(value)?["compatibilityLevel"]?.GetValue<string>();
                return new ConfigRecord(subject, level);
            default:
                return null;
        }
    }

    private protected static string Json(JsonObject node) => node.ToJsonString(Compact);

    /// <summary>UTF-8 bytes of <paramref name="text"/>, or null.</summary>
    public static byte[]? Bytes(string? text) => text is null ? null : Encoding.UTF8.GetBytes(text);
}

/// <summary>A version of a subject (also used to soft-delete it: the same record with <paramref name="Deleted"/> set).</summary>
public sealed record SchemaRecord(string Subject, int Version, int Id, string Schema, string SchemaType, IReadOnlyList<SchemaReferenceRecord> References, bool Deleted)
    : RegistryRecord
{
    /// <inheritdoc />
    public override string Key => SchemaKey(Subject, Version);

    /// <inheritdoc />
    public override string Value => Json(new JsonObject
    {
        ["subject"] = Subject,
        ["version"] = Version,
        ["id"] = Id,
        ["schemaType"] = SchemaType,
        ["references"] = new JsonArray([.. References.Select(r => (JsonNode)new JsonObject { ["name"] = r.Name, ["subject"] = r.Subject, ["version"] = r.Version })]),
        ["schema"] = Schema,
        ["deleted"] = Deleted,
    });

    /// <summary>Whether this is the same registration as <paramref name="other"/> (ignoring the deleted flag).</summary>
    public bool SameRegistration(SchemaRecord other) =>
        other.Subject == Subject && other.Version == Version && other.Id == Id && other.Schema == Schema
        && other.SchemaType == SchemaType && other.References.SequenceEqual(References);

    internal static string SchemaKey(string subject, int version) =>
        Json(new JsonObject { ["keytype"] = "SCHEMA", ["subject"] = subject, ["version"] = version, ["magic"] = 1 });
}

/// <summary>Permanent delete of one version (a tombstone for its key).</summary>
public sealed record SchemaTombstone(string Subject, int Version) : RegistryRecord
{
    /// <inheritdoc />
    public override string Key => SchemaRecord.SchemaKey(Subject, Version);

    /// <inheritdoc />
    public override string? Value => null;
}

/// <summary>The compatibility level of a subject (null = global); a null level removes a subject's own level.</summary>
public sealed record ConfigRecord(string? Subject, string? Level) : RegistryRecord
{
    /// <inheritdoc />
    public override string Key => Json(new JsonObject { ["keytype"] = "CONFIG", ["subject"] = Subject, ["magic"] = 0 });

    /// <inheritdoc />
    public override string? Value => Level is null ? null : Json(new JsonObject { ["compatibilityLevel"] = Level });
}
