using System.Text;
using Avro.Specific;
using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Processors;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Stream;
using Streamiz.Kafka.Net.Table;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;

namespace Streaming.Processors.FinanceMapping;

/// <summary>The serdes a finance topology needs; one registry client shared by all.</summary>
public sealed class FinanceSerdes(ISchemaRegistryClient registry)
{
    /// <summary>Keys are plain UTF-8 strings.</summary>
    public ISerDes<string> Key { get; } = new StringSerDes();

    /// <summary>Serdes for a contract type.</summary>
    public ISerDes<T> Avro<T>() where T : class, ISpecificRecord => new StreamizAvroSerDes<T>(registry);
}

/// <summary>
/// Billing facts → canonical finance events. Invoices and payments are joined (left join, so nothing is dropped)
/// with the account links and legal entities held as GlobalKTables over the compacted master-data topics; a fact
/// whose link or entity is missing is not emitted half-joined but goes to <c>ops.quarantine.v1</c> with the reason.
/// </summary>
/// <remarks>
/// Usage events are rated per event by <see cref="Usage.UsageAccrualTopology"/> (added here so the master-data
/// tables are declared once). This is the walking skeleton's slice: no waiting period before quarantine, no
/// revenue schedules, no usage windows and no credit notes yet (the processors issue widens it). Account links are looked up by
/// <c>billing:{customer id}</c>, the key the master-data loader writes for the billing side of a link.
/// </remarks>
public static class FinanceMappingTopology
{
    /// <summary>Default Streamiz application id.</summary>
    public const string ApplicationId = "streaming-processors-finance-mapping";

    /// <summary>State stores of the GlobalKTables (in memory: rebuilt from the compacted topics at start).</summary>
    public const string AccountLinksStore = "md-account-links";

    /// <summary>State store of the legal entities GlobalKTable.</summary>
    public const string LegalEntitiesStore = "md-legal-entities";

    /// <summary>Key of an account link for a billing customer.</summary>
    public static string BillingLinkKey(string billingCustomerId) => $"billing:{billingCustomerId}";

    /// <summary>Adds the topology to a builder.</summary>
    public static void ConfigureTopology(StreamBuilder builder, FinanceSerdes serdes)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(serdes);

        var links = builder.GlobalTable(Topics.AccountLinks, serdes.Key, serdes.Avro<AccountLink>(),
            InMemory.As<string, AccountLink>(AccountLinksStore).WithKeySerdes(serdes.Key).WithValueSerdes(serdes.Avro<AccountLink>()));
        var entities = builder.GlobalTable(Topics.LegalEntities, serdes.Key, serdes.Avro<LegalEntity>(),
            InMemory.As<string, LegalEntity>(LegalEntitiesStore).WithKeySerdes(serdes.Key).WithValueSerdes(serdes.Avro<LegalEntity>()));

        // Usage shares the same master-data tables: a builder may declare each global table only once.
        Usage.UsageAccrualTopology.ConfigureTopology(builder, serdes, links, entities);

