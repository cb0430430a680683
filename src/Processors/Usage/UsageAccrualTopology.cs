using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Processors;
using Streamiz.Kafka.Net.Processors.Public;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Stream;
using Streamiz.Kafka.Net.Table;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;
using Streaming.Processors.FinanceMapping;

namespace Streaming.Processors.Usage;

/// <summary>
/// Usage events → <c>USAGE_ACCRUED</c> finance events. Each event on <c>billing.usage.v1</c> is left-joined with its
/// account link (<c>billing:{customer}</c>) and legal entity, rated with the <c>md.products.v1</c> price whose meter
/// matches the event and whose currency is the entity's functional currency, and emitted keyed by canonical customer.
/// A missing link, entity or price sends the event to <c>ops.quarantine.v1</c> instead.
/// </summary>
/// <remarks>
/// Walking-skeleton slice: every usage event is rated and posted on its own (posting key
/// <c>usage:{subscription item}:{usage event}</c>), so graduated tiers apply per event, not per period. The hourly tumbling
/// windows per subscription item and meter, the grace period and the adjusting accruals for late events described in
/// DOMAIN.md come later in the processors issue. Duplicate usage events are not dropped here; the posting key makes
/// a duplicate post once downstream. The price is found by scanning the products global store from a transformer:
/// products are few, and a price is keyed by product, not by meter.
/// </remarks>
public static class UsageAccrualTopology
{
    /// <summary>State store of the products GlobalKTable (in memory: rebuilt from the compacted topic at start).</summary>
    public const string ProductsStore = "md-products";

    /// <summary>Stage named in the quarantine records this topology writes.</summary>
    public const string Stage = "usage-accrual";

    /// <summary>Header that carries the correlation id of a usage event, when the producer sets one.</summary>
    public const string CorrelationIdHeader = Streaming.Platform.Serialization.TracingHeaders.CorrelationId;

    /// <summary>
    /// Adds the usage slice to a builder. The account-link and legal-entity GlobalKTables are passed in because a builder
    /// may declare a global table only once; the products GlobalKTable (store <see cref="ProductsStore"/>) is declared here.
    /// </summary>
    public static void ConfigureTopology(StreamBuilder builder, FinanceSerdes serdes, IGlobalKTable<string, AccountLink> links, IGlobalKTable<string, LegalEntity> entities)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(serdes);
        ArgumentNullException.ThrowIfNull(links);
        ArgumentNullException.ThrowIfNull(entities);

        // Declared only for its store: the rating transformer reads it through the processor context.
        builder.GlobalTable(Topics.Products, serdes.Key, serdes.Avro<Product>(),
            InMemory.As<string, Product>(ProductsStore).WithKeySerdes(serdes.Key).WithValueSerdes(serdes.Avro<Product>()));

