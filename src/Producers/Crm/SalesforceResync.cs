using System.Globalization;
using Microsoft.Extensions.Logging;
using Streaming.Contracts.Crm;
using Streaming.Contracts.Ops;
using Streaming.Producers.Edge;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Crm;

/// <summary>
/// Resolves the pending whole-entity re-syncs of one Salesforce entity (checkpoints with <c>recordId = *</c>, written for
/// <c>GAP_OVERFLOW</c> events and wildcard record ids) by reading every row through <see cref="ICrmEntityQuery"/>, in Id order,
/// page after page (<c>nextRecordsUrl</c> until <c>done</c>).
/// <para>
/// Each page's records are stored under the re-sync's event id (so the duplicate filter drops a row stored twice) and only once
/// Kafka acknowledged them is the progress written to the checkpoint (<c>resyncAfterId</c> = the page's last Id,
/// <c>resyncRecords</c>, <c>resyncStartedAt</c>; <c>status</c> stays <c>pending</c>). A re-sync that stops (API down, Kafka
/// unavailable, process killed) resumes with <c>WHERE Id &gt; resyncAfterId</c>; rows of a page stored but not yet checkpointed
/// are read again and dropped as duplicates. The checkpoint becomes <c>done</c> after the last page, together with every other
/// pending re-sync of the entity recorded before this one started (the rows read after that instant cover them).
/// </para>
/// </summary>
internal sealed class SalesforceResync(ConnectorRuntime runtime, ICrmEntityQuery query, ILogger log)
{
    /// <summary>A pending checkpoint as read from <c>connect.checkpoints.v1</c>.</summary>
    public sealed record Pending(string Key, ConnectorCheckpoint Checkpoint);

