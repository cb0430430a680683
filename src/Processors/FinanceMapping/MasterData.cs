using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Processors;
using Streamiz.Kafka.Net.State;
using Streamiz.Kafka.Net.Table;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;

namespace Streaming.Processors.FinanceMapping;

/// <summary>
/// The master-data GlobalKTables over the compacted <c>md.*</c> topics. Every instance holds all of them, so a join
/// never depends on partition timing. A builder may declare each global table only once: declare them here and pass
/// the result to every topology on the same builder.
/// </summary>
public sealed record MasterDataTables(
    IGlobalKTable<string, AccountLink> Links,
    IGlobalKTable<string, LegalEntity> Entities,
    IGlobalKTable<string, Product> Products,
    IGlobalKTable<string, TaxRule> TaxRules,
    IGlobalKTable<string, GlMapping> GlMappings,
    IGlobalKTable<string, Streaming.Contracts.Crm.CrmAccount> CrmAccounts)
{
    /// <summary>Store of the CRM accounts (key: CRM account id), for account hierarchies.</summary>
    public const string CrmAccountsStore = "crm-accounts";

    /// <summary>Store of the account links (key: <c>billing:{customer}</c>, <c>crm:{account}</c>).</summary>
    public const string AccountLinksStore = "md-account-links";

    /// <summary>Store of the legal entities (key: legal entity id).</summary>
    public const string LegalEntitiesStore = "md-legal-entities";

    /// <summary>Store of the products and prices (key: product id).</summary>
    public const string ProductsStore = "md-products";

    /// <summary>Store of the tax rules (key: rule id).</summary>
    public const string TaxRulesStore = "md-tax-rules";

    /// <summary>Store of the GL mappings (key: mapping id).</summary>
    public const string GlMappingsStore = "md-gl-mappings";

    /// <summary>Declares the five master-data GlobalKTables and the CRM accounts one (in memory: rebuilt from the compacted topics at start).</summary>
    public static MasterDataTables Declare(StreamBuilder builder, FinanceSerdes serdes)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(serdes);
        return new MasterDataTables(
            Table<AccountLink>(builder, serdes, Topics.AccountLinks, AccountLinksStore),
            Table<LegalEntity>(builder, serdes, Topics.LegalEntities, LegalEntitiesStore),
            Table<Product>(builder, serdes, Topics.Products, ProductsStore),
            Table<TaxRule>(builder, serdes, Topics.TaxRules, TaxRulesStore),
            Table<GlMapping>(builder, serdes, Topics.GlMappings, GlMappingsStore),
            Table<Streaming.Contracts.Crm.CrmAccount>(builder, serdes, Topics.CrmAccounts, CrmAccountsStore));
    }

    private static IGlobalKTable<string, T> Table<T>(StreamBuilder builder, FinanceSerdes serdes, string topic, string store)
        where T : class, Avro.Specific.ISpecificRecord
        => builder.GlobalTable(topic, serdes.Key, serdes.Avro<T>(),
            InMemory.As<string, T>(store).WithKeySerdes(serdes.Key).WithValueSerdes(serdes.Avro<T>()));
}

/// <summary>One piece of master data a record needs and did not find: its kind (reason code) and its key.</summary>
public sealed record MissingMasterData(string ReasonCode, string Item)
{
    /// <summary>Account link of a billing customer or CRM account.</summary>
    public static MissingMasterData Link(string key) => new("MISSING_ACCOUNT_LINK", $"account-link {key}");

    /// <summary>Legal entity.</summary>
    public static MissingMasterData Entity(string id) => new("MISSING_LEGAL_ENTITY", $"legal-entity {id}");

    /// <summary>Product.</summary>
    public static MissingMasterData Product(string id) => new("MISSING_PRODUCT", $"product {id}");

    /// <summary>Tax rule for an entity and jurisdiction.</summary>
    public static MissingMasterData TaxRule(string entity, string jurisdiction) => new("MISSING_TAX_RULE", $"tax-rule entity={entity} jurisdiction={jurisdiction}");

    /// <summary>GL mapping for an entity and account role.</summary>
    public static MissingMasterData GlMapping(string entity, AccountRole role, string? jurisdiction)
        => new("MISSING_GL_MAPPING", $"gl-mapping entity={entity} role={role}{(jurisdiction is null ? "" : $" jurisdiction={jurisdiction}")}");

