using System.Globalization;
using System.Text.Json;
using Streaming.Contracts.Crm;
using Streaming.Producers.Edge;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Crm;

/// <summary>
/// Maps HubSpot webhook deliveries (a JSON array of events: <c>eventId</c>, <c>subscriptionType</c>, <c>objectId</c>,
/// <c>occurredAt</c>, <c>propertyName</c>/<c>propertyValue</c> for property changes) to CRM records. HubSpot sends at most one
/// property, so companies, deals and contacts are re-read through <see cref="ICrmRecordReader"/> (properties <c>name</c>,
/// <c>country</c>, <c>hs_parent_company_id</c>; <c>dealname</c>, <c>dealstage</c>, <c>amount</c>, <c>closedate</c>,
/// <c>deal_currency_code</c>, <c>associatedcompanyid</c>; <c>email</c>, <c>firstname</c>, <c>lastname</c>, <c>lifecyclestage</c>,
/// <c>associatedcompanyid</c>); when it cannot read, a pending re-read is recorded in <c>connect.checkpoints.v1</c> under
/// <c>hubspot-reread:{type}:{id}</c>. A company deletion marks the account deleted, a contact deletion or privacy deletion the
/// contact (without its personal fields); a contact's company association change re-reads the contact. Deal deletions, contact
/// merges, other association changes and other object types are counted as ignored.
/// </summary>
public static class HubSpotEventMapper
{
    /// <summary>Checkpoint key of a pending re-read.</summary>
    public static string ReReadCheckpointId(string objectType, string id) => $"hubspot-reread:{objectType}:{id}";

    /// <summary>Maps one delivery.</summary>
    /// <exception cref="VendorPayloadException">The body is not an array of events, or an event lacks its id, type or object id.</exception>
    public static async Task<EdgeBatch> MapAsync(JsonElement root, ConnectorRuntime runtime, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        if (root.ValueKind != JsonValueKind.Array)
        {
            throw new VendorPayloadException("the body is not a JSON array of events");
        }

        var records = new List<EdgeRecord>();
        var ignored = 0;
        var received = runtime.Clock.GetUtcNow().UtcDateTime;
        foreach (var e in root.EnumerateArray())
        {
            var eventId = e.ReqStr("eventId", "event");
            var subscription = e.ReqStr("subscriptionType", "event");
            var dot = subscription.IndexOf('.', StringComparison.Ordinal);
            var objectType = dot > 0 ? subscription[..dot] : subscription;
            var action = dot > 0 ? subscription[(dot + 1)..] : "";
            if (objectType == "object")
            {
                objectType = e.Str("objectTypeId") switch { "0-2" => "company", "0-3" => "deal", "0-1" => "contact", var other => other ?? "object" };
            }

            // An association change names no objectId (fromObjectId/toObjectId instead). Only a contact's company association
            // changes a record the connector makes (the contact's accountId): the contact is re-read.
            var contactCompany = action == "associationChange" && objectType == "contact"
                && string.Equals(e.Str("associationType"), "CONTACT_TO_COMPANY", StringComparison.OrdinalIgnoreCase);
            if (objectType is not ("company" or "deal" or "contact")
                || (action == "associationChange" && !contactCompany)
                || (objectType == "deal" && action == "deletion")
                || (objectType == "contact" && action == "merge"))
            {
                ignored++;
                continue;
            }

            var objectId = contactCompany ? e.ReqStr("fromObjectId", "event") : e.ReqStr("objectId", "event");
            var change = new CrmChange(CrmSourceSystem.HUBSPOT, eventId, null, subscription,
                e.Str("propertyName") is { } property ? [property] : [],
                Json.UnixMillis(e.ReqLong("occurredAt", "event")), received);
            if (action is "deletion" or "privacyDeletion")
            {
                records.Add(objectType == "contact" ? CrmRecords.DeletedContact(objectId, change) : CrmRecords.DeletedAccount(objectId, change));
                continue;
            }

            var plural = objectType switch { "company" => "companies", "deal" => "deals", _ => "contacts" };
            var read = await runtime.CrmReader.ReadAsync(CrmSourceSystem.HUBSPOT, plural, [objectId], ct).ConfigureAwait(false);
            EdgeRecord? snapshot = null;
            if (read is not null && read.TryGetValue(objectId, out var properties))
            {
                snapshot = CrmRecords.HubSpotObject(plural, objectId, properties, change, runtime.Options.HubSpot.DefaultCurrency);
            }

            records.Add(snapshot ?? runtime.Checkpoint(ReReadCheckpointId(plural, objectId), eventId, eventId, new Dictionary<string, string>
            {
                ["status"] = "pending",
                ["eventId"] = eventId,
                ["system"] = "HUBSPOT",
                ["objectType"] = plural,
                ["objectId"] = objectId,
                ["subscriptionType"] = subscription,
                ["propertyName"] = e.Str("propertyName") ?? "",
                ["portalId"] = e.Str("portalId") ?? "",
                ["occurredAt"] = change.CommitTimestamp.ToString("O", CultureInfo.InvariantCulture),
            }));
        }

        return new EdgeBatch(records, ignored);
    }
}
