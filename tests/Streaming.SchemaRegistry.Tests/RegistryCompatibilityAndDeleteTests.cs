using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.SchemaRegistry;
using static Streaming.SchemaRegistry.Tests.RegistryTestSupport;

namespace Streaming.SchemaRegistry.Tests;

/// <summary>
/// The registry's Confluent REST semantics beyond plain registration: compatibility enforcement (409) and the
/// compatibility test endpoints, soft and permanent deletes, schema references, config fallback and the error codes
/// for bad input (nothing stored on a rejected request). In-memory store; the Kafka-backed store is covered in
/// <see cref="KafkaSchemaStoreTests"/>.
/// </summary>
public sealed class RegistryCompatibilityAndDeleteTests
{
    private const string Subject = "payments-value";

    // PaymentSchema plus a required field: new readers cannot read old data.
    private const string PaymentSchemaBreaking = """
        {"type":"record","name":"Payment","namespace":"streaming.tests","fields":[{"name":"paymentId","type":"string"},{"name":"amountMinor","type":"long"},{"name":"settlementBatch","type":"string"}]}
        """;

    private static async Task<(HttpStatusCode Status, JsonNode? Body)> SendAsync(EmbeddedSchemaRegistry registry, HttpMethod method, string path, JsonNode? body = null, string? rawBody = null)
    {
        using var http = new HttpClient { BaseAddress = new Uri(registry.Url) };
        using var request = new HttpRequestMessage(method, new Uri(path, UriKind.Relative));
        if (body is not null || rawBody is not null)
        {
            request.Content = new StringContent(rawBody ?? body!.ToJsonString(), Encoding.UTF8, "application/vnd.schemaregistry.v1+json");
        }

        using var response = await http.SendAsync(request, Ct);
        var text = await response.Content.ReadAsStringAsync(Ct);
        return (response.StatusCode, text.Length == 0 ? null : JsonNode.Parse(text));
    }

    private static JsonObject SchemaRequest(string schema) => new() { ["schema"] = schema };

    private static int ErrorCode(JsonNode? body) => body!["error_code"]!.GetValue<int>();