    /// <summary>Price of a meter in a currency.</summary>
    public static MissingMasterData Price(string meter, string currency) => new("MISSING_PRICE", $"price meter={meter} currency={currency}");
}

/// <summary>
/// Reads the master-data global stores from inside a processor (Streamiz resolves a global store by name from any
/// processor's context). Links, entities and products are read by key. Tax rules and GL mappings are keyed by their
/// own ids but looked up by entity and jurisdiction or role, so they are indexed; the index is rebuilt at most once per
/// <see cref="RefreshInterval"/>, and at once (rate-limited) when a lookup misses, so data that arrives late is seen.
/// </summary>
public sealed class MasterDataLookup
{
    /// <summary>How long an index of tax rules, GL mappings and meter prices is reused before it is rebuilt.</summary>
    public static readonly TimeSpan RefreshInterval = TimeSpan.FromSeconds(1);

    private static readonly TimeSpan MissRefreshInterval = TimeSpan.FromMilliseconds(100);

    private readonly ITimestampedKeyValueStore<string, AccountLink> _links;
    private readonly ITimestampedKeyValueStore<string, LegalEntity> _entities;
    private readonly ITimestampedKeyValueStore<string, Product> _products;
    private readonly ITimestampedKeyValueStore<string, TaxRule> _taxRules;
    private readonly ITimestampedKeyValueStore<string, GlMapping> _glMappings;
    private readonly ITimestampedKeyValueStore<string, Streaming.Contracts.Crm.CrmAccount> _crmAccounts;
    private readonly TimeProvider _clock;
    private readonly Shared _shared;

    /// <summary>Resolves the five global stores from a processor context.</summary>
    /// <exception cref="InvalidOperationException">A store is not in the topology (the tables were not declared with <see cref="MasterDataTables.Declare"/>).</exception>
    public MasterDataLookup(ProcessorContext context, TimeProvider? clock = null)
    {
        ArgumentNullException.ThrowIfNull(context);
        _links = Store<AccountLink>(context, MasterDataTables.AccountLinksStore);
        _entities = Store<LegalEntity>(context, MasterDataTables.LegalEntitiesStore);
        _products = Store<Product>(context, MasterDataTables.ProductsStore);
        _taxRules = Store<TaxRule>(context, MasterDataTables.TaxRulesStore);
        _glMappings = Store<GlMapping>(context, MasterDataTables.GlMappingsStore);
        _crmAccounts = Store<Streaming.Contracts.Crm.CrmAccount>(context, MasterDataTables.CrmAccountsStore);
        _clock = clock ?? TimeProvider.System;
        _shared = clock is null ? SharedFor(this) : new Shared(this);
    }

    // The caches and the index, shared by every lookup of one stream thread over the same global stores: a stream
    // thread runs one task per input partition, each with its own processors, and per-task caches refilled every second
    // made most lookups of a many-partition topology miss (each miss an Avro decode). Values stay at most
    // RefreshInterval old, exactly as with a cache per lookup. Thread-static, so stream threads never share one
    // (tasks of one thread run one at a time); keyed by the store instances, so another topology or test driver in
    // the same thread never sees these values.
    [ThreadStatic]
    private static System.Runtime.CompilerServices.ConditionalWeakTable<object, Shared>? t_shared;

    private static Shared SharedFor(MasterDataLookup lookup)
    {
        t_shared ??= [];
        if (t_shared.TryGetValue(lookup._links, out var shared) && shared.SameStores(lookup))
        {
            return shared;
        }

        shared = new Shared(lookup);
        t_shared.AddOrUpdate(lookup._links, shared);
        return shared;
    }

    private sealed class Shared(MasterDataLookup owner)
    {
        private readonly object[] _stores = [owner._links, owner._entities, owner._products, owner._taxRules, owner._glMappings, owner._crmAccounts];

        public Dictionary<string, AccountLink> Links { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, LegalEntity> Entities { get; } = new(StringComparer.Ordinal);

        public Dictionary<string, Product> Products { get; } = new(StringComparer.Ordinal);

        public long? CachedAt { get; set; }

        public Index Index { get; set; } = Index.Empty;

        public long? BuiltAt { get; set; }

        public bool SameStores(MasterDataLookup other)
            => ReferenceEquals(_stores[0], other._links) && ReferenceEquals(_stores[1], other._entities) && ReferenceEquals(_stores[2], other._products)
               && ReferenceEquals(_stores[3], other._taxRules) && ReferenceEquals(_stores[4], other._glMappings) && ReferenceEquals(_stores[5], other._crmAccounts);
    }

