using System.Globalization;
using Confluent.Kafka;
using Streaming.Contracts;
using Streaming.Contracts.Crm;
using Streaming.Contracts.Finance;
using Streaming.Platform.Serialization;
using Streaming.Processors.FinanceMapping;

namespace Streaming.Processors.Orders;

/// <summary>
/// Quote-to-cash order enrichment (DOMAIN.md): a CRM opportunity that reaches Closed Won becomes one
/// <c>finance.orders.v1</c> order (key <c>order:{opportunity id}</c>) with the canonical customer (account link
/// <c>crm:{account}</c>), parent account and subsidiaries (from the <c>crm.accounts.v1</c> GlobalKTable), contract
/// start and term, bundle lines and services, the legal entity that bills the account's country
/// (<c>md.legal-entities.v1</c>) and its tax nexus there (<c>md.tax-rules.v1</c>). Missing link, entity, product or
/// tax rule → the readiness gate (wait, then quarantine), never a guess. Later updates of a won opportunity give no
/// second order.
/// </summary>
public sealed class OrderEnrichmentProcessor : ReadinessGate<CrmOpportunity>
{
    private const string EmittedPrefix = "o|";
    private StreamizAvroSerDes<CrmOpportunity>? _serdes;

    /// <summary>Required by Streamiz; instances are created with <see cref="OrderEnrichmentProcessor(GateSettings)"/>.</summary>
    public OrderEnrichmentProcessor()
    {
    }

    /// <summary>Instance for one stream task.</summary>
    public OrderEnrichmentProcessor(GateSettings settings) : base(settings)
    {
    }

    private StreamizAvroSerDes<CrmOpportunity> Serdes => _serdes ??= (StreamizAvroSerDes<CrmOpportunity>)Settings.Serdes.Avro<CrmOpportunity>();

    /// <summary>Key of the order of an opportunity.</summary>
    public static string OrderId(string opportunityId) => $"order:{opportunityId}";

    /// <inheritdoc />
    protected override IReadOnlyList<MissingMasterData> Check(CrmOpportunity fact)
    {
        ArgumentNullException.ThrowIfNull(fact);
        if (!fact.isClosedWon)
        {
            return [];
        }

        var linkKey = $"crm:{fact.accountId}";
        if (MasterData.Link(linkKey) is not { } link)
        {
            return [MissingMasterData.Link(linkKey)];
        }

        var country = Country(fact, link);
        if (MasterData.EntityForCountry(country) is not { } entity)
        {
            return [new MissingMasterData("MISSING_LEGAL_ENTITY", $"legal-entity billing-country={country}")];
        }

        var missing = fact.lineItems.Select(l => l.productCode).Distinct(StringComparer.Ordinal)
            .Where(p => MasterData.Product(p) is null).Select(MissingMasterData.Product).ToList();
        if (MasterData.TaxNexus(entity.legalEntityId, country).Count == 0)
        {
            missing.Add(MissingMasterData.TaxRule(entity.legalEntityId, $"country {country}"));
        }

        return missing;
    }

