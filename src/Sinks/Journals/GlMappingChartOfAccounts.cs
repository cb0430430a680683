using Streaming.Contracts.MasterData;

namespace Streaming.Sinks.Journals;

/// <summary>
/// The chart of accounts from <c>md.gl-mappings.v1</c>. An entity with at least one mapping uses its mappings only: a role
/// it does not map is an <see cref="UnknownAccountException"/> (the journal goes to quarantine, never to a guessed account).
/// An entity with no mapping at all uses <paramref name="fallback"/> (the demo's default chart), or is unknown when null.
/// A tax mapping restricted to a jurisdiction wins over an unrestricted one.
/// Writers (<see cref="Apply"/>) are serialized and publish a new immutable chart; readers take <see cref="Current"/> without a lock.
/// </summary>
public sealed class GlMappingChartOfAccounts(IChartOfAccounts? fallback) : IChartOfAccounts, IChartOfAccountsProvider
{
    private readonly Dictionary<string, GlMapping> _byId = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();
    private volatile GlMappingChart _current = new([], fallback);

    /// <summary>Number of mappings held.</summary>
    public int Count => _current.MappingCount;

    /// <summary>The chart as it is now: an immutable snapshot, safe to use from any thread while mappings keep changing.</summary>
    public IChartOfAccounts Current => _current;

    /// <summary>Adds or replaces a mapping (by mapping id); a null value (tombstone) removes it. Returns the mapping it replaced, if any.</summary>
    public GlMapping? Apply(string mappingId, GlMapping? mapping) => ApplyAll([(mappingId, mapping)])[0];

    /// <summary>Applies several changes in order and publishes one new chart; returns, per change, the mapping it replaced.</summary>
    public IReadOnlyList<GlMapping?> ApplyAll(IReadOnlyList<(string MappingId, GlMapping? Mapping)> changes)
    {
        ArgumentNullException.ThrowIfNull(changes);
        foreach (var (mappingId, _) in changes)
        {
            ArgumentException.ThrowIfNullOrWhiteSpace(mappingId);
        }

        var replaced = new GlMapping?[changes.Count];
        lock (_gate)
        {
            for (var i = 0; i < changes.Count; i++)
            {
                var (mappingId, mapping) = changes[i];
                _byId.Remove(mappingId, out replaced[i]);
                if (mapping is not null)
                {
                    _byId[mappingId] = mapping;
                }
            }

            _current = new GlMappingChart(_byId.Values, fallback);
        }

        return replaced;
    }

    /// <inheritdoc />
    public string Account(string legalEntityId, AccountRole role, string? jurisdiction = null) => _current.Account(legalEntityId, role, jurisdiction);

    /// <summary>The sink's role for a mapping's role.</summary>
    public static AccountRole Role(Contracts.MasterData.AccountRole role) => role switch
    {
        Contracts.MasterData.AccountRole.AR => AccountRole.AccountsReceivable,
        Contracts.MasterData.AccountRole.CASH => AccountRole.Cash,
        Contracts.MasterData.AccountRole.DEFERRED_REVENUE => AccountRole.DeferredRevenue,
        Contracts.MasterData.AccountRole.SUBSCRIPTION_REVENUE => AccountRole.SubscriptionRevenue,
        Contracts.MasterData.AccountRole.USAGE_REVENUE => AccountRole.UsageRevenue,
        Contracts.MasterData.AccountRole.SERVICES_REVENUE => AccountRole.ServicesRevenue,
        Contracts.MasterData.AccountRole.UNBILLED_RECEIVABLE => AccountRole.UnbilledReceivable,
        Contracts.MasterData.AccountRole.TAX_PAYABLE => AccountRole.TaxPayable,
        Contracts.MasterData.AccountRole.PAYMENT_FEES => AccountRole.PaymentFees,
        _ => throw new ArgumentOutOfRangeException(nameof(role), role, "unknown GL account role"),
    };

    /// <summary>One immutable state of the mappings.</summary>
    private sealed class GlMappingChart : IChartOfAccounts
    {
        private readonly Dictionary<(string Entity, AccountRole Role, string? Jurisdiction), string> _accounts = [];
        private readonly HashSet<string> _entities = new(StringComparer.Ordinal);
        private readonly IChartOfAccounts? _fallback;

        public GlMappingChart(IEnumerable<GlMapping> mappings, IChartOfAccounts? fallback)
        {
            _fallback = fallback;
            // Unrestricted by product kind last, so a product-restricted mapping never overrides the general one.
            foreach (var m in mappings.OrderBy(m => m.productKind is null ? 1 : 0))
            {
                _accounts[(m.legalEntityId, Role(m.accountRole), string.IsNullOrWhiteSpace(m.jurisdictionCode) ? null : m.jurisdictionCode)] = m.glAccountNumber;
                _entities.Add(m.legalEntityId);
                MappingCount++;
            }
        }

        public int MappingCount { get; }

        public string Account(string legalEntityId, AccountRole role, string? jurisdiction = null)
        {
            if (!_entities.Contains(legalEntityId))
            {
                return _fallback?.Account(legalEntityId, role, jurisdiction) ?? throw new UnknownAccountException(legalEntityId, role, jurisdiction);
            }

            if (role == AccountRole.TaxPayable && string.IsNullOrWhiteSpace(jurisdiction))
            {
                throw new UnknownAccountException(legalEntityId, role, jurisdiction);
            }

            if (jurisdiction is not null && _accounts.TryGetValue((legalEntityId, role, jurisdiction), out var specific))
            {
                return specific;
            }

            return _accounts.TryGetValue((legalEntityId, role, null), out var general) ? general : throw new UnknownAccountException(legalEntityId, role, jurisdiction);
        }
    }
}
