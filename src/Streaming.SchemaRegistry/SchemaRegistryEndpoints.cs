using System.Collections.Concurrent;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Streaming.SchemaRegistry.Storage;

namespace Streaming.SchemaRegistry;

/// <summary>
/// The Confluent Schema Registry REST API (Avro schemas): subjects, versions, registration with compatibility
/// enforcement, lookup, soft and permanent deletes, schemas by id, schema references, global and per-subject config,
/// compatibility tests, and read-only <c>/mode</c>. Shapes follow Confluent's API reference and confluent-kafka-dotnet's
/// <c>RestService</c>. Not served: JSON Schema / Protobuf, contexts, exporters, metadata and rule sets, setting modes.
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

    /// <summary>Maps the registry's endpoints onto <paramref name="endpoints"/>, serving <paramref name="service"/>.</summary>
    public static IEndpointRouteBuilder MapSchemaRegistry(this IEndpointRouteBuilder endpoints, SchemaRegistryService service)
    {
        ArgumentNullException.ThrowIfNull(service);
        var state = service.Store.State;
        // Bodies of GET /schemas/ids/{id}: immutable per id, and the hot path of every deserializer.
        var idBodies = new ConcurrentDictionary<int, byte[]>();

        endpoints.MapGet("/", () => Json(new JsonObject()));
        endpoints.MapGet("/schemas/types", () => Json(new JsonArray(Avro)));
        endpoints.MapGet("/mode", () => Json(new JsonObject { ["mode"] = "READWRITE" }));
        endpoints.MapGet("/mode/{subject}", (string subject) => Json(new JsonObject { ["mode"] = "READWRITE" }));

        endpoints.MapGet("/schemas/ids/{id:int}", async (int id, CancellationToken ct) =>
        {
            var schema = state.GetSchema(id) ?? await service.GetSchemaAfterCatchUpAsync(id, ct).ConfigureAwait(false);
            return Results.Bytes(idBodies.GetOrAdd(id, _ => Encoding.UTF8.GetBytes(SchemaBody(new JsonObject(), schema.Schema, schema.SchemaType, schema.References).ToJsonString())),
                ContentType);
        });

        endpoints.MapGet("/schemas/ids/{id:int}/schema", async (int id, CancellationToken ct) =>
            Raw((state.GetSchema(id) ?? await service.GetSchemaAfterCatchUpAsync(id, ct).ConfigureAwait(false)).Schema));

        endpoints.MapGet("/schemas/ids/{id:int}/versions", (int id, bool? deleted) =>
        {
            _ = state.GetSchema(id) ?? throw SchemaRegistryError.SchemaIdNotFound(id);
            return Json(new JsonArray([.. state.GetSubjectVersionsForId(id, deleted == true)
                .Select(p => (JsonNode)new JsonObject { ["subject"] = p.Subject, ["version"] = p.Version })]));
        });

        endpoints.MapGet("/schemas/ids/{id:int}/subjects", (int id, bool? deleted) =>
        {
            _ = state.GetSchema(id) ?? throw SchemaRegistryError.SchemaIdNotFound(id);
            return Json(StringArray(state.GetSubjectVersionsForId(id, deleted == true).Select(p => p.Subject).Distinct()));
        });

        endpoints.MapGet("/subjects", (bool? deleted) => Json(StringArray(state.GetSubjects(deleted == true))));

        endpoints.MapGet("/subjects/{subject}/versions", (string subject, bool? deleted) =>
        {
            var versions = state.GetVersions(subject, deleted == true) ?? throw SchemaRegistryError.SubjectNotFound(subject);
            return Json(new JsonArray([.. versions.Select(v => (JsonNode?)JsonValue.Create(v.Version))]));
        });

        endpoints.MapPost("/subjects/{subject}/versions", async (string subject, HttpRequest request, CancellationToken ct) =>
        {
            var (text, type, references) = await ReadSchemaRequestAsync(request, ct).ConfigureAwait(false);
            var registered = await service.RegisterAsync(subject, text, type, references, ct).ConfigureAwait(false);
            return Json(new JsonObject { ["id"] = registered.Id });
        });

        endpoints.MapPost("/subjects/{subject}", async (string subject, bool? deleted, HttpRequest request, CancellationToken ct) =>
        {
            var (text, type, references) = await ReadSchemaRequestAsync(request, ct).ConfigureAwait(false);
            return Json(VersionBody(await service.LookupAsync(subject, text, type, references, deleted == true, ct).ConfigureAwait(false)));
        });

        endpoints.MapGet("/subjects/{subject}/versions/{version}", (string subject, string version, bool? deleted) =>
            Json(VersionBody(service.ResolveVersion(subject, version, deleted == true))));

        endpoints.MapGet("/subjects/{subject}/versions/{version}/schema", (string subject, string version, bool? deleted) =>
            Raw(service.ResolveVersion(subject, version, deleted == true).Schema));

        endpoints.MapGet("/subjects/{subject}/versions/{version}/referencedby", (string subject, string version) =>
        {
            var target = service.ResolveVersion(subject, version, includeDeleted: false);
            var ids = state.GetSubjects(includeDeleted: false)
                .SelectMany(s => state.GetVersions(s, includeDeleted: false) ?? [])
                .Where(v => v.References.Any(r => r.Subject == target.Subject && r.Version == target.Version))
                .Select(v => v.Id).Distinct().Order();
            return Json(new JsonArray([.. ids.Select(i => (JsonNode?)JsonValue.Create(i))]));
        });

        endpoints.MapDelete("/subjects/{subject}", async (string subject, bool? permanent, CancellationToken ct) =>
        {
            var versions = await service.DeleteSubjectAsync(subject, permanent == true, ct).ConfigureAwait(false);
            return Json(new JsonArray([.. versions.Select(v => (JsonNode?)JsonValue.Create(v))]));
        });

        endpoints.MapDelete("/subjects/{subject}/versions/{version}", async (string subject, string version, bool? permanent, CancellationToken ct) =>
            Json(JsonValue.Create(await service.DeleteVersionAsync(subject, version, permanent == true, ct).ConfigureAwait(false))));

        endpoints.MapPost("/compatibility/subjects/{subject}/versions/{version}", async (string subject, string version, bool? verbose, HttpRequest request, CancellationToken ct) =>
        {
            var (text, type, references) = await ReadSchemaRequestAsync(request, ct).ConfigureAwait(false);
            return Json(CompatibilityBody(service.TestCompatibility(subject, version, text, type, references), verbose == true));
        });

        endpoints.MapPost("/compatibility/subjects/{subject}/versions", async (string subject, bool? verbose, HttpRequest request, CancellationToken ct) =>
        {
            var (text, type, references) = await ReadSchemaRequestAsync(request, ct).ConfigureAwait(false);
            return Json(CompatibilityBody(service.TestCompatibility(subject, null, text, type, references), verbose == true));
        });

        endpoints.MapGet("/config", () => Json(ConfigBody(state.GetLevel(null)!)));

        endpoints.MapPut("/config", async (HttpRequest request, CancellationToken ct) =>
            Json(new JsonObject { ["compatibility"] = await service.SetLevelAsync(null, await ReadCompatibilityAsync(request, ct).ConfigureAwait(false), ct).ConfigureAwait(false) }));

        endpoints.MapGet("/config/{subject}", (string subject, bool? defaultToGlobal) =>
        {
            var level = state.GetLevel(subject) ?? (defaultToGlobal == true ? state.GetLevel(null) : null);
            return Json(ConfigBody(level ?? throw SchemaRegistryError.SubjectCompatibilityNotConfigured(subject)));
        });

        endpoints.MapPut("/config/{subject}", async (string subject, HttpRequest request, CancellationToken ct) =>
            Json(new JsonObject { ["compatibility"] = await service.SetLevelAsync(subject, await ReadCompatibilityAsync(request, ct).ConfigureAwait(false), ct).ConfigureAwait(false) }));

        endpoints.MapDelete("/config/{subject}", async (string subject, CancellationToken ct) =>
            Json(ConfigBody(await service.DeleteLevelAsync(subject, ct).ConfigureAwait(false))));

        return endpoints;
    }

    private static JsonArray StringArray(IEnumerable<string> items) => new([.. items.Select(s => (JsonNode?)JsonValue.Create(s))]);

    private static JsonObject ConfigBody(string level) =>
        // Confluent answers GET /config with "compatibilityLevel"; client versions differ in which name they read.
        new() { ["compatibilityLevel"] = level, ["compatibility"] = level };

    private static JsonObject CompatibilityBody(CompatibilityTestResult result, bool verbose)
    {
        var body = new JsonObject { ["is_compatible"] = result.IsCompatible };
        if (verbose)
        {
            body["messages"] = StringArray(result.Messages);
        }

        return body;
    }

    private static JsonObject SchemaBody(JsonObject body, string schema, string schemaType, IReadOnlyList<SchemaReferenceRecord> references)
    {
        // Confluent omits schemaType for Avro; the .NET client defaults a missing type to Avro.
        if (schemaType != Avro)
        {
            body["schemaType"] = schemaType;
        }

        if (references.Count > 0)
        {
            body["references"] = new JsonArray([.. references.Select(r => (JsonNode)new JsonObject { ["name"] = r.Name, ["subject"] = r.Subject, ["version"] = r.Version })]);
        }

        body["schema"] = schema;
        return body;
    }

    private static JsonObject VersionBody(SchemaRecord version) =>
        SchemaBody(new JsonObject { ["subject"] = version.Subject, ["version"] = version.Version, ["id"] = version.Id }, version.Schema, version.SchemaType, version.References);

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

    private static async Task<(string Schema, string SchemaType, IReadOnlyList<SchemaReferenceRecord> References)> ReadSchemaRequestAsync(HttpRequest request, CancellationToken ct)
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

        var references = new List<SchemaReferenceRecord>();
        if (body["references"] is JsonArray list)
        {
            foreach (var item in list)
            {
                var name = item?["name"] is JsonValue n && n.TryGetValue<string>(out var nameText) ? nameText : null;
                var subject = item?["subject"] is JsonValue su && su.TryGetValue<string>(out var subjectText) ? subjectText : null;
                var version = item?["version"] is JsonValue ve && ve.TryGetValue<int>(out var versionNumber) ? versionNumber : (int?)null;
                if (name is null || subject is null || version is null)
                {
                    throw SchemaRegistryError.InvalidSchema($"reference {item?.ToJsonString()} needs \"name\", \"subject\" and \"version\"");
                }

                references.Add(new SchemaReferenceRecord(name, subject, version.Value));
            }
        }

        return (schema, type, references);
    }

    private static async Task<string?> ReadCompatibilityAsync(HttpRequest request, CancellationToken ct)
    {
        var body = await ReadBodyAsync(request, ct).ConfigureAwait(false);
        return (body["compatibility"] ?? body["compatibilityLevel"]) is JsonValue v && v.TryGetValue<string>(out var text) ? text : null;
    }

    private static IResult Json(JsonNode? body, int statusCode = StatusCodes.Status200OK) =>
        Results.Text(body?.ToJsonString() ?? "null", ContentType, Encoding.UTF8, statusCode);

    private static IResult Raw(string schema) => Results.Text(schema, "application/json", Encoding.UTF8);
}