    /// <summary>Runs (or resumes) the re-sync of <paramref name="entity"/>; returns how many pending checkpoints it resolved (0 when it stopped early).</summary>
    public async Task<int> RunAsync(string entity, IReadOnlyList<Pending> pending, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(pending);
        if (pending.Count == 0)
        {
            return 0;
        }

        // Resume the one in progress, else start with the newest (it covers every older one).
        var run = pending.Where(p => p.Checkpoint.details.ContainsKey("resyncStartedAt")).OrderBy(p => p.Checkpoint.details["resyncStartedAt"], StringComparer.Ordinal).FirstOrDefault()
            ?? pending.OrderByDescending(p => p.Checkpoint.updatedAt)
                .ThenByDescending(p => long.TryParse(p.Checkpoint.cursor, NumberStyles.None, CultureInfo.InvariantCulture, out var replay) ? replay : long.MinValue)
                .First();
        var details = new Dictionary<string, string>(run.Checkpoint.details, StringComparer.Ordinal);
        var now = runtime.Clock.GetUtcNow().UtcDateTime;
        var startedAt = details.TryGetValue("resyncStartedAt", out var started) ? ParseTime(started) : now;
        details["resyncStartedAt"] = startedAt.ToString("O", CultureInfo.InvariantCulture);
        var afterId = details.GetValueOrDefault("resyncAfterId") is { Length: > 0 } a ? a : null;
        var stored = long.TryParse(details.GetValueOrDefault("resyncRecords"), NumberStyles.None, CultureInfo.InvariantCulture, out var s) ? s : 0;
        var eventId = details.GetValueOrDefault("eventId") ?? run.Checkpoint.cursor;
        var commit = details.GetValueOrDefault("commitTimestamp") is { } c ? ParseTime(c) : run.Checkpoint.updatedAt;
        var changeType = details.GetValueOrDefault("changeType") is { Length: > 0 } t ? t : "GAP_OVERFLOW";

        log.LogInformation("Re-sync of {Entity} for event {EventId}: {Phase} ({Stored} records stored so far)", entity, eventId, afterId is null ? "starting" : "resuming", stored);
        var page = await query.QueryEntityAsync(entity, afterId, ct).ConfigureAwait(false);
        var pages = 0;
        var incomplete = 0;
        while (true)
        {
            if (page is null)
            {
                log.LogWarning("Re-sync of {Entity} for event {EventId} stopped after {Pages} page(s) and {Stored} records: the API cannot be read now; it stays pending and resumes after the last stored row",
                    entity, eventId, pages, stored);
                return 0;
            }

            var change = new CrmChange(CrmSourceSystem.SALESFORCE, eventId, run.Checkpoint.cursor, changeType, [], commit, runtime.Clock.GetUtcNow().UtcDateTime);
            var records = new List<EdgeRecord>(page.Records.Count);
            string? last = null;
            foreach (var row in page.Records)
            {
                var id = row.ReqStr("Id", "records[]");
                last = id;
                var snapshot = entity == "Account"
                    ? CrmRecords.SalesforceAccount(id, row, change, deleted: false)
                    : CrmRecords.SalesforceOpportunity(id, row, change, runtime.Options.Salesforce.DefaultCurrency);
                if (snapshot is null)
                {
                    incomplete++; // e.g. an opportunity without an account: no record the contract allows
                }
                else
                {
                    records.Add(snapshot);
                }
            }

            // Returns only once Kafka acknowledged every record (throws otherwise: the progress below is then not written).
            await runtime.Writer.WriteAsync(new EdgeBatch(records, 0), null, ct).ConfigureAwait(false);
            stored += records.Count;
            pages++;
            if (last is not null)
            {
                details["resyncAfterId"] = last;
                details["resyncRecords"] = stored.ToString(CultureInfo.InvariantCulture);
                await runtime.Writer.WriteAsync(new EdgeBatch([runtime.Checkpoint(run.Key, run.Checkpoint.cursor, $"{eventId}:resync:{last}", details)], 0), null, ct).ConfigureAwait(false);
            }

            log.LogInformation("Re-sync of {Entity} for event {EventId}: page {Page} stored, {Stored} records so far, {Total} rows in this query, {Incomplete} rows without the needed fields",
                entity, eventId, pages, stored, page.TotalSize, incomplete);
            if (page.Done)
            {
                break;
            }

            if (page.NextRecordsUrl is null)
            {
                throw new VendorPayloadException("a Salesforce query page has done = false and no nextRecordsUrl");
            }

            page = await query.QueryMoreAsync(page.NextRecordsUrl, ct).ConfigureAwait(false);
        }

        var resolvedAt = runtime.Clock.GetUtcNow().UtcDateTime.ToString("O", CultureInfo.InvariantCulture);
        var resolved = 0;
        foreach (var p in pending.Where(p => ReferenceEquals(p, run) || p.Checkpoint.updatedAt <= startedAt))
        {
            var doneDetails = ReferenceEquals(p, run) ? details : new Dictionary<string, string>(p.Checkpoint.details, StringComparer.Ordinal);
            doneDetails["status"] = "done";
            doneDetails["resolvedAt"] = resolvedAt;
            doneDetails["resolvedBy"] = eventId;
            var ownEventId = p.Checkpoint.details.TryGetValue("eventId", out var own) ? own : p.Checkpoint.cursor;
            await runtime.Writer.WriteAsync(new EdgeBatch([runtime.Checkpoint(p.Key, p.Checkpoint.cursor, $"{ownEventId}:done", doneDetails)], 0), null, ct).ConfigureAwait(false);
            resolved++;
        }

        log.LogInformation("Re-sync of {Entity} for event {EventId} done: {Stored} records, {Incomplete} rows skipped, {Resolved} pending re-sync(s) resolved",
            entity, eventId, stored, incomplete, resolved);
        return resolved;
    }

    private static DateTime ParseTime(string value)
        => DateTime.Parse(value, CultureInfo.InvariantCulture, DateTimeStyles.AdjustToUniversal | DateTimeStyles.AssumeUniversal);
}
