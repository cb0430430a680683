using System.Buffers.Binary;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Streaming.Platform.Embedded;
using Streaming.SchemaRegistry.Storage;
using static Streaming.SchemaRegistry.Tests.RegistryTestSupport;

namespace Streaming.SchemaRegistry.Tests;

/// <summary>
/// The registry backed by <see cref="KafkaSchemaStore"/> on the embedded (librdkafka mock) cluster: ids and deletes
/// survive a restart, two registry instances on one cluster agree (one id for eight concurrent registrations of one
/// schema, distinct ids for distinct schemas), and Confluent's serializer with auto-registration off works against it.
/// The mock cluster does not compact, so compaction itself is not exercised here.
/// </summary>
public sealed class KafkaSchemaStoreTests : IDisposable
{
    private readonly EmbeddedKafkaCluster _cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 1, WatermarkCheckInterval = TimeSpan.Zero });

    public void Dispose() => _cluster.Dispose();

    private async Task<EmbeddedSchemaRegistry> StartKafkaBackedAsync()
    {
        var store = await KafkaSchemaStore.StartAsync(new KafkaSchemaStoreOptions
        {
            BootstrapServers = _cluster.BootstrapServers,
            EnsureTopic = _ =>
            {
                _cluster.CreateTopic("_schemas", 1, 1);
                return Task.CompletedTask;
            },
        }, cancellationToken: Ct);
        return await EmbeddedSchemaRegistry.StartAsync(new EmbeddedSchemaRegistryOptions { Store = store }, cancellationToken: Ct);
    }

    [Fact]
    public async Task A_restarted_registry_keeps_every_id_version_level_and_delete()
    {
        int paymentV1, paymentV2, other;
        await using (var first = await StartKafkaBackedAsync())
        {
            using var client = ClientFor(first);
            paymentV1 = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));
            paymentV2 = await client.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchemaV2));
            other = await client.RegisterSchemaAsync("other-value", AvroSchema("""{"type":"enum","name":"E","symbols":["A"]}"""));
            await client.UpdateCompatibilityAsync(Compatibility.FullTransitive, "payments-value");
            using var http = new HttpClient { BaseAddress = new Uri(first.Url) };
            (await http.DeleteAsync(new Uri("/subjects/other-value", UriKind.Relative), Ct)).EnsureSuccessStatusCode();
        }

        await using var second = await StartKafkaBackedAsync();
        using var after = ClientFor(second);
        var v1 = await after.GetRegisteredSchemaAsync("payments-value", 1, ignoreDeletedSchemas: true);
        var latest = await after.GetLatestSchemaAsync("payments-value");
        var next = await after.RegisterSchemaAsync("third-value", AvroSchema("\"string\""));

        Assert.Equal((1, 2, 3), (paymentV1, paymentV2, other));
        Assert.Equal((paymentV1, PaymentSchema), (v1.Id, v1.SchemaString));
        Assert.Equal((paymentV2, 2), (latest.Id, latest.Version));
        Assert.Equal(Compatibility.FullTransitive, await after.GetCompatibilityAsync("payments-value"));
        Assert.Equal(["payments-value", "third-value"], (await after.GetAllSubjectsAsync()).Order(StringComparer.Ordinal));
        Assert.Equal("""{"type":"enum","name":"E","symbols":["A"]}""", (await after.GetSchemaAsync(other)).SchemaString);
        Assert.Equal(4, next);
    }

    [Fact]
    public async Task Eight_concurrent_registrations_through_two_instances_get_one_id()
    {
        await using var a = await StartKafkaBackedAsync();
        await using var b = await StartKafkaBackedAsync();
        using var start = new ManualResetEventSlim();

        var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            using var client = ClientFor(i % 2 == 0 ? a : b);
            start.Wait(Ct);
            return await client.RegisterSchemaAsync("payments-value", AvroSchema(i % 3 == 0 ? PaymentSchemaReformatted : PaymentSchema));
        }, Ct)).ToArray();
        start.Set();
        var ids = await Task.WhenAll(tasks);

        Assert.Single(ids.Distinct());
        await b.Store.CatchUpAsync(Ct);
        await a.Store.CatchUpAsync(Ct);
        using var viaA = ClientFor(a);
        using var viaB = ClientFor(b);
        Assert.Equal([1], await viaA.GetSubjectVersionsAsync("payments-value"));
        Assert.Equal([1], await viaB.GetSubjectVersionsAsync("payments-value"));
    }

    [Fact]
    public async Task Two_instances_registering_different_schemas_at_once_agree_on_every_id()
    {
        await using var a = await StartKafkaBackedAsync();
        await using var b = await StartKafkaBackedAsync();
        using var start = new ManualResetEventSlim();

        var tasks = Enumerable.Range(0, 8).Select(i => Task.Run(async () =>
        {
            using var client = ClientFor(i % 2 == 0 ? a : b);
            start.Wait(Ct);
            var schema = $$"""{"type":"record","name":"R{{i}}","fields":[{"name":"x","type":"long"}]}""";
            return (Subject: $"s{i}-value", Id: await client.RegisterSchemaAsync($"s{i}-value", AvroSchema(schema)));
        }, Ct)).ToArray();
        start.Set();
        var registered = await Task.WhenAll(tasks);

        await a.Store.CatchUpAsync(Ct);
        await b.Store.CatchUpAsync(Ct);
        Assert.Equal(8, registered.Select(r => r.Id).Distinct().Count());
        foreach (var (subject, id) in registered)
        {
            var inA = a.Store.State.GetVersions(subject, includeDeleted: false)!.Single();
            var inB = b.Store.State.GetVersions(subject, includeDeleted: false)!.Single();
            Assert.Equal((id, id), (inA.Id, inB.Id));
            Assert.Equal(a.Store.State.GetSchema(id)!.Schema, b.Store.State.GetSchema(id)!.Schema);
        }
    }

    [Fact]
    public async Task A_schema_registered_on_one_instance_is_served_by_another_at_once()
    {
        await using var a = await StartKafkaBackedAsync();
        await using var b = await StartKafkaBackedAsync();
        using var viaA = ClientFor(a);
        using var viaB = ClientFor(b);

        for (var i = 0; i < 5; i++)
        {
            var schema = $$"""{"type":"record","name":"R{{i}}","fields":[{"name":"x","type":"long"}]}""";
            var id = await viaA.RegisterSchemaAsync($"s{i}-value", AvroSchema(schema));

            Assert.Equal(schema, (await viaB.GetSchemaAsync(id)).SchemaString);
            Assert.Equal(id, (await viaB.LookupSchemaAsync($"s{i}-value", AvroSchema(schema), ignoreDeletedSchemas: true)).Id);
        }
    }

    [Fact]
    public async Task Confluent_serializer_with_auto_registration_off_and_deserializer_work_against_it()
    {
        await using var registry = await StartKafkaBackedAsync();
        using var admin = ClientFor(registry);
        var id = await admin.RegisterSchemaAsync("payments-value", AvroSchema(PaymentSchema));
        var schema = (Avro.RecordSchema)Avro.Schema.Parse(PaymentSchema);
        var record = new GenericRecord(schema);
        record.Add("paymentId", "py_1");
        record.Add("amountMinor", 12_345L);
        var context = new SerializationContext(MessageComponentType.Value, "payments");

        using var client = ClientFor(registry);
        var serializer = new AvroSerializer<GenericRecord>(client, new AvroSerializerConfig { AutoRegisterSchemas = false });
        var bytes = await serializer.SerializeAsync(record, context);
        using var readerClient = ClientFor(registry);
        var back = await new AvroDeserializer<GenericRecord>(readerClient).DeserializeAsync(bytes, isNull: false, context);

        var unregistered = new GenericRecord((Avro.RecordSchema)Avro.Schema.Parse(PaymentSchemaV2));
        unregistered.Add("paymentId", "py_2");
        unregistered.Add("amountMinor", 1L);
        unregistered.Add("note", null);
        var refused = await Assert.ThrowsAnyAsync<Exception>(() => serializer.SerializeAsync(unregistered, context));

        Assert.Equal(id, BinaryPrimitives.ReadInt32BigEndian(bytes.AsSpan(1, 4)));
        Assert.Equal(("py_1", 12_345L), ((string)back["paymentId"], (long)back["amountMinor"]));
        Assert.Contains("40403", refused.ToString(), StringComparison.Ordinal);
        Assert.Equal([1], await admin.GetSubjectVersionsAsync("payments-value"));
    }
}