    [Fact]
    public async Task An_incompatible_schema_is_rejected_with_409_naming_the_path_and_nothing_is_stored()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchema));

        var error = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchemaBreaking)));

        Assert.Equal(409, error.ErrorCode);
        Assert.Equal(HttpStatusCode.Conflict, error.Status);
        Assert.Contains("Payment.settlementBatch", error.Message, StringComparison.Ordinal);
        Assert.Contains("has no default", error.Message, StringComparison.Ordinal);
        Assert.Equal([1], await client.GetSubjectVersionsAsync(Subject));
    }

    [Fact]
    public async Task A_compatible_evolution_gets_a_new_version_and_id_and_level_none_accepts_anything()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        var id1 = await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchema));
        var id2 = await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchemaV2));
        await client.UpdateCompatibilityAsync(Compatibility.None, Subject);
        var id3 = await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchemaBreaking));

        Assert.Equal((1, 2, 3), (id1, id2, id3));
        Assert.Equal([1, 2, 3], await client.GetSubjectVersionsAsync(Subject));
    }

    [Fact]
    public async Task A_transitive_level_rejects_a_schema_that_only_breaks_an_older_version()
    {
        const string v1 = """{"type":"record","name":"O","fields":[{"name":"a","type":"string"}]}""";
        const string v2 = """{"type":"record","name":"O","fields":[{"name":"a","type":"string"},{"name":"b","type":"int","default":0}]}""";
        const string v3 = """{"type":"record","name":"O","fields":[{"name":"a","type":"string"},{"name":"b","type":"int"}]}""";
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.UpdateCompatibilityAsync(Compatibility.BackwardTransitive, "transitive-value");
        foreach (var subject in new[] { "transitive-value", "latest-only-value" })
        {
            await client.RegisterSchemaAsync(subject, AvroSchema(v1));
            await client.RegisterSchemaAsync(subject, AvroSchema(v2));
        }

        var accepted = await client.RegisterSchemaAsync("latest-only-value", AvroSchema(v3));
        var rejected = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.RegisterSchemaAsync("transitive-value", AvroSchema(v3)));

        Assert.True(accepted > 0);
        Assert.Equal(409, rejected.ErrorCode);
        Assert.Contains("'transitive-value' version 1", rejected.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Compatibility_endpoints_answer_with_and_without_verbose_messages()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchema));

        var verbose = await SendAsync(registry, HttpMethod.Post, $"/compatibility/subjects/{Subject}/versions/latest?verbose=true", SchemaRequest(PaymentSchemaBreaking));
        var terse = await SendAsync(registry, HttpMethod.Post, $"/compatibility/subjects/{Subject}/versions", SchemaRequest(PaymentSchemaBreaking));
        var good = await SendAsync(registry, HttpMethod.Post, $"/compatibility/subjects/{Subject}/versions/1?verbose=true", SchemaRequest(PaymentSchemaV2));

        Assert.Equal(HttpStatusCode.OK, verbose.Status);
        Assert.False(verbose.Body!["is_compatible"]!.GetValue<bool>());
        Assert.Contains("Payment.settlementBatch", Assert.Single(verbose.Body["messages"]!.AsArray())!.GetValue<string>(), StringComparison.Ordinal);
        Assert.False(terse.Body!["is_compatible"]!.GetValue<bool>());
        Assert.Null(terse.Body["messages"]);
        Assert.True(good.Body!["is_compatible"]!.GetValue<bool>());
        Assert.False(await client.IsCompatibleAsync(Subject, AvroSchema(PaymentSchemaBreaking)));
        Assert.True(await client.IsCompatibleAsync(Subject, AvroSchema(PaymentSchemaV2)));
        Assert.Equal([1], await client.GetSubjectVersionsAsync(Subject));
    }

    [Fact]
    public async Task Soft_deleted_versions_are_hidden_kept_by_id_and_permanent_delete_needs_a_soft_delete_first()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        var id1 = await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchema));
        await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchemaV2));

        var notSoftDeleted = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}/versions/1?permanent=true");
        var soft = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}/versions/1");
        var softAgain = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}/versions/1");
        var visible = await SendAsync(registry, HttpMethod.Get, $"/subjects/{Subject}/versions");
        var withDeleted = await SendAsync(registry, HttpMethod.Get, $"/subjects/{Subject}/versions?deleted=true");
        var byId = await SendAsync(registry, HttpMethod.Get, $"/schemas/ids/{id1}");
        var hidden = await SendAsync(registry, HttpMethod.Get, $"/subjects/{Subject}/versions/1");
        var permanent = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}/versions/1?permanent=true");
        var gone = await SendAsync(registry, HttpMethod.Get, $"/subjects/{Subject}/versions/1?deleted=true");

        Assert.Equal((HttpStatusCode.NotFound, 40407), (notSoftDeleted.Status, ErrorCode(notSoftDeleted.Body)));
        Assert.Equal(1, soft.Body!.GetValue<int>());
        Assert.Equal(40406, ErrorCode(softAgain.Body));
        Assert.Equal("[2]", visible.Body!.ToJsonString());
        Assert.Equal("[1,2]", withDeleted.Body!.ToJsonString());
        Assert.Equal(PaymentSchema, byId.Body!["schema"]!.GetValue<string>());
        Assert.Equal(40402, ErrorCode(hidden.Body));
        Assert.Equal(1, permanent.Body!.GetValue<int>());
        Assert.Equal(40402, ErrorCode(gone.Body));
        Assert.Equal(40403, ErrorCode((await SendAsync(registry, HttpMethod.Get, $"/schemas/ids/{id1}")).Body));
    }

    [Fact]
    public async Task Deleting_a_subject_soft_then_permanently_and_re_registering_keeps_the_id()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        var id = await client.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchema));
        await client.RegisterSchemaAsync("other-value", AvroSchema(PaymentSchema));

        var permanentFirst = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}?permanent=true");
        var soft = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}");
        var softAgain = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}");
        var subjects = await client.GetAllSubjectsAsync();
        var versions = await SendAsync(registry, HttpMethod.Get, $"/subjects/{Subject}/versions");
        var permanent = await SendAsync(registry, HttpMethod.Delete, $"/subjects/{Subject}?permanent=true");
        using var fresh = ClientFor(registry); // the first client caches its registration
        var again = await fresh.RegisterSchemaAsync(Subject, AvroSchema(PaymentSchema));

        Assert.Equal(40405, ErrorCode(permanentFirst.Body));
        Assert.Equal("[1]", soft.Body!.ToJsonString());
        Assert.Equal(40404, ErrorCode(softAgain.Body));
        Assert.Equal(["other-value"], subjects);
        Assert.Equal(40401, ErrorCode(versions.Body));
        Assert.Equal("[1]", permanent.Body!.ToJsonString());
        Assert.Equal(id, again); // still held by other-value, so the same id
        Assert.Equal([2], await fresh.GetSubjectVersionsAsync(Subject)); // version numbers are not reused
    }

    [Fact]
    public async Task Schema_references_resolve_named_types_registered_under_another_subject()
    {
        const string money = """{"type":"record","name":"Money","namespace":"t","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":18,"scale":4}},{"name":"currency","type":"string"}]}""";
        const string order = """{"type":"record","name":"Order","namespace":"t","fields":[{"name":"id","type":"string"},{"name":"total","type":"t.Money"}]}""";
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.RegisterSchemaAsync("money-value", AvroSchema(money));
        var withReference = new Schema(order, [new SchemaReference("t.Money", "money-value", 1)], SchemaType.Avro);

        var id = await client.RegisterSchemaAsync("orders-value", withReference);
        using var fresh = ClientFor(registry);
        var latest = await fresh.GetLatestSchemaAsync("orders-value");
        var missing = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.RegisterSchemaAsync("orders2-value", AvroSchema(order)));
        var badReference = await Assert.ThrowsAsync<SchemaRegistryException>(() =>
            client.RegisterSchemaAsync("orders3-value", new Schema(order, [new SchemaReference("t.Money", "money-value", 9)], SchemaType.Avro)));

        Assert.Equal(id, latest.Id);
        Assert.Equal(("t.Money", "money-value", 1), (latest.References.Single().Name, latest.References.Single().Subject, latest.References.Single().Version));
        Assert.Equal(42201, missing.ErrorCode);
        Assert.Equal(42201, badReference.ErrorCode);
        Assert.Contains("version 9", badReference.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Subject_level_falls_back_to_global_after_delete_and_an_unknown_level_is_42203_and_not_stored()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.UpdateCompatibilityAsync(Compatibility.Full, Subject);

        var unknown = await SendAsync(registry, HttpMethod.Put, $"/config/{Subject}", new JsonObject { ["compatibility"] = "SIDEWAYS" });
        var unknownGlobal = await SendAsync(registry, HttpMethod.Put, "/config", new JsonObject { ["compatibility"] = "SIDEWAYS" });
        var deleted = await SendAsync(registry, HttpMethod.Delete, $"/config/{Subject}");
        var own = await SendAsync(registry, HttpMethod.Get, $"/config/{Subject}");
        var fallback = await SendAsync(registry, HttpMethod.Get, $"/config/{Subject}?defaultToGlobal=true");

        Assert.Equal(((HttpStatusCode)422, 42203), (unknown.Status, ErrorCode(unknown.Body)));
        Assert.Contains("SIDEWAYS", unknown.Body!["message"]!.GetValue<string>(), StringComparison.Ordinal);
        Assert.Equal(42203, ErrorCode(unknownGlobal.Body));
        Assert.Equal("FULL", deleted.Body!["compatibilityLevel"]!.GetValue<string>());
        Assert.Equal(40408, ErrorCode(own.Body));
        Assert.Equal("BACKWARD", fallback.Body!["compatibilityLevel"]!.GetValue<string>());
        Assert.Equal(Compatibility.Backward, await client.GetCompatibilityAsync());
    }

    [Fact]
    public async Task Bad_input_gets_the_documented_error_codes_and_stores_nothing()
    {
        await using var registry = await StartRegistryAsync();
        var malformedBody = await SendAsync(registry, HttpMethod.Post, "/subjects/x-value/versions", rawBody: "{\"schema\": ");
        var schemaNotJson = await SendAsync(registry, HttpMethod.Post, "/subjects/x-value/versions", SchemaRequest("{\"type\":\"record\","));
        var invalidAvro = await SendAsync(registry, HttpMethod.Post, "/subjects/x-value/versions", SchemaRequest("""{"type":"enum","name":"E","symbols":["A","A"]}"""));
        var noSchema = await SendAsync(registry, HttpMethod.Post, "/subjects/x-value/versions", new JsonObject { ["schemma"] = "\"string\"" });
        var unknownSubject = await SendAsync(registry, HttpMethod.Get, "/subjects/nobody-value/versions/1");
        var badVersion = await SendAsync(registry, HttpMethod.Get, "/subjects/nobody-value/versions/0");
        var unknownId = await SendAsync(registry, HttpMethod.Get, "/schemas/ids/77");
        var subjects = await SendAsync(registry, HttpMethod.Get, "/subjects?deleted=true");

        Assert.Equal((HttpStatusCode.BadRequest, 400), (malformedBody.Status, ErrorCode(malformedBody.Body)));
        Assert.Equal(((HttpStatusCode)422, 42201), (schemaNotJson.Status, ErrorCode(schemaNotJson.Body)));
        Assert.Equal(42201, ErrorCode(invalidAvro.Body));
        Assert.Equal(42201, ErrorCode(noSchema.Body));
        Assert.Equal((HttpStatusCode.NotFound, 40401), (unknownSubject.Status, ErrorCode(unknownSubject.Body)));
        Assert.Equal(42202, ErrorCode(badVersion.Body));
        Assert.Equal((HttpStatusCode.NotFound, 40403), (unknownId.Status, ErrorCode(unknownId.Body)));
        Assert.Equal("[]", subjects.Body!.ToJsonString());
    }
}
