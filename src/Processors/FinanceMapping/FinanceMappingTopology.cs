using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Avro.Specific;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Processors.Public;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Stream;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;

namespace Streaming.Processors.FinanceMapping;

/// <summary>The serdes a finance topology needs; one registry client shared by all.</summary>
public sealed class FinanceSerdes(ISchemaRegistryClient registry)
{
    /// <summary>Keys are plain UTF-8 strings.</summary>
    public ISerDes<string> Key { get; } = new StringSerDes();

    /// <summary>Serdes for a contract type.</summary>
    public ISerDes<T> Avro<T>() where T : class, ISpecificRecord => new StreamizAvroSerDes<T>(registry);

    /// <summary>Serdes for a contract type framed under <paramref name="subjectTopic"/>'s subject (for internal topics).</summary>
    public ISerDes<T> Avro<T>(string subjectTopic) where T : class, ISpecificRecord => new StreamizAvroSerDes<T>(registry, subjectTopic);

    /// <summary>
    /// Serdes for a topology's source topic (<c>builder.Stream</c>, a repartition topic): as <see cref="Avro{T}()"/>, but
    /// each consumed record is decoded once although Streamiz asks twice (<see cref="StreamizAvroSerDes{T}.DecodeOncePerRecord"/>).
    /// Not for state stores or global tables, whose stored bytes may be read again and again.
    /// </summary>
    public ISerDes<T> Source<T>(string? subjectTopic = null) where T : class, ISpecificRecord
        => new StreamizAvroSerDes<T>(registry, subjectTopic) { DecodeOncePerRecord = true };
}

/// <summary>
/// Billing facts → canonical finance events. Invoices, credit notes and payments go through
/// <see cref="FinanceMappingProcessor"/> (readiness gate, mapping, revenue schedules) and usage through
/// <see cref="Usage.UsageWindowProcessor"/> (windowed rating); both read the master data from the GlobalKTables of
/// <see cref="MasterDataTables"/>. A fact whose master data is missing waits (bounded) and then goes to
/// <c>ops.quarantine.v1</c>; undeserializable records and tombstones go to <c>ops.dlq.v1</c>.
/// </summary>
/// <remarks>
/// Credit notes are re-keyed by invoice through a repartition topic, so a credit note meets its invoice's revenue
/// schedules in the same task and state store. Account links are looked up by <c>billing:{customer id}</c>.
/// </remarks>
public static class FinanceMappingTopology
{
    /// <summary>Default Streamiz application id.</summary>
    public const string ApplicationId = "streaming-processors-finance-mapping";

    /// <summary>State store of the account links GlobalKTable.</summary>
    public const string AccountLinksStore = MasterDataTables.AccountLinksStore;

    /// <summary>State store of the legal entities GlobalKTable.</summary>
    public const string LegalEntitiesStore = MasterDataTables.LegalEntitiesStore;

    /// <summary>State store of invoices/credit notes: revenue schedules and parked records.</summary>
    public const string InvoiceStore = "finance-invoices";

    /// <summary>State store of payments parked by the readiness gate.</summary>
    public const string PaymentStore = "finance-payments";

    /// <summary>Stage named in the quarantine records of the billing facts.</summary>
    public const string Stage = ApplicationId;

    /// <summary>Key of an account link for a billing customer.</summary>
    public static string BillingLinkKey(string billingCustomerId) => $"billing:{billingCustomerId}";

