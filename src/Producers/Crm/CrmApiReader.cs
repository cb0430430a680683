using System.Net;
using System.Net.Http.Headers;
using System.Text.Json;
using System.Text.Json.Nodes;
using Microsoft.Extensions.Logging;
using Streaming.Contracts.Crm;
using Streaming.Producers.Connectors;

namespace Streaming.Producers.Crm;

/// <summary>
/// Re-reads CRM records over the vendors' REST APIs: HubSpot CRM v3 (<c>GET /crm/v3/objects/{companies|deals|contacts}/{id}</c> with
/// the properties the mapping uses and, for deals and contacts, the associated companies) and Salesforce REST
/// (<c>GET /services/data/{version}/sobjects/{entity}/{id}</c>, every field). A 404 means the record is gone (left out of the
/// answer); a rate limit, server error, network error or missing credentials answer null, so the caller records a pending
/// re-read instead of losing the change. Whole Salesforce entities are read through the query API (<see cref="ICrmEntityQuery"/>).
/// The Salesforce token comes from <see cref="SalesforceTokenSource"/> (refresh-token flow, a 401 renews it and retries once).
/// Tokens are sent, never logged.
/// </summary>
public sealed partial class CrmApiReader(HttpClient http, ConnectorOptions options, ILogger logger, TimeProvider? clock = null) : ICrmRecordReader, ICrmEntityQuery
{
    private readonly SalesforceTokenSource _salesforceTokens = new(http, options.Salesforce, logger, clock);

    private static readonly string CompanyProperties = "name,country,hs_parent_company_id";
    private static readonly string DealProperties = "dealname,dealstage,amount,closedate,deal_currency_code,hs_is_closed_won";
    private static readonly string ContactProperties = "email,firstname,lastname,lifecyclestage,associatedcompanyid";

    /// <summary>True when at least one vendor API is configured.</summary>
    public static bool Configured(ConnectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return HasToken(options.HubSpot.AccessToken, options.HubSpot.AccessTokenFile)
            || (!string.IsNullOrWhiteSpace(options.Salesforce.InstanceUrl)
                && (HasToken(options.Salesforce.AccessToken, options.Salesforce.AccessTokenFile) || SalesforceTokenSource.CanRefresh(options.Salesforce)));
    }

    /// <inheritdoc />
    public async Task<IReadOnlyDictionary<string, JsonElement>?> ReadAsync(CrmSourceSystem system, string objectType, IReadOnlyList<string> ids, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(ids);
        var result = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        foreach (var id in ids)
        {
            var (found, fields) = system == CrmSourceSystem.HUBSPOT
                ? await HubSpotAsync(objectType, id, ct).ConfigureAwait(false)
                : await SalesforceAsync(objectType, id, ct).ConfigureAwait(false);
            if (!found.HasValue)
            {
                return null;
            }

            if (found.Value)
            {
                result[id] = fields;
            }
        }

        return result;
    }

    private async Task<(bool? Found, JsonElement Fields)> HubSpotAsync(string objectType, string id, CancellationToken ct)
    {
        var token = Token(options.HubSpot.AccessToken, options.HubSpot.AccessTokenFile);
        if (token is null || objectType is not ("companies" or "deals" or "contacts"))
        {
            return (null, default);
        }

        var query = objectType switch
        {
            "companies" => $"properties={CompanyProperties}",
            "deals" => $"properties={DealProperties}&associations=companies",
            _ => $"properties={ContactProperties}&associations=companies",
        };
        using var doc = await GetAsync($"{options.HubSpot.ApiBaseUrl.TrimEnd('/')}/crm/v3/objects/{objectType}/{Uri.EscapeDataString(id)}?{query}", token, "HubSpot", ct).ConfigureAwait(false);
        if (doc.Status != HttpStatusCode.OK)
        {
            return (doc.Status == HttpStatusCode.NotFound ? false : null, default);
        }

        // Flatten: the properties, plus the first associated company as associatedcompanyid unless the object names its primary
        // company itself (a contact's associatedcompanyid property).
        var flat = new JsonObject();
        if (doc.Json!.RootElement.TryGetProperty("properties", out var properties) && properties.ValueKind == JsonValueKind.Object)
        {
            foreach (var p in properties.EnumerateObject())
            {
                flat[p.Name] = JsonNode.Parse(p.Value.GetRawText());
            }
        }

        if (flat["associatedcompanyid"]?.ToString() is not { Length: > 0 }
            && doc.Json.RootElement.TryGetProperty("associations", out var associations)
            && associations.TryGetProperty("companies", out var companies)
            && companies.TryGetProperty("results", out var results)
            && results.ValueKind == JsonValueKind.Array && results.GetArrayLength() > 0
            && results[0].TryGetProperty("id", out var companyId))
        {
            flat["associatedcompanyid"] = companyId.ValueKind == JsonValueKind.String ? companyId.GetString() : companyId.GetRawText();
        }

        return (true, JsonDocument.Parse(flat.ToJsonString()).RootElement.Clone());
    }

