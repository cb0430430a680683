using System.Globalization;
using System.Text.Json;
using Streaming.Contracts.Crm;
using Streaming.Producers.Edge;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Crm;

/// <summary>What one Salesforce delivery became.</summary>
public sealed record SalesforceMapResult(EdgeBatch Batch, int Events, int ReReadsPending);

/// <summary>
/// Maps Salesforce Change Data Capture events, as JSON from the Pub/Sub API or a CometD relay (<c>{"schema", "payload": {…,
/// "ChangeEventHeader": {…}}, "event": {"replayId", "EventUuid"}}</c>; one event, an array, or <c>{"events": [...]}</c>), to CRM
/// records. Honours the header: one record per id in <c>recordIds</c>; CREATE and UNDELETE carry every non-null field and map
/// directly; UPDATE carries only the changed fields and GAP_* events only ids, so those records are re-read through
/// <see cref="ICrmRecordReader"/> (and when it cannot read, a pending re-read is recorded in <c>connect.checkpoints.v1</c> under
/// <c>salesforce-reread:{entity}:{id}</c> so nothing is lost); <c>GAP_OVERFLOW</c> and wildcard ids record a pending whole-entity
/// re-sync under <c>salesforce-resync:{entity}:{eventId}</c> (resolved by <see cref="SalesforceResync"/>); DELETE marks an account deleted. Events of one transaction are
/// put in <c>sequenceNumber</c> order. The last replay id of the delivery is checkpointed under <c>salesforce-cdc:{channel}</c>.
/// </summary>
public static class SalesforceCdcMapper
{
    /// <summary>Checkpoint key of the replay id.</summary>
    public static string ReplayCheckpointId(string channel) => $"salesforce-cdc:{channel}";

    /// <summary>Checkpoint key of a pending re-read.</summary>
    public static string ReReadCheckpointId(string entity, string recordId) => $"salesforce-reread:{entity}:{recordId}";

    /// <summary>
    /// Checkpoint key of a pending whole-entity re-sync (<c>GAP_OVERFLOW</c>, wildcard id): one per event, so a re-sync in progress
    /// never overwrites, or is overwritten by, a newer one.
    /// </summary>
    public static string ResyncCheckpointId(string entity, string eventId) => $"salesforce-resync:{entity}:{eventId}";

    private sealed record Event(JsonElement Payload, JsonElement Header, string EventId, string? ReplayId, string TransactionKey, long Sequence, int Position);

    /// <summary>Maps one delivery.</summary>
    /// <exception cref="VendorPayloadException">An event lacks its header, entity, change type or ids.</exception>
    public static async Task<SalesforceMapResult> MapAsync(JsonElement root, ConnectorRuntime runtime, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(runtime);
        var channel = runtime.Options.Salesforce.Channel;
        var raw = root.ValueKind switch
        {
            JsonValueKind.Array => root.EnumerateArray().ToList(),
            JsonValueKind.Object when root.Prop("events") is { ValueKind: JsonValueKind.Array } list => list.EnumerateArray().ToList(),
            JsonValueKind.Object => [root],
            _ => throw new VendorPayloadException("the body is not a change event, an array of them or {\"events\": [...]}"),
        };

        var events = new List<Event>();
        for (var i = 0; i < raw.Count; i++)
        {
            var e = raw[i];
            var payload = e.Prop("payload") ?? e;
            var header = payload.Obj("ChangeEventHeader", "event.payload");
            var meta = e.Prop("event");
            var replayId = meta?.Str("replayId") ?? e.Str("replayId");
            var uuid = meta?.Str("EventUuid") ?? e.Str("EventUuid") ?? e.Str("eventUuid") ?? e.Str("id");
            var eventId = uuid ?? (replayId is null ? throw new VendorPayloadException("event has neither EventUuid nor replayId") : $"{channel}:{replayId}");
            events.Add(new Event(payload, header, eventId, replayId, header.Str("transactionKey") ?? eventId, header.Long("sequenceNumber") ?? 0, i));
        }

        // Delivery order between transactions, sequenceNumber order within one.
        var firstSeen = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var e in events)
        {
            firstSeen.TryAdd(e.TransactionKey, e.Position);
        }

