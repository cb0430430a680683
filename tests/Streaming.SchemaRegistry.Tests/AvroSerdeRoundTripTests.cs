using System.Buffers.Binary;
using Avro;
using Avro.Generic;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using static Streaming.SchemaRegistry.Tests.RegistryTestSupport;

namespace Streaming.SchemaRegistry.Tests;

/// <summary>
/// Confluent's own <see cref="AvroSerializer{T}"/> / <see cref="AvroDeserializer{T}"/> talking to the embedded
/// registry over HTTP, with money as Avro decimal and time as timestamp-millis. No broker is involved: the serdes
/// are called directly with a serialization context.
/// </summary>
public sealed class AvroSerdeRoundTripTests
{
    private const string Topic = "tests.invoices.v1";

    private static readonly RecordSchema InvoiceSchema =
        (RecordSchema)Avro.Schema.Parse(File.ReadAllText(FixturePath("schemas", "billing", "invoice.avsc")));

    private static GenericRecord Invoice(string id, decimal amount, DateTime issuedAt)
    {
        var record = new GenericRecord(InvoiceSchema);
        record.Add("invoiceId", id);
        record.Add("amount", new AvroDecimal(amount));
        record.Add("currency", "EUR");
        record.Add("issuedAt", issuedAt);
        return record;
    }

    private static int SchemaIdOf(byte[] payload)
    {
        Assert.Equal(0, payload[0]); // Confluent wire format: magic byte, then a big-endian schema id.
        return BinaryPrimitives.ReadInt32BigEndian(payload.AsSpan(1, 4));
    }

    [Fact]
    public async Task Serializer_auto_registers_and_deserializer_reads_back_decimal_and_timestamp()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        var serializer = new AvroSerializer<GenericRecord>(client, new AvroSerializerConfig { AutoRegisterSchemas = true });
        var deserializer = new AvroDeserializer<GenericRecord>(ClientFor(registry));
        var context = new SerializationContext(MessageComponentType.Value, Topic);
        var issuedAt = new DateTime(2026, 11, 1, 9, 30, 15, 123, DateTimeKind.Utc);

        var bytes = await serializer.SerializeAsync(Invoice("in_123", 1234.5600m, issuedAt), context);
        var back = await deserializer.DeserializeAsync(bytes, isNull: false, context);

        var registered = await client.GetLatestSchemaAsync(Topic + "-value");
        Assert.Equal(registered.Id, SchemaIdOf(bytes));
        Assert.Equal("in_123", back["invoiceId"]);
        Assert.Equal(1234.5600m, (decimal)(AvroDecimal)back["amount"]);
        Assert.Equal(issuedAt, ((DateTime)back["issuedAt"]).ToUniversalTime());
        Assert.Equal("EUR", back["currency"]);
    }

    [Fact]
    public async Task Serializer_with_auto_register_off_uses_the_latest_registered_version()
    {
        await using var registry = await StartRegistryAsync();
        using var admin = ClientFor(registry);
        var id = await admin.RegisterSchemaAsync(Topic + "-value", new Confluent.SchemaRegistry.Schema(InvoiceSchema.ToString(), SchemaType.Avro));

        using var client = ClientFor(registry);
        var serializer = new AvroSerializer<GenericRecord>(client, new AvroSerializerConfig { AutoRegisterSchemas = false, UseLatestVersion = true });
        var deserializer = new AvroDeserializer<GenericRecord>(client);
        var context = new SerializationContext(MessageComponentType.Value, Topic);
        var issuedAt = new DateTime(2026, 11, 2, 0, 0, 0, DateTimeKind.Utc);

        var bytes = await serializer.SerializeAsync(Invoice("in_456", -0.0100m, issuedAt), context);
        var back = await deserializer.DeserializeAsync(bytes, isNull: false, context);

        Assert.Equal(id, SchemaIdOf(bytes));
        Assert.Equal(-0.0100m, (decimal)(AvroDecimal)back["amount"]);
        Assert.Equal(issuedAt, ((DateTime)back["issuedAt"]).ToUniversalTime());
        Assert.Equal([1], await admin.GetSubjectVersionsAsync(Topic + "-value"));
    }
}
