using System.Globalization;
using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Crm;
using Streaming.Producers.Edge;

namespace Streaming.Producers.Crm;

/// <summary>Common facts of one CRM change, whatever the vendor.</summary>
internal sealed record CrmChange(CrmSourceSystem System, string EventId, string? ReplayId, string? ChangeType, IList<string> ChangedFields, DateTime CommitTimestamp, DateTime ReceivedAt);

/// <summary>Builds CRM source records from a full set of fields (Salesforce API names, or HubSpot property names).</summary>
internal static class CrmRecords
{
    /// <summary>A Salesforce Account snapshot; null when <c>Name</c> is absent (not a full snapshot).</summary>
    public static EdgeRecord? SalesforceAccount(string id, JsonElement fields, CrmChange change, bool deleted)
    {
        var name = fields.Str("Name");
        if (name is null && !deleted)
        {
            return null;
        }

        var country = fields.Str("BillingCountryCode") ?? fields.Str("BillingCountry")
            ?? fields.Prop("BillingAddress")?.Str("CountryCode") ?? fields.Prop("BillingAddress")?.Str("Country");
        return Account(id, name ?? "", fields.Str("ParentId"), country, change, deleted);
    }

    /// <summary>A HubSpot company snapshot; null when <c>name</c> is absent.</summary>
    public static EdgeRecord? HubSpotCompany(string id, JsonElement properties, CrmChange change)
        => properties.Str("name") is { } name ? Account(id, name, properties.Str("hs_parent_company_id"), properties.Str("country"), change, deleted: false) : null;

    /// <summary>A deleted HubSpot company (HubSpot sends no properties with a deletion, so the name is empty).</summary>
    public static EdgeRecord DeletedAccount(string id, CrmChange change) => Account(id, "", null, null, change, deleted: true);

    private static EdgeRecord Account(string id, string name, string? parent, string? country, CrmChange change, bool deleted)
    {
        var record = new CrmAccount
        {
            accountId = id,
            name = name,
            parentAccountId = parent,
            billingCountry = country,
            sourceSystem = change.System,
            eventId = change.EventId,
            replayId = change.ReplayId,
            changeType = change.ChangeType,
            changedFields = change.ChangedFields,
            deleted = deleted,
            commitTimestamp = change.CommitTimestamp,
            receivedAt = change.ReceivedAt,
        };
        return new EdgeRecord(Topics.CrmAccounts, id, record, $"account:{id}", change.EventId);
    }

    /// <summary>
    /// A HubSpot snapshot of a re-read object of <paramref name="objectType"/> (<c>companies</c>, <c>deals</c>, <c>contacts</c>, the
    /// CRM v3 path names); null when the properties lack what the record needs.
    /// </summary>
    public static EdgeRecord? HubSpotObject(string objectType, string id, JsonElement properties, CrmChange change, string defaultCurrency) => objectType switch
    {
        "companies" => HubSpotCompany(id, properties, change),
        "deals" => HubSpotDeal(id, properties, change, defaultCurrency),
        "contacts" => HubSpotContact(id, properties, change),
        _ => throw new ArgumentOutOfRangeException(nameof(objectType), objectType, "not a HubSpot object type the connector maps (companies, deals, contacts)"),
    };

    /// <summary>
    /// A HubSpot contact snapshot (properties <c>email</c>, <c>firstname</c>, <c>lastname</c>, <c>lifecyclestage</c>,
    /// <c>associatedcompanyid</c>). Every field is optional in HubSpot, so any answer is a snapshot.
    /// </summary>
    public static EdgeRecord HubSpotContact(string id, JsonElement p, CrmChange change)
        => Contact(id, Text(p, "email"), Text(p, "firstname"), Text(p, "lastname"), Text(p, "associatedcompanyid"), Text(p, "lifecyclestage"), change, deleted: false);

    /// <summary>A deleted HubSpot contact (deletion or privacy deletion): no personal field is kept.</summary>
    public static EdgeRecord DeletedContact(string id, CrmChange change) => Contact(id, null, null, null, null, null, change, deleted: true);