        var invoices = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.BillingInvoices, serdes.Key, serdes.Avro<Invoice>()), serdes, ApplicationId, "invoice")
            .MapValues((v, ctx) => new Enriched<Invoice>(v, Position(ctx)), "invoice-position")
            .LeftJoin(links, (_, e) => BillingLinkKey(e.Fact.customerId), (e, link) => e with { Link = link }, "invoice-link")
            .LeftJoin(entities, (_, e) => e.Link?.legalEntityId ?? string.Empty, (e, entity) => e with { Entity = entity }, "invoice-entity");
        Route(invoices, serdes, "invoice",
            e => FinanceEventMapper.FromInvoice(e.Fact, e.Link!, e.Position),
            e => FinanceEventMapper.Context(e.Fact), e => e.Fact.correlationId ?? $"invoice:{e.Fact.invoiceId}");

        var payments = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.BillingPayments, serdes.Key, serdes.Avro<Payment>()), serdes, ApplicationId, "payment")
            .MapValues((v, ctx) => new Enriched<Payment>(v, Position(ctx)), "payment-position")
            .LeftJoin(links, (_, e) => BillingLinkKey(e.Fact.customerId), (e, link) => e with { Link = link }, "payment-link")
            .LeftJoin(entities, (_, e) => e.Link?.legalEntityId ?? string.Empty, (e, entity) => e with { Entity = entity }, "payment-entity");
        Route(payments, serdes, "payment",
            e => FinanceEventMapper.FromPayment(e.Fact, e.Link!, e.Position),
            e => FinanceEventMapper.Context(e.Fact), e => e.Fact.correlationId ?? $"payment:{e.Fact.paymentId}");
    }

    private static void Route<T>(IKStream<string, Enriched<T>> stream, FinanceSerdes serdes, string name,
        Func<Enriched<T>, FinanceEvent?> map, Func<Enriched<T>, Dictionary<string, string>> context, Func<Enriched<T>, string> correlation)
        where T : class, ISpecificRecord
    {
        var ready = stream.Filter((_, e, _) => e.Missing().Count == 0, $"{name}-ready");
        ready.FlatMap((_, e, _) => map(e) is { } fe ? [KeyValuePair.Create(fe.customerId, fe)] : Array.Empty<KeyValuePair<string, FinanceEvent>>(), $"{name}-to-finance-event")
            .To(Topics.FinanceEvents, serdes.Key, serdes.Avro<FinanceEvent>(), $"{name}-finance-events-sink");

        var valueSerdes = serdes.Avro<T>();
        stream.Filter((_, e, _) => e.Missing().Count > 0, $"{name}-not-ready")
            .Map((key, e, ctx) =>
            {
                var missing = e.Missing();
                var correlationId = correlation(e);
                var record = new QuarantineRecord
                {
                    quarantineId = $"q_{e.Position.Topic}_{e.Position.Partition}_{e.Position.Offset}",
                    reasonCode = missing[0].StartsWith("account-link", StringComparison.Ordinal) ? "MISSING_ACCOUNT_LINK" : "MISSING_LEGAL_ENTITY",
                    reasonDetail = $"{name} from {e.Position.Topic}[{e.Position.Partition}]@{e.Position.Offset} cannot be mapped: missing {string.Join(", ", missing)}",
                    missing = missing,
                    stage = ApplicationId,
                    correlationId = correlationId,
                    postingKey = null,
                    businessContext = context(e),
                    sourceTopic = e.Position.Topic,
                    sourcePartition = e.Position.Partition,
                    sourceOffset = e.Position.Offset,
                    originalKey = key is null ? null : Encoding.UTF8.GetBytes(key),
                    // Re-encoded in the same wire format (the topology sees the deserialized value); resubmittable as is.
                    originalValue = valueSerdes.Serialize(e.Fact, new Confluent.Kafka.SerializationContext(Confluent.Kafka.MessageComponentType.Value, e.Position.Topic)),
                    headers = Streaming.Platform.Serialization.TracingHeaders.ToMap(ctx.Headers),
                    quarantinedAt = DateTime.UtcNow,
                };
                return KeyValuePair.Create(correlationId, record);
            }, $"{name}-to-quarantine")
            .To(Topics.Quarantine, serdes.Key, serdes.Avro<QuarantineRecord>(), $"{name}-quarantine-sink");
    }

    private static SourcePosition Position(IRecordContext ctx) => new(ctx.Topic, ctx.Partition, ctx.Offset);

    private sealed record Enriched<T>(T Fact, SourcePosition Position, AccountLink? Link = null, LegalEntity? Entity = null)
        where T : class, ISpecificRecord
    {
        public List<string> Missing()
        {
            var missing = new List<string>();
            var customer = Fact switch { Invoice i => i.customerId, Payment p => p.customerId, _ => "?" };
            if (Link is null)
            {
                missing.Add($"account-link {BillingLinkKey(customer)}");
            }
            else if (Entity is null)
            {
                missing.Add($"legal-entity {Link.legalEntityId}");
            }

            return missing;
        }
    }
}