    /// <summary>Account link by key, or null.</summary>
    public AccountLink? Link(string key) => Cached(_shared.Links, _links, key);

    /// <summary>Legal entity by id, or null.</summary>
    public LegalEntity? Entity(string id) => Cached(_shared.Entities, _entities, id);

    /// <summary>Product by id, or null.</summary>
    public Product? Product(string id) => Cached(_shared.Products, _products, id);

    // The global stores hold bytes: every Get is an Avro deserialization. Values found are reused until the next
    // refresh (at most RefreshInterval old, like the indexes); a miss is never cached, so late data is seen at once.

    // Monotonic timestamps (TimeProvider.GetTimestamp): a record makes a dozen lookups, and reading the wall clock for
    // each showed up in the stream thread's profile.
    private bool Older(long? since, TimeSpan than, long now) => since is not { } s || _clock.GetElapsedTime(s, now) > than;

    private T? Cached<T>(Dictionary<string, T> cache, ITimestampedKeyValueStore<string, T> store, string key)
        where T : class
    {
        var now = _clock.GetTimestamp();
        if (Older(_shared.CachedAt, RefreshInterval, now))
        {
            _shared.Links.Clear();
            _shared.Entities.Clear();
            _shared.Products.Clear();
            _shared.CachedAt = now;
        }

        if (cache.TryGetValue(key, out var hit))
        {
            return hit;
        }

        var value = store.Get(key)?.Value;
        if (value is not null)
        {
            cache[key] = value;
        }

        return value;
    }

    /// <summary>The tax rule of an entity for a jurisdiction valid on <paramref name="on"/>, or null.</summary>
    // Tax rules and GL mappings are looked up several times per record: static lambdas with their arguments passed
    // as state and loops, so a lookup allocates nothing.
    public TaxRule? TaxRule(string entity, string jurisdiction, DateTime on)
        => Find((Entity: entity, Jurisdiction: jurisdiction, Day: on.Date),
            static (ix, a) => ix.TaxRules.TryGetValue((a.Entity, a.Jurisdiction), out var rules) ? ValidOn(rules, a.Day) : null);

    /// <summary>The GL mapping of an entity for a role (a jurisdiction-specific mapping wins over a generic one), or null.</summary>
    public GlMapping? GlMapping(string entity, AccountRole role, string? jurisdiction = null)
        => Find((Entity: entity, Role: role, Jurisdiction: jurisdiction),
            static (ix, a) => ix.GlMappings.TryGetValue((a.Entity, a.Role), out var maps) ? Pick(maps, a.Jurisdiction) : null);

    private static TaxRule? ValidOn(List<TaxRule> rules, DateTime day)
    {
        foreach (var r in rules)
        {
            if ((r.validFrom is null || r.validFrom.Value.Date <= day) && (r.validTo is null || day <= r.validTo.Value.Date))
            {
                return r;
            }
        }

        return null;
    }

    private static GlMapping? Pick(List<GlMapping> maps, string? jurisdiction)
    {
        if (jurisdiction is not null)
        {
            foreach (var m in maps)
            {
                if (string.Equals(m.jurisdictionCode, jurisdiction, StringComparison.OrdinalIgnoreCase))
                {
                    return m;
                }
            }
        }

        foreach (var m in maps)
        {
            if (m.jurisdictionCode is null)
            {
                return m;
            }
        }

        return null;
    }

    /// <summary>CRM account by id, or null.</summary>
    public Streaming.Contracts.Crm.CrmAccount? CrmAccount(string id) => _crmAccounts.Get(id)?.Value;

    /// <summary>Ids of the CRM accounts whose parent is <paramref name="accountId"/>, sorted.</summary>
    public IReadOnlyList<string> Subsidiaries(string accountId)
        => Find(ix => ix.Subsidiaries.TryGetValue(accountId, out var subs) ? subs : null) ?? [];

    /// <summary>The active legal entity that bills <paramref name="country"/> (lowest id first), or null.</summary>
    public LegalEntity? EntityForCountry(string country)
        => Find(ix => ix.EntitiesByCountry.TryGetValue(country.ToUpperInvariant(), out var e) ? e : null);

    /// <summary>Jurisdictions of the tax rules of an entity in a country (its tax nexus there), sorted.</summary>
    public IReadOnlyList<string> TaxNexus(string entity, string country)
        => Find(ix => ix.TaxRules.Where(kv => kv.Key.Item1 == entity).SelectMany(kv => kv.Value)
            .Where(r => string.Equals(r.country, country, StringComparison.OrdinalIgnoreCase))
            .Select(r => r.jurisdictionCode).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList() is { Count: > 0 } l ? l : null) ?? [];