    /// <inheritdoc />
    protected override void Apply(CrmOpportunity fact, Headers headers, SourcePosition position)
    {
        ArgumentNullException.ThrowIfNull(fact);
        if (!fact.isClosedWon || State.Get(EmittedPrefix + fact.opportunityId) is not null)
        {
            return; // not won, or already ordered (a later update of the won opportunity)
        }

        var link = MasterData.Link($"crm:{fact.accountId}")!;
        var country = Country(fact, link);
        var entity = MasterData.EntityForCountry(country)!;
        var account = MasterData.CrmAccount(fact.accountId);
        var currency = fact.currency.ToUpperInvariant();
        var lines = new List<OrderLine>();
        foreach (var item in fact.lineItems)
        {
            var quantity = Money.ToDecimal(item.quantity);
            var unit = Money.ToDecimal(item.unitPrice);
            var amount = Money.ToDecimal(item.totalPrice) ?? Currencies.RoundToMinorUnit(quantity * unit, currency);
            if (!Currencies.IsWholeMinorUnits(amount, currency))
            {
                throw new InvalidFactException($"opportunity {fact.opportunityId} line {item.lineItemId}: amount {amount} has more decimals than {currency} allows");
            }

            lines.Add(new OrderLine
            {
                productId = item.productCode,
                kind = item.lineKind switch
                {
                    LineKind.SUBSCRIPTION => OrderLineKind.SUBSCRIPTION,
                    LineKind.SERVICES => OrderLineKind.SERVICES,
                    _ => OrderLineKind.USAGE,
                },
                quantity = item.quantity, unitPrice = item.unitPrice, amount = Money.ToAvro(amount),
                serviceStartDate = item.serviceStartDate, serviceEndDate = item.serviceEndDate,
            });
        }

        var correlation = TracingHeaders.Get(headers, TracingHeaders.CorrelationId) is { Length: > 0 } c ? c : $"opportunity:{fact.opportunityId}";
        var order = new FinanceOrder
        {
            orderId = OrderId(fact.opportunityId),
            correlationId = correlation,
            opportunityId = fact.opportunityId,
            canonicalCustomerId = link.canonicalCustomerId,
            parentAccountId = account?.parentAccountId,
            subsidiaryAccountIds = MasterData.Subsidiaries(fact.accountId).ToList(),
            legalEntityId = entity.legalEntityId,
            taxNexusJurisdictions = MasterData.TaxNexus(entity.legalEntityId, country).ToList(),
            currency = currency,
            contractStartDate = (fact.contractStartDate ?? fact.closeDate ?? fact.commitTimestamp).Date,
            termMonths = fact.contractTermMonths ?? 12,
            totalAmount = Money.ToAvro(lines.Sum(l => Money.ToDecimal(l.amount))),
            lines = lines,
            source = new SourceRef
            {
                system = fact.sourceSystem.ToString().ToLowerInvariant(), objectType = "opportunity", objectId = fact.opportunityId, eventId = fact.eventId,
                topic = position.Topic, partition = position.Partition, offset = position.Offset,
            },
            createdAt = fact.commitTimestamp,
        };
        EmitOrder(order, headers);
        State.Put(EmittedPrefix + fact.opportunityId, position.Offset.ToString(CultureInfo.InvariantCulture));
    }

    private MasterDataLookup Lookup => MasterData;

    private string Country(CrmOpportunity fact, Streaming.Contracts.MasterData.AccountLink link)
        => (Lookup.CrmAccount(fact.accountId)?.billingCountry ?? link.billingCountry).ToUpperInvariant();

    /// <inheritdoc />
    protected override (string CorrelationId, Dictionary<string, string> Context, string? PostingKey) Describe(CrmOpportunity fact, Headers headers)
    {
        ArgumentNullException.ThrowIfNull(fact);
        var correlation = TracingHeaders.Get(headers, TracingHeaders.CorrelationId) is { Length: > 0 } c ? c : $"opportunity:{fact.opportunityId}";
        return (correlation, new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["customer"] = fact.accountId,
            ["amount"] = (Money.ToDecimal(fact.amount) ?? fact.lineItems.Sum(l => Money.ToDecimal(l.totalPrice) ?? 0m)).ToString(CultureInfo.InvariantCulture),
            ["currency"] = fact.currency,
            ["document_number"] = fact.opportunityId,
        }, null);
    }

    /// <inheritdoc />
    protected override (string Kind, byte[] Bytes) Encode(CrmOpportunity fact, string topic)
        => ("opportunity", Serdes.Serialize(fact, new SerializationContext(MessageComponentType.Value, topic)));

    /// <inheritdoc />
    protected override CrmOpportunity Decode(string kind, byte[] bytes, string topic)
        => Serdes.Deserialize(bytes, new SerializationContext(MessageComponentType.Value, topic));
}
