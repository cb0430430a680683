using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Configuration;

namespace Streaming.Producers.Connectors;

/// <summary>
/// Connector settings (section <c>Connectors</c>). Secrets may be given inline, by environment variable
/// (<c>Connectors__Stripe__WebhookSecrets__0</c>) or as files (<c>…File</c> keys, e.g. a mounted Kubernetes secret);
/// they are never logged and never shown by <see cref="object.ToString"/>.
/// </summary>
public sealed class ConnectorOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Connectors";

    /// <summary>Largest request body accepted by a webhook endpoint; larger bodies get 413.</summary>
    [Range(1024, 64 * 1024 * 1024)]
    public int MaxBodyBytes { get; set; } = 1024 * 1024;

    /// <summary>
    /// librdkafka <c>message.timeout.ms</c> of the webhook producer: how long a request may wait for Kafka before it is
    /// answered 503 (the sender then retries). Kept well under the vendors' own delivery timeouts.
    /// </summary>
    [Range(100, 300_000)]
    public int ProduceTimeoutMs { get; set; } = 10_000;

    /// <summary>How many (event id, record) pairs the duplicate filter remembers; the oldest are forgotten first.</summary>
    [Range(1, 50_000_000)]
    public int DedupeCapacity { get; set; } = 500_000;

    /// <summary>How many of the latest records per partition of each connector topic are read at start to seed the duplicate filter.</summary>
    [Range(0, 10_000_000)]
    public int DedupeSeedPerPartition { get; set; } = 50_000;

    /// <summary>Seconds between passes of the CRM re-read worker over pending re-reads (runs only when a CRM reader is configured).</summary>
    [Range(1, 86_400)]
    public int ReReadIntervalSeconds { get; set; } = 60;

    /// <summary>Stripe settings.</summary>
    public StripeConnectorOptions Stripe { get; set; } = new();

    /// <summary>HubSpot settings.</summary>
    public HubSpotConnectorOptions HubSpot { get; set; } = new();

    /// <summary>Salesforce settings.</summary>
    public SalesforceConnectorOptions Salesforce { get; set; } = new();

    /// <summary>Binds the section; secrets named by <c>…File</c> keys are read from their files.</summary>
    /// <exception cref="InvalidOperationException">A setting is invalid or a secret file cannot be read; the message names the key, never the secret.</exception>
    public static ConnectorOptions Bind(IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var options = new ConnectorOptions();
        configuration.GetSection(Section).Bind(options);
        var failures = new List<string>();
        Validate(options, "Connectors", failures);
        Validate(options.Stripe, "Connectors:Stripe", failures);
        Validate(options.HubSpot, "Connectors:HubSpot", failures);
        Validate(options.Salesforce, "Connectors:Salesforce", failures);
        if (options.Stripe.WebhookSecretsFile is { Length: > 0 } stripeFile)
        {
            options.Stripe.WebhookSecrets.AddRange(ReadSecretFile(stripeFile, "Connectors:Stripe:WebhookSecretsFile", failures)
                .Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        }

        if (options.HubSpot.ClientSecretFile is { Length: > 0 } hubspotFile)
        {
            options.HubSpot.ClientSecret = ReadSecretFile(hubspotFile, "Connectors:HubSpot:ClientSecretFile", failures).Trim();
        }

        if (options.Salesforce.RelayTokenFile is { Length: > 0 } relayFile)
        {
            options.Salesforce.RelayToken = ReadSecretFile(relayFile, "Connectors:Salesforce:RelayTokenFile", failures).Trim();
        }

        if (options.HubSpot.AccessTokenFile is { Length: > 0 } hubspotToken)
        {
            options.HubSpot.AccessToken = ReadSecretFile(hubspotToken, "Connectors:HubSpot:AccessTokenFile", failures).Trim();
        }

        if (options.Salesforce.AccessTokenFile is { Length: > 0 } salesforceToken)
        {
            options.Salesforce.AccessToken = ReadSecretFile(salesforceToken, "Connectors:Salesforce:AccessTokenFile", failures).Trim();
        }

        if (options.Salesforce.ClientSecretFile is { Length: > 0 } clientSecretFile)
        {
            options.Salesforce.ClientSecret = ReadSecretFile(clientSecretFile, "Connectors:Salesforce:ClientSecretFile", failures).Trim();
        }

        if (options.Salesforce.RefreshTokenFile is { Length: > 0 } refreshTokenFile)
        {
            options.Salesforce.RefreshToken = ReadSecretFile(refreshTokenFile, "Connectors:Salesforce:RefreshTokenFile", failures).Trim();
        }

        if (!string.IsNullOrWhiteSpace(options.Salesforce.RefreshToken) && string.IsNullOrWhiteSpace(options.Salesforce.ClientId))
        {
            failures.Add("Connectors:Salesforce:ClientId: required with a refresh token (the connected app's consumer key)");
        }

        if (options.Stripe.ApiKeyFile is { Length: > 0 } apiKeyFile)
        {
            options.Stripe.ApiKey = ReadSecretFile(apiKeyFile, "Connectors:Stripe:ApiKeyFile", failures).Trim();
        }

        options.Stripe.WebhookSecrets.RemoveAll(string.IsNullOrWhiteSpace);
        return failures.Count == 0
            ? options
            : throw new InvalidOperationException("Invalid connector configuration: " + string.Join("; ", failures));
    }

    private static void Validate(object value, string section, List<string> failures)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
        {
            failures.AddRange(results.Select(r => $"{section}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"));
        }
    }

    private static string ReadSecretFile(string path, string key, List<string> failures)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            failures.Add($"{key}: cannot read the secret file ({ex.GetType().Name})");
            return "";
        }
    }
}

