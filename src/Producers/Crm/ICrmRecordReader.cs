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