        var rated = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.BillingUsage, serdes.Key, serdes.Avro<UsageEvent>()),
                serdes, FinanceMapping.FinanceMappingTopology.ApplicationId, "usage")
            .MapValues((v, ctx) => new UsageFact(v, new SourcePosition(ctx.Topic, ctx.Partition, ctx.Offset), Correlation(v, ctx)), "usage-position")
            .LeftJoin(links, (_, f) => FinanceMappingTopology.BillingLinkKey(f.Usage.customerId), (f, link) => f with { Link = link }, "usage-link")
            .LeftJoin(entities, (_, f) => f.Link?.legalEntityId ?? string.Empty, (f, entity) => f with { Entity = entity }, "usage-entity")
            .TransformValues(TransformerBuilder.New<string, UsageFact, string, UsageFact>().Transformer<UsageRatingTransformer>().Build(), "usage-rate");

        rated.Filter((_, f, _) => f.Problem is null, "usage-rated")
            .FlatMap((_, f, _) => f.Amount != 0m ? [KeyValuePair.Create(f.Link!.canonicalCustomerId, ToFinanceEvent(f))] : Array.Empty<KeyValuePair<string, FinanceEvent>>(), "usage-to-finance-event")
            .To(Topics.FinanceEvents, serdes.Key, serdes.Avro<FinanceEvent>(), "usage-finance-events-sink");

        var usageSerdes = serdes.Avro<UsageEvent>();
        rated.Filter((_, f, _) => f.Problem is not null, "usage-not-rated")
            .Map((key, f, ctx) => KeyValuePair.Create(f.CorrelationId, ToQuarantine(key, f, ctx, usageSerdes)), "usage-to-quarantine")
            .To(Topics.Quarantine, serdes.Key, serdes.Avro<QuarantineRecord>(), "usage-quarantine-sink");
    }

    /// <summary>Posting key of one rated usage event.</summary>
    public static string PostingKey(string subscriptionItemId, string usageEventId) => $"usage:{subscriptionItemId}:{usageEventId}";

    /// <summary>The finance event of a rated usage fact (amount already rounded to the currency's minor unit).</summary>
    private static FinanceEvent ToFinanceEvent(UsageFact f)
    {
        var usage = f.Usage;
        var postingKey = PostingKey(usage.subscriptionItemId, usage.usageEventId);
        var amount = Money.ToAvro(f.Amount);
        return new FinanceEvent
        {
            eventId = FinanceMapping.FinanceEventMapper.EventId(postingKey),
            eventType = FinanceEventType.USAGE_ACCRUED,
            postingKey = postingKey,
            correlationId = f.CorrelationId,
            legalEntityId = f.Entity!.legalEntityId,
            customerId = f.Link!.canonicalCustomerId,
            currency = f.Currency!,
            totalAmount = amount,
            taxAmount = Money.ToAvro(0m),
            effectiveDate = usage.occurredAt,
            documentNumber = null,
            lines =
            [
                new FinanceEventLine { lineId = $"{usage.subscriptionItemId}:{usage.usageEventId}", kind = FinanceLineKind.USAGE, amount = amount, productId = f.ProductId },
            ],
            source = new SourceRef
            {
                system = "usage",
                objectType = "usage_event",
                objectId = usage.usageEventId,
                eventId = usage.usageEventId,
                topic = f.Position.Topic,
                partition = f.Position.Partition,
                offset = f.Position.Offset,
            },
            createdAt = usage.occurredAt,
        };
    }

    private static QuarantineRecord ToQuarantine(string? key, UsageFact f, IRecordContext ctx, Streamiz.Kafka.Net.SerDes.ISerDes<UsageEvent> usageSerdes)
    {
        var problem = f.Problem!;
        var usage = f.Usage;
        return new QuarantineRecord
        {
            quarantineId = $"q_{f.Position.Topic}_{f.Position.Partition}_{f.Position.Offset}",
            reasonCode = problem.ReasonCode,
            reasonDetail = $"usage event {usage.usageEventId} from {f.Position.Topic}[{f.Position.Partition}]@{f.Position.Offset} cannot be rated: {problem.Detail}",
            missing = problem.Missing,
            stage = Stage,
            correlationId = f.CorrelationId,
            postingKey = PostingKey(usage.subscriptionItemId, usage.usageEventId),
            businessContext = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["customer"] = usage.customerId,
                ["quantity"] = Money.ToDecimal(usage.quantity).ToString(CultureInfo.InvariantCulture),
                ["meter"] = usage.meter,
                ["subscription_item"] = usage.subscriptionItemId,
                ["usage_event"] = usage.usageEventId,
            },
            sourceTopic = f.Position.Topic,
            sourcePartition = f.Position.Partition,
            sourceOffset = f.Position.Offset,
            originalKey = key is null ? null : Encoding.UTF8.GetBytes(key),
            // Re-encoded in the same wire format (the topology sees the deserialized value); resubmittable as is.
            originalValue = usageSerdes.Serialize(usage, new Confluent.Kafka.SerializationContext(Confluent.Kafka.MessageComponentType.Value, f.Position.Topic)),
            headers = Streaming.Platform.Serialization.TracingHeaders.ToMap(ctx.Headers),
            quarantinedAt = DateTime.UtcNow,
        };
    }

    private static string Correlation(UsageEvent usage, IRecordContext ctx)
        => ctx.Headers is { } headers && headers.TryGetLastBytes(CorrelationIdHeader, out var bytes) && bytes is { Length: > 0 }
            ? Encoding.UTF8.GetString(bytes)
            : $"usage:{usage.subscriptionItemId}";
}