    /// <summary>The first (by product id, then price id) price that rates <paramref name="meter"/> in <paramref name="currency"/>, or null.</summary>
    public (string ProductId, Price Price)? MeterPrice(string meter, string currency)
        => Find(ix => ix.MeterPrices.TryGetValue((meter, currency.ToUpperInvariant()), out var p) ? new PriceMatch(p.Item1, p.Item2) : null) is { } m
            ? (m.ProductId, m.Price) : null;

    private sealed record PriceMatch(string ProductId, Price Price);

    private T? Find<T>(Func<Index, T?> lookup)
        where T : class
        => Find(lookup, static (ix, l) => l(ix));

    private T? Find<TArgs, T>(TArgs args, Func<Index, TArgs, T?> lookup)
        where T : class
    {
        var now = _clock.GetTimestamp();
        if (Older(_shared.BuiltAt, RefreshInterval, now))
        {
            Rebuild(now);
        }

        var found = lookup(_shared.Index, args);
        if (found is null && Older(_shared.BuiltAt, MissRefreshInterval, now))
        {
            Rebuild(now);
            found = lookup(_shared.Index, args);
        }

        return found;
    }

    private void Rebuild(long now)
    {
        var taxRules = Values(_taxRules)
            .GroupBy(r => (r.legalEntityId, r.jurisdictionCode))
            .ToDictionary(g => g.Key, g => g.OrderBy(r => r.ruleId, StringComparer.Ordinal).ToList());
        var glMappings = Values(_glMappings)
            .GroupBy(m => (m.legalEntityId, m.accountRole))
            .ToDictionary(g => g.Key, g => g.OrderBy(m => m.mappingId, StringComparer.Ordinal).ToList());
        var meterPrices = new Dictionary<(string, string), (string, Price)>();
        foreach (var product in Values(_products).Where(p => p.active).OrderBy(p => p.productId, StringComparer.Ordinal))
        {
            foreach (var price in product.prices.Where(p => p.meter is not null && Usage.UsageRater.CanRate(p)).OrderBy(p => p.priceId, StringComparer.Ordinal))
            {
                meterPrices.TryAdd((price.meter!, price.currency.ToUpperInvariant()), (product.productId, price));
            }
        }

        var subsidiaries = Values(_crmAccounts).Where(a => a.parentAccountId is not null && !a.deleted)
            .GroupBy(a => a.parentAccountId!)
            .ToDictionary(g => g.Key, g => g.Select(a => a.accountId).Order(StringComparer.Ordinal).ToList());
        var entitiesByCountry = new Dictionary<string, LegalEntity>(StringComparer.Ordinal);
        foreach (var entity in Values(_entities).Where(e => e.active).OrderBy(e => e.legalEntityId, StringComparer.Ordinal))
        {
            foreach (var country in entity.billingCountries)
            {
                entitiesByCountry.TryAdd(country.ToUpperInvariant(), entity);
            }
        }

        _shared.Index = new Index(taxRules, glMappings, meterPrices, subsidiaries, entitiesByCountry);
        _shared.BuiltAt = now;
    }

    // The in-memory store is a ConcurrentDictionary: enumerating it while the global thread updates it is safe.
    private static IEnumerable<T> Values<T>(ITimestampedKeyValueStore<string, T> store)
        where T : class
        => store.All().Select(kv => kv.Value?.Value).Where(v => v is not null).Select(v => v!);

    private static ITimestampedKeyValueStore<string, T> Store<T>(ProcessorContext context, string name)
        => context.GetStateStore(name) as ITimestampedKeyValueStore<string, T>
           ?? throw new InvalidOperationException($"global store {name} is not in the topology: declare the master data with {nameof(MasterDataTables)}.{nameof(MasterDataTables.Declare)}");

    private sealed record Index(
        Dictionary<(string, string), List<TaxRule>> TaxRules,
        Dictionary<(string, AccountRole), List<GlMapping>> GlMappings,
        Dictionary<(string, string), (string, Price)> MeterPrices,
        Dictionary<string, List<string>> Subsidiaries,
        Dictionary<string, LegalEntity> EntitiesByCountry)
    {
        public static readonly Index Empty = new([], [], [], [], []);
    }
}
