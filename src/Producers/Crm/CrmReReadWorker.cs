using System.Globalization;
using Confluent.Kafka;
using Microsoft.Extensions.Logging;
using Streaming.Contracts.Crm;
using Streaming.Contracts.Ops;
using Streaming.Producers.Edge;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Crm;

/// <summary>
/// Retries the pending CRM re-reads recorded in <c>connect.checkpoints.v1</c> (<c>salesforce-reread:…</c>,
/// <c>hubspot-reread:…</c> with <c>status = pending</c>): reads each record through <see cref="ICrmRecordReader"/>, stores the
/// snapshot (with the original event id, so a record the webhook stored meanwhile is not stored twice), then marks the
/// checkpoint <c>done</c> (or <c>gone</c> when the record no longer exists). A record still unreadable stays pending for the
/// next pass. Whole-entity re-syncs (<c>salesforce-resync:…</c>, or an older <c>salesforce-reread:{entity}:*</c>; id <c>*</c>) are
/// run by <see cref="SalesforceResync"/> when the reader is an <see cref="ICrmEntityQuery"/>, one entity after the other.
/// </summary>
public sealed class CrmReReadWorker(ConnectorRuntime runtime, ConsumerConfig consumerConfig)
{
    private readonly ILogger _log = runtime.LoggerFactory.CreateLogger<CrmReReadWorker>();

    /// <summary>One pass over the pending re-reads; returns how many were resolved.</summary>
    public async Task<int> RunOnceAsync(CancellationToken ct)
    {
        var pending = await CheckpointReader.ReadAllLatestAsync(consumerConfig, runtime.Registry,
            key => key.StartsWith("salesforce-reread:", StringComparison.Ordinal) || key.StartsWith("hubspot-reread:", StringComparison.Ordinal)
                || key.StartsWith("salesforce-resync:", StringComparison.Ordinal),
            TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        var resolved = 0;
        var resyncs = new Dictionary<string, List<SalesforceResync.Pending>>(StringComparer.Ordinal);
        foreach (var (key, checkpoint) in pending)
        {
            var details = new Dictionary<string, string>(checkpoint.details, StringComparer.Ordinal);
            if (details.GetValueOrDefault("status") != "pending")
            {
                continue;
            }

            var hubspot = key.StartsWith("hubspot-", StringComparison.Ordinal);
            var type = hubspot ? details.GetValueOrDefault("objectType") : details.GetValueOrDefault("entity");
            var id = hubspot ? details.GetValueOrDefault("objectId") : details.GetValueOrDefault("recordId");
            var eventId = details.GetValueOrDefault("eventId") ?? checkpoint.cursor;
            if (type is null || id is null)
            {
                continue;
            }

            if (id == "*")
            {
                if (!hubspot)
                {
                    (resyncs.TryGetValue(type, out var list) ? list : resyncs[type] = []).Add(new SalesforceResync.Pending(key, checkpoint));
                }

                continue;
            }

            var system = hubspot ? CrmSourceSystem.HUBSPOT : CrmSourceSystem.SALESFORCE;
            var read = await runtime.CrmReader.ReadAsync(system, type, [id], ct).ConfigureAwait(false);
            if (read is null)
            {
                continue;
            }

            var when = DateTime.Parse(details.GetValueOrDefault(hubspot ? "occurredAt" : "commitTimestamp") ?? checkpoint.updatedAt.ToString("O", CultureInfo.InvariantCulture),
                CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
            var changeType = hubspot ? details.GetValueOrDefault("subscriptionType") : details.GetValueOrDefault("changeType");
            IList<string> changed = details.GetValueOrDefault("propertyName") is { Length: > 0 } property ? [property] : [];
            var change = new CrmChange(system, eventId, hubspot ? null : checkpoint.cursor, changeType, changed, when, runtime.Clock.GetUtcNow().UtcDateTime);
            EdgeRecord? snapshot = null;
            var status = "done";
            if (read.TryGetValue(id, out var fields))
            {
                snapshot = (hubspot, type) switch
                {
                    (true, _) => CrmRecords.HubSpotObject(type, id, fields, change, runtime.Options.HubSpot.DefaultCurrency),
                    (false, "Account") => CrmRecords.SalesforceAccount(id, fields, change, deleted: false),
                    _ => CrmRecords.SalesforceOpportunity(id, fields, change, runtime.Options.Salesforce.DefaultCurrency),
                };
                if (snapshot is null)
                {
                    status = "incomplete"; // the API answered without the fields a snapshot needs; kept for a person to look at
                }
            }
            else if (!hubspot && type == "Account")
            {
                snapshot = CrmRecords.SalesforceAccount(id, default, change, deleted: true);
            }
            else
            {
                status = "gone";
            }

            if (snapshot is not null)
            {
                await runtime.Writer.WriteAsync(new EdgeBatch([snapshot], 0), null, ct).ConfigureAwait(false);
            }

            var doneDetails = new Dictionary<string, string>(details) { ["status"] = status, ["resolvedAt"] = runtime.Clock.GetUtcNow().UtcDateTime.ToString("O", CultureInfo.InvariantCulture) };
            await runtime.Writer.WriteAsync(new EdgeBatch([runtime.Checkpoint(key, checkpoint.cursor, $"{eventId}:{status}", doneDetails)], 0), null, ct).ConfigureAwait(false);
            _log.LogInformation("Re-read {Key}: {Status}", key, status);
            resolved++;
        }

        if (resyncs.Count > 0)
        {
            if (runtime.CrmReader is ICrmEntityQuery query)
            {
                var resync = new SalesforceResync(runtime, query, _log);
                foreach (var (entity, list) in resyncs.OrderBy(r => r.Key, StringComparer.Ordinal))
                {
                    resolved += await resync.RunAsync(entity, list, ct).ConfigureAwait(false);
                }
            }
            else
            {
                _log.LogWarning("{Count} whole-entity re-sync(s) pending, but the CRM reader cannot query whole entities; configure Connectors:Salesforce:InstanceUrl and a token",
                    resyncs.Values.Sum(l => l.Count));
            }
        }

        return resolved;
    }
}