/// <summary>Why a usage event could not be rated: the quarantine reason code, the missing items, a sentence.</summary>
internal sealed record UsageProblem(string ReasonCode, List<string> Missing, string Detail);

/// <summary>A usage event on its way through the joins and the rating.</summary>
internal sealed record UsageFact(UsageEvent Usage, SourcePosition Position, string CorrelationId)
{
    public AccountLink? Link { get; init; }

    public LegalEntity? Entity { get; init; }

    public string? ProductId { get; init; }

    public string? Currency { get; init; }

    public decimal Amount { get; init; }

    public UsageProblem? Problem { get; init; }
}

/// <summary>
/// Rates a joined usage event with the matching price from the products global store. Streamiz resolves a global
/// store by name from any processor's context, so no store is connected to this transformer (a global store may not be).
/// </summary>
internal sealed class UsageRatingTransformer : ITransformer<string, UsageFact, string, UsageFact>
{
    private ITimestampedKeyValueStore<string, Product>? _products;

    public void Init(ProcessorContext<string, UsageFact> context)
    {
        ArgumentNullException.ThrowIfNull(context);
        // The same lookup (and store type) Streamiz's own KStream–GlobalKTable join uses for its value getter.
        _products = context.GetStateStore(UsageAccrualTopology.ProductsStore) as ITimestampedKeyValueStore<string, Product>
            ?? throw new InvalidOperationException($"global store {UsageAccrualTopology.ProductsStore} of products is not in the topology");
    }

    public Record<string, UsageFact> Process(Record<string, UsageFact> record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return Record<string, UsageFact>.Create(Rate(record.Value));
    }

    public void Close()
    {
    }

    private UsageFact Rate(UsageFact f)
    {
        var usage = f.Usage;
        if (f.Link is null)
        {
            var missing = $"account-link {FinanceMappingTopology.BillingLinkKey(usage.customerId)}";
            return f with { Problem = new UsageProblem("MISSING_ACCOUNT_LINK", [missing], $"missing {missing}") };
        }

        if (f.Entity is null)
        {
            var missing = $"legal-entity {f.Link.legalEntityId}";
            return f with { Problem = new UsageProblem("MISSING_LEGAL_ENTITY", [missing], $"missing {missing}") };
        }

        var currency = f.Entity.functionalCurrency.Trim().ToUpperInvariant();
        var match = FindPrice(usage.meter, currency);
        if (match is null)
        {
            var missing = $"price meter={usage.meter} currency={currency}";
            return f with { Problem = new UsageProblem("MISSING_PRICE", [missing], $"no product in {Topics.Products} has a {currency} price for meter {usage.meter}") };
        }

        var (productId, price) = match.Value;
        var quantity = Money.ToDecimal(usage.quantity);
        try
        {
            return f with { ProductId = productId, Currency = currency, Amount = UsageRater.Rate(quantity, price) };
        }
        catch (ArgumentException ex)
        {
            // A negative quantity or a price whose tiers stop short is bad data, not a reason to stop the stream.
            return f with { Problem = new UsageProblem("INVALID_USAGE", [$"rating of price {price.priceId}"], ex.Message) };
        }
    }

    /// <summary>The first (by product id, then price id) price with the meter and currency that can rate usage.</summary>
    private (string ProductId, Price Price)? FindPrice(string meter, string currency)
    {
        // The in-memory store is a ConcurrentDictionary: enumerating it while the global thread updates it is safe.
        // Every product is deserialized per event; fine for a handful of products, to revisit with windowed rating.
        return _products!.All()
            .Select(kv => kv.Value?.Value)
            .Where(p => p is not null)
            .SelectMany(p => p!.prices.Select(price => (p!.productId, price)))
            .Where(x => string.Equals(x.price.meter, meter, StringComparison.Ordinal)
                        && string.Equals(x.price.currency, currency, StringComparison.OrdinalIgnoreCase)
                        && UsageRater.CanRate(x.price))
            .OrderBy(x => x.productId, StringComparer.Ordinal).ThenBy(x => x.price.priceId, StringComparer.Ordinal)
            .Select(x => ((string ProductId, Price Price)?)(x.productId, x.price))
            .FirstOrDefault();
    }
}
