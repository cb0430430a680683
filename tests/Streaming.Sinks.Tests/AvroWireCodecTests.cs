using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Erp;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;

namespace Streaming.Sinks.Tests;

/// <summary>An embedded registry with the sink's four value subjects registered.</summary>
public sealed class SinkRegistryFixture : IAsyncLifetime
{
    private EmbeddedSchemaRegistry _registry = null!;

    /// <summary>Client on the embedded registry.</summary>
    public CachedSchemaRegistryClient Client { get; private set; } = null!;

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        _registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: TestContext.Current.CancellationToken);
        Client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url });
        foreach (var (topic, schema) in new (string, Avro.Schema)[]
                 {
                     (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.ErpPostings, ErpPostingResult._SCHEMA),
                     (Topics.Quarantine, QuarantineRecord._SCHEMA), (Topics.DeadLetters, DeadLetterRecord._SCHEMA),
                 })
        {
            await Client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _registry.DisposeAsync();
    }
}

/// <summary><see cref="AvroWireCodec{T}"/> writes exactly the bytes of Confluent's serializer, and each reads the other's.</summary>
public sealed class AvroWireCodecTests(SinkRegistryFixture registry) : IClassFixture<SinkRegistryFixture>
{
    private static FinanceEvent Event() => new()
    {
        eventId = "fe_1", eventType = FinanceEventType.INVOICE_ISSUED, postingKey = "invoice:in_1:issued", correlationId = "corr-1",
        legalEntityId = "US01", customerId = "C-1", currency = "USD", totalAmount = Money.ToAvro(108.25m), taxAmount = Money.ToAvro(8.25m),
        effectiveDate = new DateTime(2026, 11, 3, 0, 0, 0, DateTimeKind.Utc), documentNumber = "INV-1",
        lines =
        [
            new FinanceEventLine { lineId = "l1", kind = FinanceLineKind.SERVICES, amount = Money.ToAvro(100m), productId = "prod_1" },
            new FinanceEventLine { lineId = "l2", kind = FinanceLineKind.TAX, amount = Money.ToAvro(8.25m), taxJurisdiction = "US-CA" },
        ],
        source = new SourceRef { system = "stripe", objectType = "invoice", objectId = "in_1", eventId = "evt_1", topic = "billing.invoices.v1", partition = 3, offset = 42 },
        createdAt = new DateTime(2026, 11, 3, 12, 0, 0, DateTimeKind.Utc),
    };

    private static QuarantineRecord Quarantine() => new()
    {
        quarantineId = "q_1", reasonCode = "UNBALANCED_JOURNAL", reasonDetail = "off by 0.01", missing = ["gl"], stage = "sink", correlationId = "corr-1",
        postingKey = "invoice:in_1:issued", businessContext = new Dictionary<string, string> { ["imbalance"] = "0.01", ["currency"] = "USD" },
        sourceTopic = Topics.FinanceEvents, sourcePartition = 1, sourceOffset = 7, originalKey = [1, 2], originalValue = [0, 0, 0, 0, 1, 9],
        headers = new Dictionary<string, byte[]> { ["traceparent"] = [48, 48] }, quarantinedAt = new DateTime(2026, 11, 3, 12, 0, 1, DateTimeKind.Utc),
    };

    [Fact]
    public void Writes_the_same_bytes_as_Confluents_serializer_and_each_reads_the_other()
    {
        var ours = new AvroWireCodec<FinanceEvent>(registry.Client);
        var confluent = new AvroSerdes<FinanceEvent>(registry.Client);

        var bytes = ours.SerializeValue(Event(), Topics.FinanceEvents);

        Assert.Equal(confluent.SerializeValue(Event(), Topics.FinanceEvents), bytes);
        var back = ours.DeserializeValue(confluent.SerializeValue(Event(), Topics.FinanceEvents), Topics.FinanceEvents);
        Assert.Equal(bytes, confluent.SerializeValue(back, Topics.FinanceEvents));
        Assert.Equal("US-CA", back.lines[1].taxJurisdiction);
        Assert.Equal(42L, back.source.offset);
        Assert.Equal("invoice:in_1:issued", confluent.DeserializeValue(bytes, Topics.FinanceEvents).postingKey);
    }

    [Fact]
    public void Maps_bytes_nulls_and_results_match_Confluent_too()
    {
        var q = new AvroWireCodec<QuarantineRecord>(registry.Client);
        var result = new ErpPostingResult
        {
            postingKey = "invoice:in_1:issued", correlationId = "corr-1", erpDocumentId = "JE-0000000001", status = PostingStatus.POSTED, contentHash = "ab",
            legalEntityId = "US01", currency = "USD", totalDebits = Money.ToAvro(108.25m), postedAt = new DateTime(2026, 11, 3, 12, 0, 0, DateTimeKind.Utc),
            ledgerName = "test", rejectionReason = null,
        };

        Assert.Equal(new AvroSerdes<QuarantineRecord>(registry.Client).SerializeValue(Quarantine(), Topics.Quarantine), q.SerializeValue(Quarantine(), Topics.Quarantine));
        Assert.Equal(new AvroSerdes<ErpPostingResult>(registry.Client).SerializeValue(result, Topics.ErpPostings),
            new AvroWireCodec<ErpPostingResult>(registry.Client).SerializeValue(result, Topics.ErpPostings));
        var back = q.DeserializeValue(q.SerializeValue(Quarantine(), Topics.Quarantine), Topics.Quarantine);
        Assert.Equal("0.01", back.businessContext["imbalance"]);
        Assert.Equal(new byte[] { 0, 0, 0, 0, 1, 9 }, back.originalValue);
    }

    [Fact]
    public void Fails_naming_the_subject_when_the_schema_is_not_registered_under_it()
    {
        var ours = new AvroWireCodec<FinanceEvent>(registry.Client);

        var ex = Assert.Throws<InvalidOperationException>(() => ours.SerializeValue(Event(), "no.such.topic"));

        Assert.Contains("no.such.topic-value", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(new byte[] { 1, 0, 0, 0, 1, 2 }, "magic byte 1")]
    [InlineData(new byte[] { 0, 0, 1 }, "3 bytes")]
    public void Rejects_bytes_without_the_Confluent_framing(byte[] data, string reason)
    {
        var ours = new AvroWireCodec<FinanceEvent>(registry.Client);

        var ex = Assert.Throws<InvalidDataException>(() => ours.DeserializeValue(data, Topics.FinanceEvents));

        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
        Assert.Contains(Topics.FinanceEvents, ex.Message, StringComparison.Ordinal);
    }
}
