using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;

namespace Streaming.SchemaRegistry;

/// <summary>
/// The subset of the Confluent Schema Registry REST API that <c>CachedSchemaRegistryClient</c> and the Avro serdes use
/// (shapes checked against confluent-kafka-dotnet's <c>RestService</c>). Not implemented: deletes (the <c>deleted</c>
/// query parameter is accepted and ignored — nothing is ever deleted), schema references, non-Avro schema types,
/// modes, contexts, metadata/rule sets, and compatibility enforcement (levels are stored and returned, not checked;
/// <c>POST /compatibility/...</c> is not served).
/// </summary>
public static class SchemaRegistryEndpoints
{
    /// <summary>Confluent's response media type.</summary>
    public const string ContentType = "application/vnd.schemaregistry.v1+json";

    private const string Avro = "AVRO";

    /// <summary>Turns <see cref="SchemaRegistryError"/>s thrown by the endpoints into Confluent error bodies.</summary>
    public static IApplicationBuilder UseSchemaRegistryErrors(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            try
            {
                await next(context).ConfigureAwait(false);
            }
            catch (SchemaRegistryError error) when (!context.Response.HasStarted)
            {
                context.Response.Clear();
                await Json(new JsonObject { ["error_code"] = error.ErrorCode, ["message"] = error.Message }, error.StatusCode)
                    .ExecuteAsync(context).ConfigureAwait(false);
            }
        });

    /// <summary>Maps the registry's endpoints onto <paramref name="endpoints"/>, serving from <paramref name="store"/>.</summary>
    public static IEndpointRouteBuilder MapSchemaRegistry(this IEndpointRouteBuilder endpoints, ISchemaStore store)
    {
        ArgumentNullException.ThrowIfNull(store);

        endpoints.MapGet("/", () => Json(new JsonObject()));

        endpoints.MapGet("/schemas/ids/{id:int}", async (int id, CancellationToken ct) =>
        {
            var schema = await store.GetSchemaAsync(id, ct).ConfigureAwait(false) ?? throw SchemaRegistryError.SchemaIdNotFound(id);
            return Json(SchemaBody(new JsonObject(), schema));
        });

        endpoints.MapGet("/schemas/ids/{id:int}/schema", async (int id, CancellationToken ct) =>
        {
            var schema = await store.GetSchemaAsync(id, ct).ConfigureAwait(false) ?? throw SchemaRegistryError.SchemaIdNotFound(id);
            return Raw(schema.Schema);
        });

        endpoints.MapGet("/schemas/ids/{id:int}/versions", async (int id, CancellationToken ct) =>
        {
            _ = await store.GetSchemaAsync(id, ct).ConfigureAwait(false) ?? throw SchemaRegistryError.SchemaIdNotFound(id);
            var pairs = await store.GetSubjectVersionsForIdAsync(id, ct).ConfigureAwait(false);
            return Json(new JsonArray([.. pairs.Select(p => (JsonNode)new JsonObject { ["subject"] = p.Subject, ["version"] = p.Version })]));
        });

        endpoints.MapGet("/schemas/ids/{id:int}/subjects", async (int id, CancellationToken ct) =>
        {
            _ = await store.GetSchemaAsync(id, ct).ConfigureAwait(false) ?? throw SchemaRegistryError.SchemaIdNotFound(id);
            var pairs = await store.GetSubjectVersionsForIdAsync(id, ct).ConfigureAwait(false);
            return Json(new JsonArray([.. pairs.Select(p => (JsonNode?)JsonValue.Create(p.Subject))]));
        });

        endpoints.MapGet("/subjects", async (CancellationToken ct) =>
        {
            var subjects = await store.GetSubjectsAsync(ct).ConfigureAwait(false);
            return Json(new JsonArray([.. subjects.Select(s => (JsonNode?)JsonValue.Create(s))]));
        });

        endpoints.MapGet("/subjects/{subject}/versions", async (string subject, CancellationToken ct) =>
        {
            var versions = await store.GetVersionsAsync(subject, ct).ConfigureAwait(false) ?? throw SchemaRegistryError.SubjectNotFound(subject);
            return Json(new JsonArray([.. versions.Select(v => (JsonNode?)JsonValue.Create(v))]));
        });

        endpoints.MapPost("/subjects/{subject}/versions", async (string subject, HttpRequest request, CancellationToken ct) =>
        {
            var (text, type) = await ReadSchemaRequestAsync(request, ct).ConfigureAwait(false);
            var canonical = AvroSchemaCanonicalizer.Canonicalize(text);
            var registered = await store.RegisterAsync(subject, text, type, canonical, ct).ConfigureAwait(false);
            return Json(new JsonObject { ["id"] = registered.Id });
        });

        endpoints.MapPost("/subjects/{subject}", async (string subject, HttpRequest request, CancellationToken ct) =>
        {
            var (text, type) = await ReadSchemaRequestAsync(request, ct).ConfigureAwait(false);
            var canonical = AvroSchemaCanonicalizer.Canonicalize(text);
            var found = await store.LookupAsync(subject, type, canonical, ct).ConfigureAwait(false);
            if (found is null)
            {
                throw await store.GetVersionsAsync(subject, ct).ConfigureAwait(false) is null
                    ? SchemaRegistryError.SubjectNotFound(subject)
                    : SchemaRegistryError.SchemaNotFound();
            }

            return Json(await VersionBodyAsync(store, found, ct).ConfigureAwait(false));
        });

        endpoints.MapGet("/subjects/{subject}/versions/{version}", async (string subject, string version, CancellationToken ct) =>
            Json(await VersionBodyAsync(store, await ResolveVersionAsync(store, subject, version, ct).ConfigureAwait(false), ct).ConfigureAwait(false)));

        endpoints.MapGet("/subjects/{subject}/versions/{version}/schema", async (string subject, string version, CancellationToken ct) =>
        {
            var found = await ResolveVersionAsync(store, subject, version, ct).ConfigureAwait(false);
            var schema = await store.GetSchemaAsync(found.Id, ct).ConfigureAwait(false) ?? throw SchemaRegistryError.SchemaIdNotFound(found.Id);
            return Raw(schema.Schema);
        });

        endpoints.MapGet("/config", async (CancellationToken ct) =>
            Json(ConfigBody(await store.GetCompatibilityAsync(null, ct).ConfigureAwait(false) ?? "BACKWARD")));

        endpoints.MapPut("/config", async (HttpRequest request, CancellationToken ct) =>
        {
            var level = await ReadCompatibilityAsync(request, ct).ConfigureAwait(false);
            await store.SetCompatibilityAsync(null, level, ct).ConfigureAwait(false);
            return Json(new JsonObject { ["compatibility"] = level });
        });

        endpoints.MapGet("/config/{subject}", async (string subject, bool? defaultToGlobal, CancellationToken ct) =>
        {
            var level = await store.GetCompatibilityAsync(subject, ct).ConfigureAwait(false);
            if (level is null && defaultToGlobal == true)
            {
                level = await store.GetCompatibilityAsync(null, ct).ConfigureAwait(false);
            }

            return Json(ConfigBody(level ?? throw SchemaRegistryError.SubjectCompatibilityNotConfigured(subject)));
        });

        endpoints.MapPut("/config/{subject}", async (string subject, HttpRequest request, CancellationToken ct) =>
        {
            var level = await ReadCompatibilityAsync(request, ct).ConfigureAwait(false);
            await store.SetCompatibilityAsync(subject, level, ct).ConfigureAwait(false);
            return Json(new JsonObject { ["compatibility"] = level });
        });

        return endpoints;
    }

    private static JsonObject ConfigBody(string level) =>
        // Confluent answers GET /config with "compatibilityLevel"; client versions differ in which name they read.
        new() { ["compatibilityLevel"] = level, ["compatibility"] = level };

    private static JsonObject SchemaBody(JsonObject body, StoredSchema schema)
    {
        // Confluent omits schemaType for Avro; the .NET client defaults a missing type to Avro.
        if (schema.SchemaType != Avro)
        {
            body["schemaType"] = schema.SchemaType;
        }

        body["schema"] = schema.Schema;
        return body;
    }

    private static async Task<JsonObject> VersionBodyAsync(ISchemaStore store, SubjectVersion found, CancellationToken ct)
    {
        var schema = await store.GetSchemaAsync(found.Id, ct).ConfigureAwait(false) ?? throw SchemaRegistryError.SchemaIdNotFound(found.Id);
        return SchemaBody(new JsonObject { ["subject"] = found.Subject, ["version"] = found.Version, ["id"] = found.Id }, schema);
    }

    private static async Task<SubjectVersion> ResolveVersionAsync(ISchemaStore store, string subject, string version, CancellationToken ct)
    {
        int? number = version switch
        {
            "latest" or "-1" => null,
            _ when int.TryParse(version, NumberStyles.None, CultureInfo.InvariantCulture, out var v) && v >= 1 => v,
            _ => throw SchemaRegistryError.InvalidVersion(version),
        };

        var found = await store.GetVersionAsync(subject, number, ct).ConfigureAwait(false);
        if (found is not null)
        {
            return found;
        }

        throw await store.GetVersionsAsync(subject, ct).ConfigureAwait(false) is null || number is null
            ? SchemaRegistryError.SubjectNotFound(subject)
            : SchemaRegistryError.VersionNotFound(subject, number.Value);
    }

    private static async Task<JsonObject> ReadBodyAsync(HttpRequest request, CancellationToken ct)
    {
        try
        {
            return await JsonSerializer.DeserializeAsync<JsonNode>(request.Body, cancellationToken: ct).ConfigureAwait(false) as JsonObject
                ?? throw SchemaRegistryError.BadRequest("Request body must be a JSON object.");
        }
        catch (JsonException ex)
        {
            throw SchemaRegistryError.BadRequest($"Request body is not valid JSON: {ex.Message}");
        }
    }

    private static async Task<(string Schema, string SchemaType)> ReadSchemaRequestAsync(HttpRequest request, CancellationToken ct)
    {
        var body = await ReadBodyAsync(request, ct).ConfigureAwait(false);
        var schema = body["schema"] is JsonValue s && s.TryGetValue<string>(out var text)
            ? text
            : throw SchemaRegistryError.InvalidSchema("request has no \"schema\" string");
        var type = body["schemaType"] is JsonValue t && t.TryGetValue<string>(out var typeText) ? typeText.ToUpperInvariant() : Avro;
        if (type != Avro)
        {
            throw SchemaRegistryError.InvalidSchema($"schemaType '{type}' is not supported by this registry; only AVRO is.");
        }

        if (body["references"] is JsonArray { Count: > 0 })
        {
            throw SchemaRegistryError.InvalidSchema("schema references are not supported by this registry.");
        }

        return (schema, type);
    }

    private static async Task<string> ReadCompatibilityAsync(HttpRequest request, CancellationToken ct)
    {
        var body = await ReadBodyAsync(request, ct).ConfigureAwait(false);
        var raw = (body["compatibility"] ?? body["compatibilityLevel"]) is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
        return CompatibilityLevels.Normalize(raw) ?? throw SchemaRegistryError.InvalidCompatibility(raw);
    }

    private static IResult Json(JsonNode body, int statusCode = StatusCodes.Status200OK) =>
        Results.Text(body.ToJsonString(), ContentType, Encoding.UTF8, statusCode);

    private static IResult Raw(string schema) => Results.Text(schema, "application/json", Encoding.UTF8);
}
