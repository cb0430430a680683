using System.Globalization;
using System.Net;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using Streaming.Producers.Connectors;

namespace Streaming.Producers.Crm;

/// <summary>
/// The Salesforce REST access token. With a refresh token configured (<c>ClientId</c>, <c>ClientSecret</c>, <c>RefreshToken</c>)
/// it obtains and renews the token itself with the OAuth 2.0 refresh-token flow (<c>POST {LoginUrl}/services/oauth2/token</c>,
/// <c>grant_type=refresh_token</c>): before the first call, when the API answers 401, and when the token is older than
/// <see cref="SalesforceConnectorOptions.TokenLifetimeSeconds"/> (Salesforce's answer carries <c>issued_at</c>, not a lifetime; the
/// org's session timeout decides). Without one it hands out the configured <c>AccessToken</c> (or <c>AccessTokenFile</c>, read again
/// each time). Tokens and secrets are sent, never logged: a failed refresh logs the OAuth error code only.
/// </summary>
public sealed class SalesforceTokenSource(HttpClient http, SalesforceConnectorOptions options, ILogger logger, TimeProvider? clock = null)
{
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _token;
    private bool _seeded;
    private DateTimeOffset _issuedAt;

    /// <summary>True when the refresh-token flow is configured.</summary>
    public static bool CanRefresh(SalesforceConnectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return !string.IsNullOrWhiteSpace(options.ClientId) && !string.IsNullOrWhiteSpace(options.RefreshToken);
    }

    /// <summary>How many refreshes succeeded (for tests and metrics).</summary>
    public int Refreshes { get; private set; }

    /// <summary>A token to call the API with; null when none can be had now (not configured, refresh refused or unreachable).</summary>
    public async Task<string?> GetAsync(CancellationToken ct)
    {
        if (!CanRefresh(options))
        {
            return CrmApiReader.Token(options.AccessToken, options.AccessTokenFile);
        }

        if (!_seeded)
        {
            // A configured access token is used until it is refused or expires; then the refresh token takes over.
            _seeded = true;
            _token = CrmApiReader.Token(options.AccessToken, options.AccessTokenFile);
            _issuedAt = _clock.GetUtcNow();
        }

        var token = _token;
        if (token is not null && !Expired())
        {
            return token;
        }

        return await RefreshAsync(token, ct).ConfigureAwait(false);
    }

    /// <summary>
    /// The API refused <paramref name="rejected"/> (401): a new token from the refresh flow, or null when there is none (no refresh
    /// token configured, or the refresh failed). Concurrent callers holding the same rejected token share one refresh.
    /// </summary>
    public Task<string?> RenewAsync(string rejected, CancellationToken ct)
        => CanRefresh(options) ? RefreshAsync(rejected, ct) : Task.FromResult<string?>(null);

    private bool Expired() => _clock.GetUtcNow() - _issuedAt >= TimeSpan.FromSeconds(Math.Max(60, options.TokenLifetimeSeconds - 60));

    private async Task<string?> RefreshAsync(string? stale, CancellationToken ct)
    {
        await _gate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            if (_token is not null && _token != stale && !Expired())
            {
                return _token; // another caller refreshed meanwhile
            }

            using var request = new HttpRequestMessage(HttpMethod.Post, $"{options.LoginUrl.TrimEnd('/')}/services/oauth2/token");
            var form = new List<KeyValuePair<string, string>>
            {
                new("grant_type", "refresh_token"),
                new("client_id", options.ClientId!),
                new("refresh_token", options.RefreshToken!),
            };
            if (!string.IsNullOrEmpty(options.ClientSecret))
            {
                form.Add(new("client_secret", options.ClientSecret));
            }

            request.Content = new FormUrlEncodedContent(form);
            request.Headers.Accept.Add(new System.Net.Http.Headers.MediaTypeWithQualityHeaderValue("application/json"));
            try
            {
                using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
                var body = await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false);
                using var json = JsonDocument.Parse(body.Length == 0 ? "{}" : body);
                var root = json.RootElement;
                if (response.StatusCode != HttpStatusCode.OK
                    || root.ValueKind != JsonValueKind.Object
                    || !root.TryGetProperty("access_token", out var access) || access.ValueKind != JsonValueKind.String || access.GetString() is not { Length: > 0 } token)
                {
                    var error = root.ValueKind == JsonValueKind.Object && root.TryGetProperty("error", out var e) && e.ValueKind == JsonValueKind.String ? e.GetString() : "no access_token";
                    logger.LogError("Salesforce token refresh at {LoginUrl} answered {Status} ({Error}); API calls wait for a token and changes stay pending re-reads",
                        options.LoginUrl, (int)response.StatusCode, error);
                    _token = null;
                    return null;
                }

                _token = token;
                _issuedAt = root.TryGetProperty("issued_at", out var issued) && issued.ValueKind == JsonValueKind.String
                    && long.TryParse(issued.GetString(), NumberStyles.None, CultureInfo.InvariantCulture, out var ms)
                    && DateTimeOffset.FromUnixTimeMilliseconds(ms) <= _clock.GetUtcNow()
                        ? DateTimeOffset.FromUnixTimeMilliseconds(ms)
                        : _clock.GetUtcNow();
                Refreshes++;
                logger.LogInformation("Salesforce access token refreshed (refresh {Count})", Refreshes);
                return token;
            }
            catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
            {
                logger.LogError("Salesforce token refresh at {LoginUrl} failed ({Type}); changes stay pending re-reads", options.LoginUrl, ex.GetType().Name);
                return null;
            }
        }
        finally
        {
            _gate.Release();
        }
    }
}
