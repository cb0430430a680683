using System.Globalization;
using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.NetSuite;

/// <summary>
/// The ERP could not take the batch now (429 after the configured retries, 5xx, timeouts, connection failures, rejected
/// credentials): nothing is wrong with the journals. It is a <see cref="LedgerTransientException"/> (with the ERP's
/// <c>Retry-After</c>), so the sink parks the batch, pauses its partitions and retries it later. Posting is idempotent by external
/// id: journals of the batch that did go through are found on the retry and reported as <see cref="PostingStatus.Posted"/> when this
/// adapter instance created them. Never quarantine on this.
/// </summary>
public sealed class ErpTransientException(string message, TimeSpan? retryAfter = null, Exception? inner = null)
    : LedgerTransientException(message, inner, retryAfter);

/// <summary>One journal the ERP refused for good (a 4xx validation error, or a reference the adapter cannot map): quarantine it with this context.</summary>
public sealed record ErpRejection(string PostingKey, int HttpStatus, string ErrorCode, string Detail)
{
    /// <summary>The ledger-neutral form the sink quarantines: reason code = ERP error code, the HTTP status in the context.</summary>
    public LedgerRejection ToLedgerRejection() => new(PostingKey, ErrorCode,
        HttpStatus == 0 ? $"refused by the NetSuite adapter before sending: {Detail}" : $"NetSuite answered {HttpStatus} {ErrorCode}: {Detail}",
        new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["erp_http_status"] = HttpStatus.ToString(CultureInfo.InvariantCulture),
            ["erp_error_code"] = ErrorCode,
        });
}

/// <summary>
/// The ERP refused some journals of the batch for good (4xx validation: unknown account, bad field). NetSuite has no batch
/// transaction, so the others did post: <see cref="LedgerPartiallyRejectedException.Outcomes"/> are their real outcomes. The sink
/// quarantines the rejected ones, reports the outcomes of the rest and commits.
/// </summary>
public sealed class ErpPermanentException(IReadOnlyList<ErpRejection> rejections, IReadOnlyList<PostingOutcome> posted)
    : LedgerPartiallyRejectedException(rejections.Select(r => r.ToLedgerRejection()).ToList(), posted,
        $"The ERP rejected {rejections.Count} journal(s): " + string.Join("; ", rejections.Select(r => $"{r.PostingKey}: {r.HttpStatus} {r.ErrorCode} {r.Detail}")))
{
    /// <summary>The refused journals, with the ERP's own status, error code and detail.</summary>
    public IReadOnlyList<ErpRejection> ErpRejections { get; } = rejections;

    /// <summary>Outcomes of the batch's other journals (same as <see cref="LedgerPartiallyRejectedException.Outcomes"/>).</summary>
    public IReadOnlyList<PostingOutcome> Posted => Outcomes;
}
