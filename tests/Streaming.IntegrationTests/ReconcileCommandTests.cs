using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.Processors.FinanceMapping;
using Streaming.SchemaRegistry;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Posting;

namespace Streaming.IntegrationTests;

/// <summary>
/// <c>streaming reconcile</c> end to end on an embedded broker of its own: finance events on <c>finance.events.v1</c>, a SQLite
/// ledger holding their journals (DE01's on the AR account its <c>md.gl-mappings.v1</c> mappings give it), the sink group's committed offsets. Exit 0 when they match; exit 1 with the break named by
/// posting key and source id when a fact the sink read has no posting, or a billing record the mapping stage read became neither
/// a finance event nor a quarantine record; <c>--entity</c> scopes it; no cluster or a bad period is exit 2. The comparison rules themselves are covered by <c>Streaming.Sinks.Tests.ReconcilerTests</c>.
/// </summary>
public sealed class ReconcileCommandTests
{
    private const string SinkGroup = "reconcile-sink";

    private static FinanceEvent Event(FinanceEventType type, string id, string entity, string currency, decimal amount, decimal tax = 0m) => new()
    {
        eventId = $"fe_{id}", eventType = type,
        postingKey = type == FinanceEventType.PAYMENT_APPLIED ? $"payment:{id}:applied" : $"invoice:{id}:issued",
        correlationId = $"corr-{id}", legalEntityId = entity, customerId = "C-1", currency = currency,
        totalAmount = Money.ToAvro(amount), taxAmount = Money.ToAvro(tax), effectiveDate = new DateTime(2026, 11, 12, 0, 0, 0, DateTimeKind.Utc), documentNumber = id,
        lines = type == FinanceEventType.PAYMENT_APPLIED
            ? [new FinanceEventLine { lineId = $"{id}:cash", kind = Contracts.Finance.FinanceLineKind.CASH, amount = Money.ToAvro(amount) }]
            : [new FinanceEventLine { lineId = $"{id}:l1", kind = Contracts.Finance.FinanceLineKind.SERVICES, amount = Money.ToAvro(amount - tax) },
               new FinanceEventLine { lineId = $"{id}:tax", kind = Contracts.Finance.FinanceLineKind.TAX, amount = Money.ToAvro(tax), taxJurisdiction = "DE" }],
        source = new SourceRef { system = "stripe", objectType = type == FinanceEventType.PAYMENT_APPLIED ? "payment" : "invoice", objectId = id, eventId = $"evt_{id}" },
        createdAt = new DateTime(2026, 11, 12, 0, 0, 0, DateTimeKind.Utc),
    };

