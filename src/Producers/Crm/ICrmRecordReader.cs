using System.Text.Json;
using Streaming.Contracts.Crm;

namespace Streaming.Producers.Crm;

/// <summary>
/// Reads the current state of CRM records by id: what a Salesforce GAP event (ids only) or a HubSpot notification (one property
/// at most) needs to become a full snapshot. Implementations call the vendor's API (Salesforce REST <c>sobjects</c>/composite,
/// HubSpot CRM v3 <c>objects</c>).
/// </summary>
public interface ICrmRecordReader
{
    /// <summary>
    /// Current field values of <paramref name="ids"/> of <paramref name="objectType"/> (Salesforce API names, e.g. <c>Name</c>,
    /// <c>StageName</c>; HubSpot property names, e.g. <c>dealstage</c>), keyed by id. An id missing from the answer no longer exists.
    /// Null when the reader cannot read now (not configured, API down): the caller records a pending re-read instead.
    /// </summary>
    Task<IReadOnlyDictionary<string, JsonElement>?> ReadAsync(CrmSourceSystem system, string objectType, IReadOnlyList<string> ids, CancellationToken ct);
}

/// <summary>The reader used when none is configured: it never reads, so every re-read is recorded as pending in <c>connect.checkpoints.v1</c>.</summary>
public sealed class NoCrmRecordReader : ICrmRecordReader
{
    /// <summary>The instance.</summary>
    public static NoCrmRecordReader Instance { get; } = new();

    /// <inheritdoc />
    public Task<IReadOnlyDictionary<string, JsonElement>?> ReadAsync(CrmSourceSystem system, string objectType, IReadOnlyList<string> ids, CancellationToken ct)
        => Task.FromResult<IReadOnlyDictionary<string, JsonElement>?>(null);
}

/// <summary>One page of a Salesforce SOQL query answer (<c>totalSize</c>, <c>done</c>, <c>nextRecordsUrl</c>, <c>records</c>).</summary>
/// <param name="Records">The rows, each with its <c>attributes</c> and the selected fields.</param>
/// <param name="TotalSize">Rows the whole query matches (all pages).</param>
/// <param name="Done">True on the last page.</param>
/// <param name="NextRecordsUrl">Relative URL of the next page while <paramref name="Done"/> is false.</param>
public sealed record CrmQueryPage(IReadOnlyList<JsonElement> Records, long TotalSize, bool Done, string? NextRecordsUrl);

/// <summary>
/// Reads a whole Salesforce entity page by page, in <c>Id</c> order, for the re-syncs a <c>GAP_OVERFLOW</c> event or a wildcard
/// record id asks for. A null page means the API cannot be read now (not configured, throttled, down): the re-sync stays pending.
/// </summary>
public interface ICrmEntityQuery
{
    /// <summary>The first page of every row of <paramref name="entity"/> (<c>Account</c> or <c>Opportunity</c>) whose Id is greater than <paramref name="afterId"/> (null: from the start).</summary>
    Task<CrmQueryPage?> QueryEntityAsync(string entity, string? afterId, CancellationToken ct);

    /// <summary>The page at <paramref name="nextRecordsUrl"/> of the previous page.</summary>
    Task<CrmQueryPage?> QueryMoreAsync(string nextRecordsUrl, CancellationToken ct);
}
