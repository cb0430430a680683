using Streaming.Contracts.MasterData;

namespace Streaming.Sinks.Journals;

/// <summary>
/// The chart of accounts from <c>md.gl-mappings.v1</c>. An entity with at least one mapping uses its mappings only: a role
/// it does not map is an <see cref="UnknownAccountException"/> (the journal goes to quarantine, never to a guessed account).
/// An entity with no mapping at all uses <paramref name="fallback"/> (the demo's default chart), or is unknown when null.
/// A tax mapping restricted to a jurisdiction wins over an unrestricted one.
/// </summary>
public sealed class GlMappingChartOfAccounts(IChartOfAccounts? fallback) : IChartOfAccounts
{
    private readonly Dictionary<string, GlMapping> _byId = new(StringComparer.Ordinal);
    private Dictionary<(string Entity, AccountRole Role, string? Jurisdiction), string> _accounts = [];
    private HashSet<string> _entities = new(StringComparer.Ordinal);
    private readonly Lock _gate = new();

    /// <summary>Number of mappings held.</summary>
    public int Count
    {
        get
        {
            lock (_gate)
            {
                return _byId.Count;
            }
        }
    }

    /// <summary>Adds or replaces a mapping (by mapping id); a null value (tombstone) removes it.</summary>
    public void Apply(string mappingId, GlMapping? mapping)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(mappingId);
        lock (_gate)
        {
            if (mapping is null)
            {
                _byId.Remove(mappingId);
            }
            else
            {
                _byId[mappingId] = mapping;
            }

            var accounts = new Dictionary<(string, AccountRole, string?), string>();
            // Unrestricted by product kind first, so a product-restricted mapping never overrides the general one.
            foreach (var m in _byId.Values.OrderBy(m => m.productKind is null ? 1 : 0))
            {
                accounts[(m.legalEntityId, Role(m.accountRole), string.IsNullOrWhiteSpace(m.jurisdictionCode) ? null : m.jurisdictionCode)] = m.glAccountNumber;
            }

            _accounts = accounts;
            _entities = _byId.Values.Select(m => m.legalEntityId).ToHashSet(StringComparer.Ordinal);
        }
    }

    /// <inheritdoc />
    public string Account(string legalEntityId, AccountRole role, string? jurisdiction = null)
    {
        Dictionary<(string, AccountRole, string?), string> accounts;
        HashSet<string> entities;
        lock (_gate)
        {
            accounts = _accounts;
            entities = _entities;
        }

        if (!entities.Contains(legalEntityId))
        {
            return fallback?.Account(legalEntityId, role, jurisdiction) ?? throw new UnknownAccountException(legalEntityId, role, jurisdiction);
        }

        if (role == AccountRole.TaxPayable && string.IsNullOrWhiteSpace(jurisdiction))
        {
            throw new UnknownAccountException(legalEntityId, role, jurisdiction);
        }

        if (jurisdiction is not null && accounts.TryGetValue((legalEntityId, role, jurisdiction), out var specific))
        {
            return specific;
        }

        return accounts.TryGetValue((legalEntityId, role, null), out var general) ? general : throw new UnknownAccountException(legalEntityId, role, jurisdiction);
    }

    private static AccountRole Role(Contracts.MasterData.AccountRole role) => role switch
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
}
