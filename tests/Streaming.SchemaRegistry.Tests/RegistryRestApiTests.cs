using System.Net;
using System.Text;
using System.Text.Json.Nodes;
using Confluent.SchemaRegistry;
using static Streaming.SchemaRegistry.Tests.RegistryTestSupport;

namespace Streaming.SchemaRegistry.Tests;

/// <summary>
/// The embedded registry's REST API as the real Confluent <see cref="CachedSchemaRegistryClient"/> (2.16) sees it:
/// registration, lookup, reads by id / version, errors and config. Compatibility enforcement, deletes and references
/// are in <see cref="RegistryCompatibilityAndDeleteTests"/>.
/// </summary>
public sealed class RegistryRestApiTests
{
    [Fact]
    public async Task Registering_the_same_schema_twice_returns_the_same_id()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);

        var first = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));
        var second = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));
        var reformatted = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchemaReformatted));

        Assert.Equal(1, first);
        Assert.Equal(first, second);
        Assert.Equal(first, reformatted);
        Assert.Equal([1], await client.GetSubjectVersionsAsync("payments-value"));
    }

    [Fact]
    public async Task A_schema_already_registered_under_another_subject_reuses_its_global_id()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);

        var underA = await client.RegisterSchemaAsync("a-value", AvroSchema(PaymentSchema));
        var underB = await client.RegisterSchemaAsync("b-value", AvroSchema(PaymentSchemaReformatted));
        var v2 = await client.RegisterSchemaAsync("a-value", AvroSchema(PaymentSchemaV2));

        Assert.Equal(underA, underB);
        Assert.Equal(2, v2);
        Assert.Equal(["a-value", "b-value"], await client.GetAllSubjectsAsync());
    }

    [Fact]
    public async Task Lookup_returns_subject_id_version_and_schema()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));
        var id2 = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchemaV2));

        var found = await client.LookupSchemaAsync("payments-value", AvroSchema(PaymentSchemaV2), ignoreDeletedSchemas: true);

        Assert.Equal("payments-value", found.Subject);
        Assert.Equal(id2, found.Id);
        Assert.Equal(2, found.Version);
        Assert.Equal(PaymentSchemaV2, found.SchemaString);
        Assert.Equal(SchemaType.Avro, found.SchemaType);
    }

    [Fact]
    public async Task Lookup_of_an_unregistered_schema_in_a_known_subject_fails_with_40403()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));

        var error = await Assert.ThrowsAsync<SchemaRegistryException>(
            () => client.LookupSchemaAsync("payments-value", AvroSchema(PaymentSchemaV2), ignoreDeletedSchemas: true));

        Assert.Equal(40403, error.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, error.Status);
    }

    [Fact]
    public async Task Getting_a_schema_by_id_returns_the_registered_text()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        var id = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));

        // A fresh client, so the answer comes from the registry and not the client's cache.
        using var other = ClientFor(registry);
        var schema = await other.GetSchemaAsync(id);

        Assert.Equal(PaymentSchema, schema.SchemaString);
        Assert.Equal(SchemaType.Avro, schema.SchemaType);
    }

    [Fact]
    public async Task Latest_version_is_the_most_recently_registered_schema()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));
        var id2 = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchemaV2));

        var latest = await client.GetLatestSchemaAsync("payments-value");
        var first = await client.GetRegisteredSchemaAsync("payments-value", 1, ignoreDeletedSchemas: true);

        Assert.Equal(2, latest.Version);
        Assert.Equal(id2, latest.Id);
        Assert.Equal(PaymentSchemaV2, latest.SchemaString);
        Assert.Equal(1, first.Version);
        Assert.Equal(PaymentSchema, first.SchemaString);
    }

    [Fact]
    public async Task Unknown_subject_fails_with_40401()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);

        var latest = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.GetLatestSchemaAsync("nobody-value"));
        var lookup = await Assert.ThrowsAsync<SchemaRegistryException>(
            () => client.LookupSchemaAsync("nobody-value", AvroSchema(PaymentSchema), ignoreDeletedSchemas: true));

        Assert.Equal(40401, latest.ErrorCode);
        Assert.Equal(HttpStatusCode.NotFound, latest.Status);
        Assert.Contains("nobody-value", latest.Message, StringComparison.Ordinal);
        Assert.Equal(40401, lookup.ErrorCode);
    }

    [Fact]
    public async Task Invalid_schema_fails_with_42201_naming_the_problem()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        const string bad = """{"type":"record","name":"Bad","fields":[{"name":"amount","type":"notAType"}]}""";

        var error = await Assert.ThrowsAsync<SchemaRegistryException>(() => client.RegisterSchemaAsync("bad-value", AvroSchema(bad)));

        Assert.Equal(42201, error.ErrorCode);
        Assert.Equal((HttpStatusCode)422, error.Status);
        Assert.Contains("notAType", error.Message, StringComparison.Ordinal);
        Assert.Empty(await client.GetAllSubjectsAsync());
    }

    [Fact]
    public async Task Compatibility_levels_are_stored_globally_and_per_subject()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));

        var globalBefore = await client.GetCompatibilityAsync();
        var setSubject = await client.UpdateCompatibilityAsync(Compatibility.FullTransitive, "payments-value");
        var setGlobal = await client.UpdateCompatibilityAsync(Compatibility.None);

        Assert.Equal(Compatibility.Backward, globalBefore);
        Assert.Equal(Compatibility.FullTransitive, setSubject);
        Assert.Equal(Compatibility.FullTransitive, await client.GetCompatibilityAsync("payments-value"));
        Assert.Equal(Compatibility.None, setGlobal);
        Assert.Equal(Compatibility.None, await client.GetCompatibilityAsync());
    }

    [Fact]
    public async Task Eight_concurrent_registrations_of_one_schema_get_one_id()
    {
        await using var registry = await StartRegistryAsync();
        using var start = new ManualResetEventSlim();

        var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            using var client = ClientFor(registry); // separate clients: no shared client-side cache
            start.Wait(Ct);
            return await client.RegisterSchemaAsync(i % 2 == 0 ? "a-value" : "b-value", AvroSchema(i % 3 == 0 ? PaymentSchemaReformatted : PaymentSchema));
        }, Ct)).ToArray();
        start.Set();
        var ids = await Task.WhenAll(tasks);

        Assert.Single(ids.Distinct());
        using var check = ClientFor(registry);
        Assert.Equal([1], await check.GetSubjectVersionsAsync("a-value"));
        Assert.Equal([1], await check.GetSubjectVersionsAsync("b-value"));
    }

    [Fact]
    public async Task Raw_http_speaks_confluent_content_type_and_error_bodies()
    {
        await using var registry = await StartRegistryAsync();
        using var http = new HttpClient { BaseAddress = new Uri(registry.Url) };
        using var body = new StringContent(new JsonObject { ["schema"] = PaymentSchema }.ToJsonString(), Encoding.UTF8, "application/vnd.schemaregistry.v1+json");
        (await http.PostAsync(new Uri("/subjects/p-value/versions", UriKind.Relative), body, Ct)).EnsureSuccessStatusCode();

        using var root = await http.GetAsync(new Uri("/", UriKind.Relative), Ct);
        using var badVersion = await http.GetAsync(new Uri("/subjects/p-value/versions/abc", UriKind.Relative), Ct);
        using var missingVersion = await http.GetAsync(new Uri("/subjects/p-value/versions/7", UriKind.Relative), Ct);
        var raw = await http.GetStringAsync(new Uri("/subjects/p-value/versions/latest/schema", UriKind.Relative), Ct);
        var idVersions = JsonNode.Parse(await http.GetStringAsync(new Uri("/schemas/ids/1/versions", UriKind.Relative), Ct))!.AsArray();

        Assert.Equal("application/vnd.schemaregistry.v1+json", root.Content.Headers.ContentType?.MediaType);
        Assert.Equal("{}", await root.Content.ReadAsStringAsync(Ct));
        Assert.Equal((HttpStatusCode)422, badVersion.StatusCode);
        Assert.Equal(42202, JsonNode.Parse(await badVersion.Content.ReadAsStringAsync(Ct))!["error_code"]!.GetValue<int>());
        Assert.Equal(HttpStatusCode.NotFound, missingVersion.StatusCode);
        Assert.Equal(40402, JsonNode.Parse(await missingVersion.Content.ReadAsStringAsync(Ct))!["error_code"]!.GetValue<int>());
        Assert.Equal(PaymentSchema, raw);
        Assert.Equal("p-value", idVersions.Single()!["subject"]!.GetValue<string>());
        Assert.Equal(1, idVersions.Single()!["version"]!.GetValue<int>());
    }
}
