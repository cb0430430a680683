using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Mock;
using Streamiz.Kafka.Net.SerDes;
using Streamiz.Kafka.Net.Table;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Contracts.Ops;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Usage;
using Streaming.SchemaRegistry;

namespace Streaming.Processors.Tests;

/// <summary>
/// The usage slice under <see cref="TopologyTestDriver"/> with the embedded schema registry: rated usage becomes
/// USAGE_ACCRUED with exact amounts, and a missing link, entity or price goes to quarantine. Windowing is not covered
/// (the slice rates each event on its own).
/// </summary>
public sealed class UsageAccrualTopologyTests : IAsyncLifetime
{
    private static readonly DateTime At = new(2026, 11, 15, 10, 30, 0, DateTimeKind.Utc);

    private EmbeddedSchemaRegistry _registry = null!;
    private CachedSchemaRegistryClient _client = null!;
    private FinanceSerdes _serdes = null!;

    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        _registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        _client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url });
        foreach (var (topic, schema) in new[]
                 {
                     (Topics.AccountLinks, AccountLink._SCHEMA), (Topics.LegalEntities, LegalEntity._SCHEMA), (Topics.Products, Product._SCHEMA),
                     (Topics.BillingUsage, UsageEvent._SCHEMA), (Topics.FinanceEvents, FinanceEvent._SCHEMA), (Topics.Quarantine, QuarantineRecord._SCHEMA),
                 })
        {
            await _client.RegisterSchemaAsync(Topics.ValueSubject(topic), new Schema(schema.ToString(), SchemaType.Avro));
        }

        _serdes = new FinanceSerdes(_client);
    }

    public async ValueTask DisposeAsync()
    {
        _client.Dispose();
        await _registry.DisposeAsync();
    }

    private sealed class Driver : IDisposable
    {
        private readonly TopologyTestDriver _driver;

        public Driver(FinanceSerdes serdes)
        {
            var builder = new StreamBuilder();
            var links = builder.GlobalTable(Topics.AccountLinks, serdes.Key, serdes.Avro<AccountLink>(),
                InMemory.As<string, AccountLink>(FinanceMappingTopology.AccountLinksStore).WithKeySerdes(serdes.Key).WithValueSerdes(serdes.Avro<AccountLink>()));
            var entities = builder.GlobalTable(Topics.LegalEntities, serdes.Key, serdes.Avro<LegalEntity>(),
                InMemory.As<string, LegalEntity>(FinanceMappingTopology.LegalEntitiesStore).WithKeySerdes(serdes.Key).WithValueSerdes(serdes.Avro<LegalEntity>()));
            UsageAccrualTopology.ConfigureTopology(builder, serdes, links, entities);
            _driver = new TopologyTestDriver(builder.Build(), new StreamConfig<StringSerDes, StringSerDes> { ApplicationId = $"usage-test-{Guid.NewGuid():N}" });
            Links = _driver.CreateInputTopic(Topics.AccountLinks, serdes.Key, serdes.Avro<AccountLink>());
            Entities = _driver.CreateInputTopic(Topics.LegalEntities, serdes.Key, serdes.Avro<LegalEntity>());
            Products = _driver.CreateInputTopic(Topics.Products, serdes.Key, serdes.Avro<Product>());
            Usage = _driver.CreateInputTopic(Topics.BillingUsage, serdes.Key, serdes.Avro<UsageEvent>());
            FinanceEvents = _driver.CreateOutputTopic(Topics.FinanceEvents, TimeSpan.FromSeconds(1), serdes.Key, serdes.Avro<FinanceEvent>());
            Quarantine = _driver.CreateOutputTopic(Topics.Quarantine, TimeSpan.FromSeconds(1), serdes.Key, serdes.Avro<QuarantineRecord>());
        }

        public TestInputTopic<string, AccountLink> Links { get; }

        public TestInputTopic<string, LegalEntity> Entities { get; }

        public TestInputTopic<string, Product> Products { get; }

        public TestInputTopic<string, UsageEvent> Usage { get; }

        public TestOutputTopic<string, FinanceEvent> FinanceEvents { get; }

        public TestOutputTopic<string, QuarantineRecord> Quarantine { get; }

        public void Dispose() => _driver.Dispose();
    }

    private static AccountLink Link(string billingCustomer, string canonical, string entity) => new()
    {
        canonicalCustomerId = canonical, billingCustomerId = billingCustomer, legalEntityId = entity, billingCountry = "US", updatedAt = At,
    };

    private static LegalEntity Entity(string id, string currency) => new()
    {
        legalEntityId = id, name = id, country = "US", functionalCurrency = currency, taxRegistrationIds = [], billingCountries = ["US"], active = true, updatedAt = At,
    };

    private static PriceTier Tier(decimal? upTo, decimal unit, decimal? flat = null) => new()
    {
        upTo = upTo is { } u ? Money.Quantity(u) : null, unitAmount = Money.ToAvro(unit), flatAmount = Money.ToAvro(flat),
    };

    private static Product ApiProduct() => new()
    {
        productId = "prod_api", name = "API calls", kind = ProductKind.USAGE, active = true, updatedAt = At,
        prices =
        [
            new Price { priceId = "price_api_usd", currency = "USD", billingInterval = BillingInterval.MONTH, meter = "api_calls",
                tiers = [Tier(1000m, 0.0100m, flat: 5m), Tier(10000m, 0.0080m, flat: 2m), Tier(null, 0.0050m)] },
            new Price { priceId = "price_api_jpy", currency = "JPY", unitAmount = Money.ToAvro(1.2345m), billingInterval = BillingInterval.MONTH, meter = "api_calls", tiers = [] },
        ],
    };

    private static Product StorageProduct() => new()
    {
        productId = "prod_storage", name = "Storage", kind = ProductKind.USAGE, active = true, updatedAt = At,
        prices = [new Price { priceId = "price_gb_usd", currency = "USD", unitAmount = Money.ToAvro(0.0235m), billingInterval = BillingInterval.MONTH, meter = "gb_stored", tiers = [] }],
    };

    private static UsageEvent Usage(string id, string item, string customer, string meter, decimal quantity) => new()
    {
        usageEventId = id, subscriptionItemId = item, customerId = customer, meter = meter, quantity = Money.Quantity(quantity),
        occurredAt = At, receivedAt = At.AddSeconds(2), source = "api-gateway-eu1", attributes = new Dictionary<string, string>(),
    };

    private static void LoadMasterData(Driver d)
    {
        d.Links.PipeInput("billing:cus_acme", Link("cus_acme", "C-1001", "US01"));
        d.Links.PipeInput("billing:cus_tokyo", Link("cus_tokyo", "C-2002", "JP01"));
        d.Links.PipeInput("billing:cus_ghost", Link("cus_ghost", "C-3003", "XX99"));
        d.Entities.PipeInput("US01", Entity("US01", "USD"));
        d.Entities.PipeInput("JP01", Entity("JP01", "JPY"));
        d.Products.PipeInput("prod_api", ApiProduct());
        d.Products.PipeInput("prod_storage", StorageProduct());
    }

    [Fact]
    public void Rated_usage_becomes_usage_accrued_with_the_tiered_or_flat_amount_to_the_minor_unit()
    {
        using var d = new Driver(_serdes);
        LoadMasterData(d);

        var headers = new Headers { { UsageAccrualTopology.CorrelationIdHeader, Encoding.UTF8.GetBytes("q2c-acme") } };
        d.Usage.PipeInput("si_api", Usage("ue_1", "si_api", "cus_acme", "api_calls", 1500m), headers); // 1000 × 0.01 + 5 + 500 × 0.008 + 2
        d.Usage.PipeInput("si_gb", Usage("ue_2", "si_gb", "cus_acme", "gb_stored", 12.5m));           // 12.5 × 0.0235 = 0.29375
        d.Usage.PipeInput("si_jp", Usage("ue_3", "si_jp", "cus_tokyo", "api_calls", 1000m));          // 1234.5 JPY → 1235

        var events = d.FinanceEvents.ReadKeyValueList().ToList();
        Assert.Equal(3, events.Count);

        var api = events[0].Message;
        Assert.Equal("C-1001", api.Key);
        Assert.Equal(FinanceEventType.USAGE_ACCRUED, api.Value.eventType);
        Assert.Equal("usage:si_api:ue_1", api.Value.postingKey);
        Assert.Equal("fe_" + Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(Encoding.UTF8.GetBytes("usage:si_api:ue_1")))[..24], api.Value.eventId);
        Assert.Equal("q2c-acme", api.Value.correlationId);
        Assert.Equal("US01", api.Value.legalEntityId);
        Assert.Equal("USD", api.Value.currency);
        Assert.Equal(21.00m, Money.ToDecimal(api.Value.totalAmount));
        Assert.Equal(0m, Money.ToDecimal(api.Value.taxAmount));
        Assert.Equal(At, api.Value.effectiveDate);
        var line = Assert.Single(api.Value.lines);
        Assert.Equal((FinanceLineKind.USAGE, 21.00m, "prod_api"), (line.kind, Money.ToDecimal(line.amount), line.productId));
        Assert.Equal((Topics.BillingUsage, "ue_1", (long?)0), (api.Value.source.topic, api.Value.source.eventId, api.Value.source.offset));

        var storage = events[1].Message;
        Assert.Equal(("C-1001", "usage:si_gb:ue_2", "usage:si_gb", 0.29m), (storage.Key, storage.Value.postingKey, storage.Value.correlationId, Money.ToDecimal(storage.Value.totalAmount)));
        Assert.Equal("prod_storage", storage.Value.lines[0].productId);
        Assert.Equal((long?)1, storage.Value.source.offset);

        var yen = events[2].Message;
        Assert.Equal(("C-2002", "JP01", "JPY", 1235m), (yen.Key, yen.Value.legalEntityId, yen.Value.currency, Money.ToDecimal(yen.Value.totalAmount)));

        Assert.Empty(d.Quarantine.ReadKeyValueList());
    }

    [Fact]
    public void Usage_that_rates_to_zero_posts_nothing()
    {
        using var d = new Driver(_serdes);
        LoadMasterData(d);

        d.Usage.PipeInput("si_gb", Usage("ue_0", "si_gb", "cus_acme", "gb_stored", 0.1m)); // 0.00235 → 0.00
        d.Usage.PipeInput("si_api", Usage("ue_00", "si_api", "cus_acme", "api_calls", 0m));

        Assert.Empty(d.FinanceEvents.ReadKeyValueList());
        Assert.Empty(d.Quarantine.ReadKeyValueList());
    }

    [Fact]
    public void Missing_link_entity_or_price_goes_to_quarantine_with_the_reason_and_the_original_record()
    {
        using var d = new Driver(_serdes);
        LoadMasterData(d);

        d.Usage.PipeInput("si_x", Usage("ue_10", "si_x", "cus_unknown", "api_calls", 10m));
        d.Usage.PipeInput("si_y", Usage("ue_11", "si_y", "cus_ghost", "api_calls", 10m));
        d.Usage.PipeInput("si_z", Usage("ue_12", "si_z", "cus_acme", "seats", 3m));
        d.Usage.PipeInput("si_w", Usage("ue_13", "si_w", "cus_tokyo", "gb_stored", 3m)); // storage has no JPY price

        Assert.Empty(d.FinanceEvents.ReadKeyValueList());
        var records = d.Quarantine.ReadKeyValueList().Select(r => r.Message).ToList();
        Assert.Equal(
            [
                ("usage:si_x", "MISSING_ACCOUNT_LINK", "account-link billing:cus_unknown"),
                ("usage:si_y", "MISSING_LEGAL_ENTITY", "legal-entity XX99"),
                ("usage:si_z", "MISSING_PRICE", "price meter=seats currency=USD"),
                ("usage:si_w", "MISSING_PRICE", "price meter=gb_stored currency=JPY"),
            ],
            records.Select(r => (r.Key, r.Value.reasonCode, Assert.Single(r.Value.missing))).ToList());

        var first = records[0].Value;
        Assert.Equal(UsageAccrualTopology.Stage, first.stage);
        Assert.Equal("usage:si_x:ue_10", first.postingKey);
        Assert.Equal((Topics.BillingUsage, 0, 0L), (first.sourceTopic, first.sourcePartition, first.sourceOffset));
        Assert.Equal("cus_unknown", first.businessContext["customer"]);
        Assert.Equal("10.000000", first.businessContext["quantity"]);
        Assert.Equal("api_calls", first.businessContext["meter"]);
        Assert.Equal("si_x", Encoding.UTF8.GetString(first.originalKey));
        var original = new StreamizAvroSerDes<UsageEvent>(_client).Deserialize(first.originalValue, new SerializationContext(MessageComponentType.Value, Topics.BillingUsage));
        Assert.Equal(("ue_10", 10m), (original.usageEventId, Money.ToDecimal(original.quantity)));
    }

    [Fact]
    public void A_price_published_after_start_is_used_and_a_negative_quantity_is_quarantined_not_fatal()
    {
        using var d = new Driver(_serdes);
        LoadMasterData(d);

        d.Usage.PipeInput("si_s", Usage("ue_20", "si_s", "cus_acme", "seats", 3m));
        d.Products.PipeInput("prod_seats", new Product
        {
            productId = "prod_seats", name = "Seats", kind = ProductKind.USAGE, active = true, updatedAt = At,
            prices = [new Price { priceId = "price_seat_usd", currency = "USD", unitAmount = Money.ToAvro(7.5m), billingInterval = BillingInterval.MONTH, meter = "seats", tiers = [] }],
        });
        d.Usage.PipeInput("si_s", Usage("ue_21", "si_s", "cus_acme", "seats", 3m));
        d.Usage.PipeInput("si_s", Usage("ue_22", "si_s", "cus_acme", "seats", -1m));

        var posted = Assert.Single(d.FinanceEvents.ReadKeyValueList()).Message.Value;
        Assert.Equal(("usage:si_s:ue_21", 22.50m, "prod_seats"), (posted.postingKey, Money.ToDecimal(posted.totalAmount), posted.lines[0].productId));
        Assert.Equal(["MISSING_PRICE", "INVALID_USAGE"], d.Quarantine.ReadKeyValueList().Select(r => r.Message.Value.reasonCode).ToList());
    }
}