/// <summary>Stripe webhook and Events API settings (section <c>Connectors:Stripe</c>).</summary>
public sealed class StripeConnectorOptions
{
    /// <summary>Webhook signing secrets (<c>whsec_…</c>); several are live while a secret is rotated. Empty: the endpoint answers 503 (not configured).</summary>
    public List<string> WebhookSecrets { get; set; } = [];

    /// <summary>File with one signing secret per line, added to <see cref="WebhookSecrets"/>.</summary>
    public string? WebhookSecretsFile { get; set; }

    /// <summary>How far a signature's timestamp may be from now, in seconds (Stripe's libraries default to 300).</summary>
    [Range(1, 86_400)]
    public int ToleranceSeconds { get; set; } = 300;

    /// <summary>Secret API key for the Events API poller (<c>sk_…</c> or a restricted key with events read).</summary>
    public string? ApiKey { get; set; }

    /// <summary>File holding <see cref="ApiKey"/>.</summary>
    public string? ApiKeyFile { get; set; }

    /// <summary>Base URL of the Stripe API; tests point it at a local fake.</summary>
    [Required]
    public string ApiBaseUrl { get; set; } = "https://api.stripe.com";

    /// <summary>Whether the Events API poller runs (needs <see cref="ApiKey"/>).</summary>
    public bool PollEvents { get; set; }

    /// <summary>Seconds between Events API polls once caught up.</summary>
    [Range(1, 3600)]
    public int PollIntervalSeconds { get; set; } = 30;

    /// <summary>Page size of <c>GET /v1/events</c> (Stripe allows 1–100).</summary>
    [Range(1, 100)]
    public int PageSize { get; set; } = 100;

    /// <inheritdoc />
    public override string ToString() => $"Stripe(secrets: {WebhookSecrets.Count}, tolerance: {ToleranceSeconds}s, api: {ApiBaseUrl}, poll: {PollEvents})";
}

/// <summary>HubSpot webhook settings (section <c>Connectors:HubSpot</c>).</summary>
public sealed class HubSpotConnectorOptions
{
    /// <summary>The app's client secret, the key of signature v3. Empty: the endpoint answers 503 (not configured).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>File holding <see cref="ClientSecret"/>.</summary>
    public string? ClientSecretFile { get; set; }

    /// <summary>
    /// Public base URL HubSpot calls (e.g. <c>https://hooks.example.com</c>); the signed URI is this plus the request path and
    /// query. Empty: the scheme and host of the request as received (correct when no proxy rewrites them).
    /// </summary>
    public string? PublicBaseUrl { get; set; }