    private async Task<(bool? Found, JsonElement Fields)> SalesforceAsync(string entity, string id, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(options.Salesforce.InstanceUrl) || id == "*")
        {
            return (null, default);
        }

        using var doc = await SalesforceGetAsync($"/services/data/{options.Salesforce.ApiVersion}/sobjects/{Uri.EscapeDataString(entity)}/{Uri.EscapeDataString(id)}", ct).ConfigureAwait(false);
        return doc.Status switch
        {
            HttpStatusCode.OK => (true, doc.Json!.RootElement.Clone()),
            HttpStatusCode.NotFound => (false, default),
            _ => (null, default),
        };
    }

    /// <inheritdoc />
    /// <remarks>
    /// <c>GET {InstanceUrl}/services/data/{ApiVersion}/query?q=SELECT FIELDS(STANDARD) FROM {entity} [WHERE Id &gt; '{afterId}'] ORDER BY Id</c>:
    /// the standard fields include <c>BillingCountryCode</c> and <c>CurrencyIsoCode</c> where the org has them, and the Id order lets
    /// an interrupted re-sync resume after the last stored row (a query locator expires).
    /// </remarks>
    /// <exception cref="ArgumentException">The entity is not Account or Opportunity, or <paramref name="afterId"/> is not a Salesforce id.</exception>
    public Task<CrmQueryPage?> QueryEntityAsync(string entity, string? afterId, CancellationToken ct)
    {
        if (entity is not ("Account" or "Opportunity"))
        {
            throw new ArgumentException($"'{entity}' is not an entity the connector re-syncs (Account, Opportunity)", nameof(entity));
        }

        if (afterId is not null && !SalesforceId().IsMatch(afterId))
        {
            throw new ArgumentException($"'{afterId}' is not a Salesforce record id (15 or 18 letters and digits)", nameof(afterId));
        }

        var soql = $"SELECT FIELDS(STANDARD) FROM {entity}{(afterId is null ? "" : $" WHERE Id > '{afterId}'")} ORDER BY Id";
        return QueryPageAsync($"/services/data/{options.Salesforce.ApiVersion}/query?q={Uri.EscapeDataString(soql)}", ct);
    }

    /// <inheritdoc />
    /// <exception cref="ArgumentException"><paramref name="nextRecordsUrl"/> is not a relative <c>/services/data/</c> path (the token is sent to the instance only).</exception>
    public Task<CrmQueryPage?> QueryMoreAsync(string nextRecordsUrl, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(nextRecordsUrl);
        if (!nextRecordsUrl.StartsWith("/services/data/", StringComparison.Ordinal) || nextRecordsUrl.Contains("//", StringComparison.Ordinal))
        {
            throw new ArgumentException($"nextRecordsUrl '{nextRecordsUrl}' is not a path under /services/data/", nameof(nextRecordsUrl));
        }

        return QueryPageAsync(nextRecordsUrl, ct);
    }

    private async Task<CrmQueryPage?> QueryPageAsync(string pathAndQuery, CancellationToken ct)
    {
        if (string.IsNullOrWhiteSpace(options.Salesforce.InstanceUrl))
        {
            return null;
        }

        using var doc = await SalesforceGetAsync(pathAndQuery, ct).ConfigureAwait(false);
        if (doc.Status != HttpStatusCode.OK)
        {
            return null;
        }

        var root = doc.Json!.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("records", out var records) || records.ValueKind != JsonValueKind.Array
            || !root.TryGetProperty("done", out var done) || done.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
        {
            logger.LogWarning("Salesforce query answered without records or done; the re-sync stays pending");
            return null;
        }

        var total = root.TryGetProperty("totalSize", out var size) && size.TryGetInt64(out var t) ? t : records.GetArrayLength();
        var next = root.TryGetProperty("nextRecordsUrl", out var url) && url.ValueKind == JsonValueKind.String ? url.GetString() : null;
        return new CrmQueryPage([.. records.EnumerateArray().Select(r => r.Clone())], total, done.GetBoolean(), next);
    }

    [System.Text.RegularExpressions.GeneratedRegex("^[a-zA-Z0-9]{15}([a-zA-Z0-9]{3})?$")]
    private static partial System.Text.RegularExpressions.Regex SalesforceId();

    /// <summary>A GET on the Salesforce instance with the current token; a 401 renews the token (refresh flow) and tries once more.</summary>
    private async Task<Answer> SalesforceGetAsync(string pathAndQuery, CancellationToken ct)
    {
        var url = options.Salesforce.InstanceUrl!.TrimEnd('/') + pathAndQuery;
        var token = await _salesforceTokens.GetAsync(ct).ConfigureAwait(false);
        if (token is null)
        {
            return new Answer(HttpStatusCode.Unauthorized, null);
        }

        var answer = await GetAsync(url, token, "Salesforce", ct).ConfigureAwait(false);
        if (answer.Status == HttpStatusCode.Unauthorized && await _salesforceTokens.RenewAsync(token, ct).ConfigureAwait(false) is { } renewed)
        {
            answer.Dispose();
            answer = await GetAsync(url, renewed, "Salesforce", ct).ConfigureAwait(false);
        }

        return answer;
    }

    private sealed class Answer(HttpStatusCode status, JsonDocument? json) : IDisposable
    {
        public HttpStatusCode Status { get; } = status;

        public JsonDocument? Json { get; } = json;

        public void Dispose() => Json?.Dispose();
    }

    private async Task<Answer> GetAsync(string url, string token, string vendor, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, url);
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        try
        {
            using var response = await http.SendAsync(request, ct).ConfigureAwait(false);
            if (response.StatusCode != HttpStatusCode.OK)
            {
                if (response.StatusCode != HttpStatusCode.NotFound)
                {
                    logger.LogWarning("{Vendor} API answered {Status}; the change stays a pending re-read", vendor, (int)response.StatusCode);
                }

                return new Answer(response.StatusCode, null);
            }

            var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
            await using (stream.ConfigureAwait(false))
            {
                return new Answer(HttpStatusCode.OK, await JsonDocument.ParseAsync(stream, cancellationToken: ct).ConfigureAwait(false));
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or JsonException or TaskCanceledException && !ct.IsCancellationRequested)
        {
            logger.LogWarning("{Vendor} API call failed ({Type}); the change stays a pending re-read", vendor, ex.GetType().Name);
            return new Answer(HttpStatusCode.ServiceUnavailable, null);
        }
    }

    private static bool HasToken(string? token, string? file) => !string.IsNullOrWhiteSpace(token) || !string.IsNullOrWhiteSpace(file);

    /// <summary>The token from its file when one is named (read each time: a refreshed token is picked up), else the configured value.</summary>
    internal static string? Token(string? token, string? file)
    {
        if (!string.IsNullOrWhiteSpace(file))
        {
            try
            {
                var value = File.ReadAllText(file).Trim();
                return value.Length > 0 ? value : null;
            }
            catch (IOException)
            {
                return null;
            }
            catch (UnauthorizedAccessException)
            {
                return null;
            }
        }

        return string.IsNullOrWhiteSpace(token) ? null : token;
    }
}
