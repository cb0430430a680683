namespace Streaming.Sinks.Journals;

/// <summary>Account roles a journal template refers to; a chart maps them to GL account numbers.</summary>
public enum AccountRole
{
    /// <summary>Cash clearing.</summary>
    Cash,
    /// <summary>Accounts receivable.</summary>
    AccountsReceivable,
    /// <summary>Unbilled receivables (usage accruals).</summary>
    UnbilledReceivable,
    /// <summary>Sales tax payable, per jurisdiction.</summary>
    TaxPayable,
    /// <summary>Deferred revenue.</summary>
    DeferredRevenue,
    /// <summary>Subscription revenue.</summary>
    SubscriptionRevenue,
    /// <summary>Usage revenue.</summary>
    UsageRevenue,
    /// <summary>Professional services revenue.</summary>
    ServicesRevenue,
    /// <summary>Payment processing fees.</summary>
    PaymentFees,
}

/// <summary>Maps account roles to GL accounts for a legal entity.</summary>
public interface IChartOfAccounts
{
    /// <summary>The GL account for a role; <paramref name="jurisdiction"/> only for <see cref="AccountRole.TaxPayable"/>.</summary>
    /// <exception cref="UnknownAccountException">No account is mapped.</exception>
    string Account(string legalEntityId, AccountRole role, string? jurisdiction = null);
}

/// <summary>No GL account is mapped for a role (a permanent error: the journal goes to quarantine).</summary>
public sealed class UnknownAccountException(string legalEntityId, AccountRole role, string? jurisdiction)
    : Exception($"No GL account mapped for legal entity '{legalEntityId}', role {role}{(jurisdiction is null ? "" : $", jurisdiction '{jurisdiction}'")}.")
{
    /// <summary>The entity without a mapping.</summary>
    public string LegalEntityId { get; } = legalEntityId;

    /// <summary>The role without a mapping.</summary>
    public AccountRole Role { get; } = role;
}

/// <summary>The embedded demo's default chart of DOMAIN.md (real mappings come from <c>md.gl-mappings.v1</c>).</summary>
public sealed class DefaultChartOfAccounts : IChartOfAccounts, IChartOfAccountsProvider
{
    /// <summary>Shared instance.</summary>
    public static DefaultChartOfAccounts Instance { get; } = new();

    /// <summary>The default chart never changes: it is its own provider.</summary>
    public IChartOfAccounts Current => this;

    /// <inheritdoc />
    public string Account(string legalEntityId, AccountRole role, string? jurisdiction = null) => role switch
    {
        AccountRole.Cash => "1000",
        AccountRole.AccountsReceivable => "1100",
        AccountRole.UnbilledReceivable => "1150",
        AccountRole.TaxPayable => string.IsNullOrWhiteSpace(jurisdiction)
            ? throw new UnknownAccountException(legalEntityId, role, jurisdiction)
            : $"2300-{jurisdiction}",
        AccountRole.DeferredRevenue => "2400",
        AccountRole.SubscriptionRevenue => "4000",
        AccountRole.UsageRevenue => "4100",
        AccountRole.ServicesRevenue => "4200",
        AccountRole.PaymentFees => "6100",
        _ => throw new UnknownAccountException(legalEntityId, role, jurisdiction),
    };
}
