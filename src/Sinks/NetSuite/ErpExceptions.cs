using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.NetSuite;

/// <summary>A failure talking to a remote ERP.</summary>
public abstract class ErpException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>
/// The ERP could not take the batch now (429 after the configured retries, 5xx, timeouts, connection failures, rejected
/// credentials): nothing is wrong with the journals. Retry the whole batch later — posting is idempotent by external id, so
/// journals that did go through come back as <see cref="PostingStatus.Duplicate"/>. Never quarantine on this.
/// </summary>
public sealed class ErpTransientException(string message, TimeSpan? retryAfter = null, Exception? inner = null) : ErpException(message, inner)
{
    /// <summary>How long the ERP asked to wait (from <c>Retry-After</c>), when it said.</summary>
    public TimeSpan? RetryAfter { get; } = retryAfter;
}

/// <summary>One journal the ERP refused for good (a 4xx validation error): quarantine it with this context.</summary>
public sealed record ErpRejection(string PostingKey, int HttpStatus, string ErrorCode, string Detail);

/// <summary>
/// The ERP refused some journals of the batch for good (4xx validation: unknown account, bad field). <see cref="Rejections"/>
/// name them; <see cref="Posted"/> are the outcomes of the others, which did post (or were already there). Quarantine the
/// rejected ones and carry on with the rest; re-posting the rest is harmless (they return as duplicates).
/// </summary>
public sealed class ErpPermanentException(IReadOnlyList<ErpRejection> rejections, IReadOnlyList<PostingOutcome> posted)
    : ErpException($"The ERP rejected {rejections.Count} journal(s): " + string.Join("; ", rejections.Select(r => $"{r.PostingKey}: {r.HttpStatus} {r.ErrorCode} {r.Detail}")))
{
    /// <summary>The refused journals, with the ERP's reason.</summary>
    public IReadOnlyList<ErpRejection> Rejections { get; } = rejections;

    /// <summary>Outcomes of the batch's other journals.</summary>
    public IReadOnlyList<PostingOutcome> Posted { get; } = posted;
}