    [Fact]
    public async Task Matching_sources_exit_0_and_an_unposted_fact_is_a_break_naming_its_key_and_source()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 1, WatermarkCheckInterval = TimeSpan.Zero });
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        cluster.CreateTopic(Topics.FinanceEvents, 2, 1);
        foreach (var (topic, schema) in new (string, Avro.Schema)[]
                 {
                     (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.Quarantine, QuarantineRecord._SCHEMA),
                     (Topics.BillingInvoices, Invoice._SCHEMA), (Topics.BillingPayments, Payment._SCHEMA),
                     (Topics.GlMappings, Contracts.MasterData.GlMapping._SCHEMA),
                 })
        {
            if (topic != Topics.FinanceEvents)
            {
                cluster.CreateTopic(topic, 1, 1);
            }

            await client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }
        var path = Path.Combine(Path.GetTempPath(), $"reconcile-it-{Guid.NewGuid():N}.db");
        await using var ledger = await SqliteLedger.OpenAsync(path, ct);
        using var producer = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers }).Build();
        var serdes = new AvroSerdes<FinanceEvent>(client);
        // DE01 has GL mappings of its own (AR 120000): its journals are posted with them and reconcile must read them the same way.
        var chart = new GlMappingChartOfAccounts(DefaultChartOfAccounts.Instance);
        foreach (var (role, account, jurisdiction) in new (Contracts.MasterData.AccountRole, string, string?)[]
                 {
                     (Contracts.MasterData.AccountRole.AR, "120000", null), (Contracts.MasterData.AccountRole.SERVICES_REVENUE, "410000", null),
                     (Contracts.MasterData.AccountRole.TAX_PAYABLE, "176000", "DE"),
                 })
        {
            var mapping = new Contracts.MasterData.GlMapping { mappingId = $"gl_DE01_{role}", legalEntityId = "DE01", accountRole = role, glAccountNumber = account, jurisdictionCode = jurisdiction };
            chart.Apply(mapping.mappingId, mapping);
            await producer.ProduceAsync(Topics.GlMappings, new Message<string, byte[]>
            {
                Key = mapping.mappingId, Value = new AvroSerdes<Contracts.MasterData.GlMapping>(client).SerializeValue(mapping, Topics.GlMappings),
            }, ct);
        }

        var builder = new JournalBuilder(chart);

        async Task PublishAsync(FinanceEvent e, bool post)
        {
            await producer.ProduceAsync(Topics.FinanceEvents, new Message<string, byte[]> { Key = e.customerId + e.legalEntityId, Value = serdes.SerializeValue(e, Topics.FinanceEvents) }, ct);
            if (post)
            {
                await ledger.PostBatchAsync([builder.Build(FinanceFactMapper.ToFact(e))], ct);
            }

            // The sink "has read" everything: its group's committed offsets are at the ends.
            using var c = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = SinkGroup }).Build();
            c.Commit(new[] { 0, 1 }.Select(p => new TopicPartitionOffset(new TopicPartition(Topics.FinanceEvents, p),
                c.QueryWatermarkOffsets(new TopicPartition(Topics.FinanceEvents, p), TimeSpan.FromSeconds(10)).High)).ToList());
        }

        // The billing records behind the events, plus one the mapping stage quarantined; the mapping stage has read all of them.
        var nov12 = new DateTime(2026, 11, 12, 0, 0, 0, DateTimeKind.Utc);
        async Task<DeliveryResult<string, byte[]>> BillingAsync(string topic, string key, byte[] value) =>
            await producer.ProduceAsync(topic, new Message<string, byte[]> { Key = key, Value = value }, ct);
        byte[] Pay(string id, decimal amount) => new AvroSerdes<Payment>(client).SerializeValue(new Payment
        {
            paymentId = id, invoiceId = "in_1", customerId = "cus_1", amount = Money.ToAvro(amount), fee = null, currency = "usd", status = PaymentStatus.SUCCEEDED,
            kind = PaymentKind.PAYMENT, occurredAt = nov12, sourceEventId = $"evt_{id}", sourceSystem = BillingSourceSystem.STRIPE,
        }, Topics.BillingPayments);
        Invoice Inv(string id, decimal total, string currency) => new()
        {
            invoiceId = id, number = id, customerId = "cus_1", status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED, currency = currency,
            subtotal = Money.ToAvro(total), tax = Money.ToAvro(0m), total = Money.ToAvro(total), amountPaid = Money.ToAvro(0m), lines = [], taxLines = [],
            issuedAt = nov12, sourceEventId = $"evt_{id}", sourceSystem = BillingSourceSystem.STRIPE, occurredAt = nov12,
        };
        await BillingAsync(Topics.BillingInvoices, "in_1", new AvroSerdes<Invoice>(client).SerializeValue(Inv("in_1", 1072.50m, "usd"), Topics.BillingInvoices));
        await BillingAsync(Topics.BillingInvoices, "in_2", new AvroSerdes<Invoice>(client).SerializeValue(Inv("in_2", 119.00m, "eur"), Topics.BillingInvoices));
        await BillingAsync(Topics.BillingPayments, "pi_1", Pay("pi_1", 1072.50m));
        var orphan = await BillingAsync(Topics.BillingPayments, "pi_9", Pay("pi_9", 9.99m));
        await producer.ProduceAsync(Topics.Quarantine, new Message<string, byte[]>
        {
            Key = "corr-pi_9",
            Value = new AvroSerdes<QuarantineRecord>(client).SerializeValue(new QuarantineRecord
            {
                quarantineId = "q1", reasonCode = "MISSING_ACCOUNT_LINK", reasonDetail = "no link", missing = ["account-link billing:cus_9"], stage = FinanceMappingTopology.ApplicationId,
                correlationId = "corr-pi_9", postingKey = null, businessContext = new Dictionary<string, string>(), sourceTopic = orphan.Topic, sourcePartition = orphan.Partition.Value,
                sourceOffset = orphan.Offset.Value, originalValue = Pay("pi_9", 9.99m), headers = new Dictionary<string, byte[]>(), quarantinedAt = nov12,
            }, Topics.Quarantine),
        }, ct);
        void MappingStageReadAll()
        {
            using var c = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = cluster.BootstrapServers, GroupId = FinanceMappingTopology.ApplicationId }).Build();
            c.Commit(new[] { Topics.BillingInvoices, Topics.BillingPayments }.Select(t => new TopicPartitionOffset(new TopicPartition(t, 0),
                c.QueryWatermarkOffsets(new TopicPartition(t, 0), TimeSpan.FromSeconds(10)).High)).ToList());
        }

        MappingStageReadAll();
        await PublishAsync(Event(FinanceEventType.INVOICE_ISSUED, "in_1", "US01", "USD", 1072.50m, 72.50m), post: true);
        await PublishAsync(Event(FinanceEventType.PAYMENT_APPLIED, "pi_1", "US01", "USD", 1072.50m), post: true);
        await PublishAsync(Event(FinanceEventType.INVOICE_ISSUED, "in_2", "DE01", "EUR", 119.00m, 19.00m), post: true);

        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Kafka:BootstrapServers"] = cluster.BootstrapServers, ["SchemaRegistry:Url"] = registry.Url, ["Ledger:SqlitePath"] = path,
        }).Build();
        async Task<(int, string, string)> ReconcileAsync(string? entity = null, string period = "2026-11")
        {
            var output = new StringWriter();
            var error = new StringWriter();
            var exit = await ReconcileCommand.RunAsync(period, entity, null, SinkGroup, output, error, ct, config);
            return (exit, output.ToString(), error.ToString());
        }

        var (exit, output, error) = await ReconcileAsync();
        Assert.True(exit == ReconcileCommand.ExitClean, output + error);
        Assert.Matches(@"(?m)^US01\s+USD\s+1072\.50\s+1072\.50\s+1072\.50\s+1072\.50\s+0\.00\s+0\.00$", output);
        Assert.Matches(@"(?m)^DE01\s+EUR\s+119\.00\s+119\.00\s+0\.00\s+0\.00\s+0\.00\s+0\.00$", output);
        Assert.Contains("Billing records in the period: 4 (3 mapped to finance events, 1 quarantined, 0 not yet read by the mapping stage, 0 not mapped)", output, StringComparison.Ordinal);
        Assert.Contains("explained: payment:pi_9:applied (source stripe:payment:pi_9) - 9.99 USD: quarantined by the mapping stage (MISSING_ACCOUNT_LINK)", output, StringComparison.Ordinal);

        await BillingAsync(Topics.BillingPayments, "pi_2", Pay("pi_2", 25.00m));
        await BillingAsync(Topics.BillingPayments, "pi_8", Pay("pi_8", 8.00m)); // read by the mapping stage, never mapped
        MappingStageReadAll();
        await PublishAsync(Event(FinanceEventType.PAYMENT_APPLIED, "pi_2", "US01", "USD", 25.00m), post: false);
        (exit, output, error) = await ReconcileAsync();
        Assert.Equal(ReconcileCommand.ExitBreaks, exit);
        Assert.Contains("BREAK MissingPosting US01 USD posting key payment:pi_2:applied source stripe:payment:pi_2: source 25.00, ledger -.", output, StringComparison.Ordinal);
        Assert.Contains("BREAK NotMapped - USD posting key payment:pi_8:applied source stripe:payment:pi_8: source 8.00, ledger -. billing record billing.payments.v1[0]@", output, StringComparison.Ordinal);

        (exit, output, _) = await ReconcileAsync(entity: "DE01");
        Assert.True(exit == ReconcileCommand.ExitClean, output);
        Assert.DoesNotContain("US01", output, StringComparison.Ordinal);

        (exit, _, error) = await ReconcileAsync(period: "2026-1");
        Assert.Equal((ReconcileCommand.ExitBadInput, true), (exit, error.Contains("'2026-1' is not a month", StringComparison.Ordinal)));

        await ledger.DisposeAsync();
        foreach (var f in new[] { path, path + "-wal", path + "-shm" })
        {
            File.Delete(f);
        }
    }

    [Fact]
    public async Task No_cluster_configured_is_exit_2()
    {
        var error = new StringWriter();
        var exit = await ReconcileCommand.RunAsync("2026-11", null, null, null, new StringWriter(), error, TestContext.Current.CancellationToken,
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>()).Build());
        Assert.Equal(ReconcileCommand.ExitBadInput, exit);
        Assert.Contains("set KAFKA_BOOTSTRAP_SERVERS and SCHEMA_REGISTRY_URL", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_NetSuite_provider_is_refused_with_the_reason_and_exit_2()
    {
        var error = new StringWriter();
        var exit = await ReconcileCommand.RunAsync("2026-11", null, null, null, new StringWriter(), error, TestContext.Current.CancellationToken,
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Ledger:Provider"] = "NetSuite" }).Build());
        Assert.Equal(ReconcileCommand.ExitBadInput, exit);
        Assert.Contains("Ledger:Provider is 'NetSuite'", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_PostgreSQL_ledger_is_named_and_exit_2()
    {
        // LEDGER_CONNECTION_STRING selects the PostgreSQL ledger; nothing listens on port 1, so the ledger cannot be opened
        // (the ledger is opened before any source is read, so the Kafka address is never dialled).
        var error = new StringWriter();
        var exit = await ReconcileCommand.RunAsync("2026-11", null, null, null, new StringWriter(), error, TestContext.Current.CancellationToken,
            new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Kafka:BootstrapServers"] = "127.0.0.1:1", ["SchemaRegistry:Url"] = "http://127.0.0.1:1",
                ["Ledger:ConnectionString"] = "Host=127.0.0.1;Port=1;Database=ledger;Username=postgres;Timeout=2",
            }).Build());
        Assert.Equal(ReconcileCommand.ExitBadInput, exit);
        Assert.Contains("could not open the PostgreSQL ledger", error.ToString(), StringComparison.Ordinal);
    }
}