    /// <summary>How old <c>X-HubSpot-Request-Timestamp</c> may be, in seconds (HubSpot: 5 minutes).</summary>
    [Range(1, 3600)]
    public int ToleranceSeconds { get; set; } = 300;

    /// <summary>Private-app access token for re-reading companies and deals through the CRM v3 API; empty: no re-reads (pending re-reads are recorded).</summary>
    public string? AccessToken { get; set; }

    /// <summary>File holding <see cref="AccessToken"/>.</summary>
    public string? AccessTokenFile { get; set; }

    /// <summary>Base URL of the HubSpot API.</summary>
    [Required]
    public string ApiBaseUrl { get; set; } = "https://api.hubapi.com";

    /// <summary>Currency of deals that carry no <c>deal_currency_code</c> (the portal's company currency).</summary>
    [Required]
    public string DefaultCurrency { get; set; } = "USD";

    /// <inheritdoc />
    public override string ToString() => $"HubSpot(secret: {(string.IsNullOrEmpty(ClientSecret) ? "none" : "set")}, tolerance: {ToleranceSeconds}s)";
}

/// <summary>Salesforce CDC relay settings (section <c>Connectors:Salesforce</c>).</summary>
public sealed class SalesforceConnectorOptions
{
    /// <summary>
    /// Bearer token the Pub/Sub API or CometD relay sends (<c>Authorization: Bearer …</c>); Salesforce itself signs nothing on this
    /// hop, so the relay authenticates with it. Empty: the endpoint answers 503 (not configured).
    /// </summary>
    public string? RelayToken { get; set; }

    /// <summary>File holding <see cref="RelayToken"/>.</summary>
    public string? RelayTokenFile { get; set; }

    /// <summary>Identifier of the subscribed channel, part of the replay-id checkpoint key (<c>salesforce-cdc:{Channel}</c>).</summary>
    [Required]
    public string Channel { get; set; } = "/data/ChangeEvents";

    /// <summary>Instance URL for re-reads through the REST API (e.g. <c>https://acme.my.salesforce.com</c>); empty: no re-reads.</summary>
    public string? InstanceUrl { get; set; }

    /// <summary>OAuth access token for the REST API (kept fresh by whoever provisions it, e.g. a sidecar writing <see cref="AccessTokenFile"/>).</summary>
    public string? AccessToken { get; set; }

    /// <summary>File holding <see cref="AccessToken"/>; read again on every re-read, so a refreshed token is picked up.</summary>
    public string? AccessTokenFile { get; set; }

    /// <summary>REST API version.</summary>
    [Required]
    public string ApiVersion { get; set; } = "v62.0";

    /// <summary>Authorization server of the refresh-token flow (<c>https://test.salesforce.com</c> for sandboxes, or the My Domain URL).</summary>
    [Required]
    public string LoginUrl { get; set; } = "https://login.salesforce.com";

    /// <summary>Consumer key of the connected app; with <see cref="RefreshToken"/> the connector obtains and refreshes the access token itself.</summary>
    public string? ClientId { get; set; }

    /// <summary>Consumer secret of the connected app (sent with the refresh request when set).</summary>
    public string? ClientSecret { get; set; }

    /// <summary>File holding <see cref="ClientSecret"/>.</summary>
    public string? ClientSecretFile { get; set; }

    /// <summary>OAuth refresh token of the integration user.</summary>
    public string? RefreshToken { get; set; }

    /// <summary>File holding <see cref="RefreshToken"/>.</summary>
    public string? RefreshTokenFile { get; set; }

    /// <summary>
    /// How long an access token is used before it is refreshed, in seconds (the org's session timeout; Salesforce's token answer
    /// does not say). A 401 refreshes earlier.
    /// </summary>
    [Range(120, 86_400)]
    public int TokenLifetimeSeconds { get; set; } = 7200;

    /// <summary>Corporate currency, for opportunities of single-currency orgs (no <c>CurrencyIsoCode</c>).</summary>
    [Required]
    public string DefaultCurrency { get; set; } = "USD";

    /// <inheritdoc />
    public override string ToString() => $"Salesforce(channel: {Channel}, token: {(string.IsNullOrEmpty(RelayToken) ? "none" : "set")}, refresh: {(string.IsNullOrEmpty(RefreshToken) ? "none" : "set")})";
}