        var ordered = events.OrderBy(e => firstSeen[e.TransactionKey]).ThenBy(e => e.Sequence).ThenBy(e => e.Position).ToList();
        var records = new List<EdgeRecord>();
        var ignored = 0;
        var pending = 0;
        var received = runtime.Clock.GetUtcNow().UtcDateTime;
        foreach (var e in ordered)
        {
            var entity = e.Header.ReqStr("entityName", "ChangeEventHeader");
            var changeType = e.Header.ReqStr("changeType", "ChangeEventHeader");
            var ids = e.Header.Items("recordIds").Select(x => x.GetString() ?? "").Where(x => x.Length > 0).ToList();
            if (entity is not ("Account" or "Opportunity"))
            {
                ignored++;
                continue;
            }

            var change = new CrmChange(CrmSourceSystem.SALESFORCE, e.EventId, e.ReplayId, changeType,
                e.Header.Items("changedFields").Select(x => x.GetString() ?? "").ToList(),
                Json.UnixMillis(e.Header.Long("commitTimestamp") ?? runtime.Clock.GetUtcNow().ToUnixTimeMilliseconds()), received);
            if (changeType == "GAP_OVERFLOW" || ids.Any(id => id.EndsWith('*')))
            {
                // Too many changes to list, or a wildcard (field type conversion): the whole entity must be re-synchronised.
                records.Add(ReRead(runtime, ResyncCheckpointId(entity, e.EventId), entity, "*", e, change));
                pending++;
                continue;
            }

            if (ids.Count == 0)
            {
                throw new VendorPayloadException("ChangeEventHeader.recordIds is empty");
            }

            var needsRead = new List<string>();
            foreach (var id in ids)
            {
                var direct = changeType switch
                {
                    "CREATE" or "UNDELETE" => Snapshot(entity, id, e.Payload, change, runtime, deleted: false),
                    "DELETE" when entity == "Account" => CrmRecords.SalesforceAccount(id, e.Payload, change, deleted: true),
                    _ => null,
                };
                if (direct is not null)
                {
                    records.Add(direct);
                }
                else if (changeType == "DELETE")
                {
                    ignored++; // a deleted opportunity is no finance fact; the opportunities topic keeps what happened before
                }
                else
                {
                    needsRead.Add(id);
                }
            }

            if (needsRead.Count > 0)
            {
                var read = await runtime.CrmReader.ReadAsync(CrmSourceSystem.SALESFORCE, entity, needsRead, ct).ConfigureAwait(false);
                foreach (var id in needsRead)
                {
                    if (read is null)
                    {
                        records.Add(ReRead(runtime, ReReadCheckpointId(entity, id), entity, id, e, change));
                        pending++;
                    }
                    else if (read.TryGetValue(id, out var fields) && Snapshot(entity, id, fields, change, runtime, deleted: false) is { } snapshot)
                    {
                        records.Add(snapshot);
                    }
                    else if (entity == "Account" && !read.ContainsKey(id))
                    {
                        records.Add(CrmRecords.SalesforceAccount(id, default, change, deleted: true)!);
                    }
                    else
                    {
                        records.Add(ReRead(runtime, ReReadCheckpointId(entity, id), entity, id, e, change));
                        pending++;
                    }
                }
            }
        }

        var last = events.LastOrDefault(e => e.ReplayId is not null);
        if (last is not null)
        {
            records.Add(runtime.Checkpoint(ReplayCheckpointId(runtime.Options.Salesforce.Channel), last.ReplayId!, last.EventId,
                new Dictionary<string, string> { ["eventId"] = last.EventId, ["transactionKey"] = last.TransactionKey }));
        }

        return new SalesforceMapResult(new EdgeBatch(records, ignored), events.Count, pending);
    }

    private static EdgeRecord? Snapshot(string entity, string id, JsonElement fields, CrmChange change, ConnectorRuntime runtime, bool deleted) => entity switch
    {
        "Account" => CrmRecords.SalesforceAccount(id, fields, change, deleted),
        _ => CrmRecords.SalesforceOpportunity(id, fields, change, runtime.Options.Salesforce.DefaultCurrency),
    };

    private static EdgeRecord ReRead(ConnectorRuntime runtime, string key, string entity, string id, Event e, CrmChange change)
        => runtime.Checkpoint(key, e.ReplayId ?? e.EventId, e.EventId, new Dictionary<string, string>
        {
            ["status"] = "pending",
            ["eventId"] = e.EventId,
            ["system"] = "SALESFORCE",
            ["entity"] = entity,
            ["recordId"] = id,
            ["changeType"] = change.ChangeType ?? "",
            ["transactionKey"] = e.TransactionKey,
            ["sequenceNumber"] = e.Sequence.ToString(CultureInfo.InvariantCulture),
            ["commitTimestamp"] = change.CommitTimestamp.ToString("O", CultureInfo.InvariantCulture),
        });
}