    /// <summary>Adds the topology (master data, billing facts, usage) to a builder.</summary>
    public static void ConfigureTopology(StreamBuilder builder, FinanceSerdes serdes, FinanceMappingOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(serdes);
        options ??= new FinanceMappingOptions();
        var masterData = MasterDataTables.Declare(builder, serdes);

        var invoices = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.BillingInvoices, serdes.Key, serdes.Source<Invoice>()), serdes, ApplicationId, "invoice")
            .MapValues((v, _) => new BillingFact(Invoice: v), "invoice-fact");
        var credits = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.BillingCreditNotes, serdes.Key, serdes.Source<CreditNote>()), serdes, ApplicationId, "credit-note")
            .Transform(TransformerBuilder.New<string, CreditNote, string, CreditNote>().Transformer(ByInvoice).Build(), "credit-note-by-invoice")
            .Repartition(Repartitioned<string, CreditNote>.As("credit-notes-by-invoice").WithKeySerdes(serdes.Key).WithValueSerdes(serdes.Source<CreditNote>(Topics.BillingCreditNotes)))
            .MapValues((v, _) => new BillingFact(CreditNote: v), "credit-note-fact");
        Map(invoices.Merge(credits, "invoice-credit-merge"), serdes, options, InvoiceStore, "invoice");

        var payments = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.BillingPayments, serdes.Key, serdes.Source<Payment>()), serdes, ApplicationId, "payment")
            .MapValues((v, _) => new BillingFact(Payment: v), "payment-fact");
        Map(payments, serdes, options, PaymentStore, "payment");

        Usage.UsageAccrualTopology.ConfigureTopology(builder, serdes, masterData, options);

        var opportunities = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.CrmOpportunities, serdes.Key, serdes.Source<Streaming.Contracts.Crm.CrmOpportunity>()),
            serdes, ApplicationId, "opportunity");
        Sinks(opportunities.Transform(
            TransformerBuilder.New<string, Streaming.Contracts.Crm.CrmOpportunity, string, FinanceOutput>()
                .Transformer<Orders.OrderEnrichmentProcessor>(new GateSettings(OrderStore, "order-enrichment", serdes, options))
                .StateStore(StoreBuilder(OrderStore, options))
                .Build(),
            "opportunity-enrich"), serdes, "opportunity");
    }

    /// <summary>State store of the order enrichment (orders emitted, parked opportunities).</summary>
    public const string OrderStore = "finance-orders";

    /// <summary>A string/JSON key-value store on RocksDB or in memory, per <see cref="FinanceMappingOptions.PersistentState"/>.</summary>
    public static IStoreBuilder StoreBuilder(string name, FinanceMappingOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Stores.KeyValueStoreBuilder(options.PersistentState ? Stores.PersistentKeyValueStore(name) : Stores.InMemoryKeyValueStore(name),
            new StringSerDes(), new StringSerDes());
    }

    /// <summary>Writes a processor's outputs: finance events to <c>finance.events.v1</c>, quarantine records to <c>ops.quarantine.v1</c>.</summary>
    public static void Sinks(IKStream<string, FinanceOutput> outputs, FinanceSerdes serdes, string name)
    {
        ArgumentNullException.ThrowIfNull(outputs);
        ArgumentNullException.ThrowIfNull(serdes);
        // One branch node routes each output to its one sink (three filters would each see every output).
        var routes = outputs.Branch($"{name}-outputs", (_, o, _) => o.Event is not null, (_, o, _) => o.Order is not null, (_, o, _) => o.Quarantine is not null);
        routes[0].MapValues((o, _) => o.Event!, $"{name}-event-values")
            .ToTopic(Topics.FinanceEvents, serdes.Key, serdes.Avro<FinanceEvent>(), $"{name}-finance-events-sink");
        routes[1].MapValues((o, _) => o.Order!, $"{name}-order-values")
            .ToTopic(Topics.FinanceOrders, serdes.Key, serdes.Avro<FinanceOrder>(), $"{name}-finance-orders-sink");
        routes[2].MapValues((o, _) => o.Quarantine!, $"{name}-quarantine-values")
            .ToTopic(Topics.Quarantine, serdes.Key, serdes.Avro<QuarantineRecord>(), $"{name}-quarantine-sink");
    }

    private static void Map(IKStream<string, BillingFact> facts, FinanceSerdes serdes, FinanceMappingOptions options, string store, string name)
    {
        var outputs = facts.Transform(
            TransformerBuilder.New<string, BillingFact, string, FinanceOutput>()
                .Transformer<FinanceMappingProcessor>(new GateSettings(store, Stage, serdes, options))
                .StateStore(StoreBuilder(store, options))
                .Build(),
            $"{name}-map");
        Sinks(outputs, serdes, name);
    }

    // Credit notes are keyed by credit note id; re-keyed by invoice id, with their source coordinates and key in
    // internal headers (the repartition topic would otherwise replace them).
    private static Record<string, CreditNote> ByInvoice(Record<string, CreditNote> record)
    {
        var headers = new Headers();
        if (record.Headers is { } input)
        {
            foreach (var h in input)
            {
                if (!h.Key.StartsWith(ReadinessGate<BillingFact>.InternalHeaderPrefix, StringComparison.Ordinal))
                {
                    headers.Add(h.Key, h.GetValueBytes());
                }
            }
        }

        var tpo = record.TopicPartitionOffset;
        headers.Add(FinanceMappingProcessor.SourceTopicHeader, FinanceMappingProcessor.Utf8(tpo.Topic));
        headers.Add(FinanceMappingProcessor.SourcePartitionHeader, FinanceMappingProcessor.Utf8(tpo.Partition.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        headers.Add(FinanceMappingProcessor.SourceOffsetHeader, FinanceMappingProcessor.Utf8(tpo.Offset.Value.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        if (record.Key is { } key)
        {
            headers.Add(FinanceMappingProcessor.SourceKeyHeader, FinanceMappingProcessor.Utf8(key));
        }

        return Record<string, CreditNote>.Create(record.Value.invoiceId, record.Value, headers);
    }
}
