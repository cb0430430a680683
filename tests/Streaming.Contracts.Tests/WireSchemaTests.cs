using System.Reflection;
using Avro;
using Avro.IO;
using Avro.Specific;
using Streaming.Codegen;

namespace Streaming.Contracts.Tests;

/// <summary>
/// Each top-level generated class carries the wire schema of its .avsc file (namespaces mapped to C#), which is what a
/// serializer registers. Also shows why: Apache.Avro's specific reader resolves classes by Avro full name, so a record
/// written under the unmapped streaming.* names cannot be read into the generated classes.
/// </summary>
public sealed class WireSchemaTests
{
    public static TheoryData<string> SchemaFiles() => SchemaRulesTests.SchemaFiles();

    [Theory]
    [MemberData(nameof(SchemaFiles))]
    public void Generated_class_carries_the_wire_schema_of_its_file(string file)
    {
        var wire = (RecordSchema)ContractGenerator.ToWireSchema(File.ReadAllText(Path.Combine(Repo.Root, file)), file);

        var type = typeof(Money).Assembly.GetType(wire.Fullname);
        Assert.True(type is not null, $"{file}: no generated class {wire.Fullname}");
        var embedded = (Schema)type.GetField("_SCHEMA", BindingFlags.Public | BindingFlags.Static)!.GetValue(null)!;

        Assert.Equal(wire.ToString(), embedded.ToString());
    }

    [Fact]
    public void Wire_schema_names_use_the_contract_namespaces()
    {
        var wire = (RecordSchema)ContractGenerator.ToWireSchema(File.ReadAllText(Path.Combine(Repo.SchemasDir, "finance/event.avsc")));

        Assert.Equal("Streaming.Contracts.Finance.FinanceEvent", wire.Fullname);
        Assert.Equal("Streaming.Contracts.Finance.SourceRef", ((RecordSchema)wire["source"].Schema).Fullname);
    }

    [Fact]
    public void Unmapped_streaming_names_cannot_be_used_with_the_generated_classes()
    {
        var unmapped = Schema.Parse(File.ReadAllText(Path.Combine(Repo.SchemasDir, "billing/payment.avsc")));
        var payment = new Billing.Payment
        {
            paymentId = "pi_1", customerId = "cus_1", amount = Money.ToAvro(1m), currency = "USD",
            status = Billing.PaymentStatus.SUCCEEDED, kind = Billing.PaymentKind.PAYMENT, occurredAt = DateTime.UnixEpoch,
            sourceEventId = "evt_1", sourceSystem = Billing.BillingSourceSystem.STRIPE,
        };

        var ex = Assert.Throws<AvroException>(() =>
            new SpecificDatumWriter<Billing.Payment>(unmapped).Write(payment, new BinaryEncoder(new MemoryStream())));

        Assert.Contains("streaming.billing.PaymentStatus", ex.Message, StringComparison.Ordinal);
    }
}
