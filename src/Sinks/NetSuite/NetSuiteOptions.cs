using System.ComponentModel.DataAnnotations;

namespace Streaming.Sinks.NetSuite;

/// <summary>
/// The NetSuite REST adapter (section <c>NetSuite</c>). The four token-based-authentication secrets come from configuration
/// (environment variables <c>STREAMING_NetSuite__ConsumerSecret</c> etc. or a secret store), are never logged and never printed.
/// </summary>
public sealed class NetSuiteOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "NetSuite";

    /// <summary>REST root, e.g. <c>https://1234567.suitetalk.api.netsuite.com</c>; <c>/services/rest/record/v1/…</c> is appended.</summary>
    [Required]
    [Url]
    public string BaseUrl { get; set; } = "";

    /// <summary>NetSuite account id (e.g. <c>1234567_SB1</c>): the OAuth realm.</summary>
    [Required]
    public string AccountId { get; set; } = "";

    /// <summary>Integration record's consumer key.</summary>
    [Required]
    public string ConsumerKey { get; set; } = "";

    /// <summary>Integration record's consumer secret (never logged).</summary>
    [Required]
    public string ConsumerSecret { get; set; } = "";

    /// <summary>Access token id.</summary>
    [Required]
    public string TokenId { get; set; } = "";

    /// <summary>Access token secret (never logged).</summary>
    [Required]
    public string TokenSecret { get; set; } = "";

    /// <summary>Most requests in flight at once (NetSuite governs concurrency per account; leave room for other integrations).</summary>
    [Range(1, 100)]
    public int MaxConcurrency { get; set; } = 4;

    /// <summary>Attempts per request for 429, 5xx and timeouts before the batch fails as transient.</summary>
    [Range(1, 50)]
    public int MaxAttempts { get; set; } = 6;

    /// <summary>First backoff after a 5xx or timeout; doubles per attempt (with jitter) up to <see cref="MaxBackoffMs"/>.</summary>
    [Range(1, 600_000)]
    public int InitialBackoffMs { get; set; } = 200;

    /// <summary>Longest wait between attempts (also caps a server's <c>Retry-After</c>).</summary>
    [Range(1, 600_000)]
    public int MaxBackoffMs { get; set; } = 30_000;

    /// <summary>Timeout of one HTTP request.</summary>
    [Range(1, 900)]
    public int RequestTimeoutSeconds { get; set; } = 60;

    /// <summary>Legal entity → NetSuite subsidiary internal id (e.g. US01 → 1).</summary>
    public Dictionary<string, string> Subsidiaries { get; set; } = new(StringComparer.Ordinal);

    /// <summary>ISO currency → NetSuite currency internal id (e.g. USD → 1).</summary>
    public Dictionary<string, string> Currencies { get; set; } = new(StringComparer.Ordinal);

    /// <summary>GL account number → NetSuite account internal id. Empty: the GL number is sent as the id.</summary>
    public Dictionary<string, string> Accounts { get; set; } = new(StringComparer.Ordinal);

    /// <summary>Custom body field that carries the journal's content hash, to tell a duplicate from a conflicting journal.</summary>
    [Required]
    public string ContentHashField { get; set; } = "custbody_streaming_content_hash";

    /// <summary>No secrets in logs or exception messages.</summary>
    public override string ToString() => $"NetSuite {BaseUrl} account {AccountId}, concurrency {MaxConcurrency}, {MaxAttempts} attempts";
}