    /// <summary>A HubSpot property value; HubSpot answers an unset property as <c>""</c> or null, both become null.</summary>
    private static string? Text(JsonElement properties, string name) => properties.Str(name) is { Length: > 0 } v ? v : null;

    private static EdgeRecord Contact(string id, string? email, string? first, string? last, string? account, string? stage, CrmChange change, bool deleted)
    {
        var record = new CrmContact
        {
            contactId = id,
            email = email,
            firstName = first,
            lastName = last,
            accountId = account,
            lifecycleStage = stage,
            sourceSystem = change.System,
            eventId = change.EventId,
            changeType = change.ChangeType,
            changedFields = change.ChangedFields,
            deleted = deleted,
            commitTimestamp = change.CommitTimestamp,
            receivedAt = change.ReceivedAt,
        };
        return new EdgeRecord(Topics.CrmContacts, id, record, $"contact:{id}", change.EventId);
    }

    /// <summary>A Salesforce Opportunity snapshot; null when AccountId or StageName is absent.</summary>
    public static EdgeRecord? SalesforceOpportunity(string id, JsonElement f, CrmChange change, string defaultCurrency)
    {
        if (f.Str("AccountId") is not { } account || f.Str("StageName") is not { } stage)
        {
            return null;
        }

        var currency = (f.Str("CurrencyIsoCode") ?? defaultCurrency).ToUpperInvariant();
        return Opportunity(id, account, f.Str("Name"), stage, f.Bool("IsWon") ?? stage == "Closed Won", Date(f.Str("CloseDate")), currency,
            f.Prop("Amount") is { ValueKind: JsonValueKind.Number } amount ? amount.GetDecimal() : null, change);
    }

    /// <summary>A HubSpot deal snapshot; null when the deal stage or the associated company is absent.</summary>
    public static EdgeRecord? HubSpotDeal(string id, JsonElement p, CrmChange change, string defaultCurrency)
    {
        if (p.Str("dealstage") is not { } stage || p.Str("associatedcompanyid") is not { } company)
        {
            return null;
        }

        var amount = p.Str("amount") is { } a && decimal.TryParse(a, NumberStyles.Number, CultureInfo.InvariantCulture, out var parsed) ? parsed : (decimal?)null;
        return Opportunity(id, company, p.Str("dealname"), stage, stage == "closedwon" || p.Bool("hs_is_closed_won") == true, Date(p.Str("closedate")),
            (p.Str("deal_currency_code") ?? defaultCurrency).ToUpperInvariant(), amount, change);
    }

    private static EdgeRecord Opportunity(string id, string account, string? name, string stage, bool won, DateTime? closeDate, string currency, decimal? amount, CrmChange change)
    {
        var record = new CrmOpportunity
        {
            opportunityId = id,
            accountId = account,
            name = name,
            stage = stage,
            isClosedWon = won,
            closeDate = closeDate,
            contractTermMonths = null,
            contractStartDate = null,
            currency = currency,
            amount = amount is { } v ? Money.ToAvro(Currencies.RoundToMinorUnit(v, currency)) : null,
            lineItems = [],
            eventId = change.EventId,
            sourceSystem = change.System,
            changedFields = change.ChangedFields,
            commitTimestamp = change.CommitTimestamp,
            receivedAt = change.ReceivedAt,
        };
        return new EdgeRecord(Topics.CrmOpportunities, id, record, $"opportunity:{id}", change.EventId);
    }

    /// <summary>A date from <c>2026-11-30</c>, an ISO timestamp, or Unix milliseconds (HubSpot).</summary>
    private static DateTime? Date(string? value)
    {
        if (value is null)
        {
            return null;
        }

        if (long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var ms))
        {
            return Json.UnixMillis(ms).Date;
        }

        return DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var parsed)
            ? parsed.UtcDateTime.Date
            : throw new VendorPayloadException("a date field is not a date");
    }
}
