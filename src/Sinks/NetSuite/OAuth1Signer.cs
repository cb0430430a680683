using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Streaming.Sinks.NetSuite;

/// <summary>The four secrets of NetSuite token-based authentication plus the account id used as the OAuth realm.</summary>
public sealed record OAuth1Credentials(string Realm, string ConsumerKey, string ConsumerSecret, string TokenId, string TokenSecret)
{
    /// <summary>Never prints a secret (records print every property by default).</summary>
    public override string ToString() => $"OAuth1Credentials {{ Realm = {Realm}, ConsumerKey = {Mask(ConsumerKey)}, TokenId = {Mask(TokenId)}, secrets = *** }}";

    private static string Mask(string value) => value.Length <= 4 ? "***" : value[..4] + "***";
}

/// <summary>
/// OAuth 1.0a request signing (RFC 5849) with HMAC-SHA256, as NetSuite token-based authentication requires: the signature base
/// string is METHOD &amp; encoded base URL &amp; encoded sorted parameters (oauth_* without realm and signature, plus query
/// parameters); the key is encoded consumer secret &amp; encoded token secret; the realm (account id) goes only in the header.
/// </summary>
public static class OAuth1Signer
{
    /// <summary>The signature method NetSuite accepts.</summary>
    public const string SignatureMethod = "HMAC-SHA256";

    /// <summary>Builds the <c>Authorization</c> header value for one request; <paramref name="nonce"/> and <paramref name="timestamp"/> must be fresh per request.</summary>
    public static string AuthorizationHeader(string method, Uri uri, OAuth1Credentials credentials, string nonce, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        var oauth = OAuthParameters(credentials, nonce, timestamp);
        var signature = Signature(method, uri, oauth, credentials.ConsumerSecret, credentials.TokenSecret);
        var sb = new StringBuilder("OAuth realm=\"").Append(Encode(credentials.Realm)).Append('"');
        foreach (var (k, v) in oauth.Append(KeyValuePair.Create("oauth_signature", signature)).OrderBy(p => p.Key, StringComparer.Ordinal))
        {
            sb.Append(", ").Append(Encode(k)).Append("=\"").Append(Encode(v)).Append('"');
        }

        return sb.ToString();
    }

    /// <summary>The oauth_* protocol parameters (without signature).</summary>
    public static List<KeyValuePair<string, string>> OAuthParameters(OAuth1Credentials credentials, string nonce, long timestamp)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        ArgumentException.ThrowIfNullOrWhiteSpace(nonce);
        return
        [
            KeyValuePair.Create("oauth_consumer_key", credentials.ConsumerKey),
            KeyValuePair.Create("oauth_nonce", nonce),
            KeyValuePair.Create("oauth_signature_method", SignatureMethod),
            KeyValuePair.Create("oauth_timestamp", timestamp.ToString(CultureInfo.InvariantCulture)),
            KeyValuePair.Create("oauth_token", credentials.TokenId),
            KeyValuePair.Create("oauth_version", "1.0"),
        ];
    }

    /// <summary>Base64 HMAC-SHA256 of <see cref="BaseString"/>.</summary>
    public static string Signature(string method, Uri uri, IEnumerable<KeyValuePair<string, string>> oauthParameters, string consumerSecret, string tokenSecret)
    {
        var key = Encoding.ASCII.GetBytes(Encode(consumerSecret) + "&" + Encode(tokenSecret));
        return Convert.ToBase64String(HMACSHA256.HashData(key, Encoding.ASCII.GetBytes(BaseString(method, uri, oauthParameters))));
    }

    /// <summary>RFC 5849 §3.4.1 signature base string.</summary>
    public static string BaseString(string method, Uri uri, IEnumerable<KeyValuePair<string, string>> oauthParameters)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        ArgumentNullException.ThrowIfNull(uri);
        ArgumentNullException.ThrowIfNull(oauthParameters);
        var parameters = oauthParameters.Where(p => p.Key is not ("realm" or "oauth_signature")).Concat(QueryParameters(uri))
            .Select(p => (Key: Encode(p.Key), Value: Encode(p.Value)))
            .OrderBy(p => p.Key, StringComparer.Ordinal).ThenBy(p => p.Value, StringComparer.Ordinal)
            .Select(p => p.Key + "=" + p.Value);
        return method.ToUpperInvariant() + "&" + Encode(BaseUrl(uri)) + "&" + Encode(string.Join("&", parameters));
    }

    /// <summary>Scheme and host lower-cased, the port only when not the scheme's default, the path as sent, no query.</summary>
    public static string BaseUrl(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var port = uri.IsDefaultPort ? "" : ":" + uri.Port.ToString(CultureInfo.InvariantCulture);
        return $"{uri.Scheme.ToLowerInvariant()}://{uri.Host.ToLowerInvariant()}{port}{uri.AbsolutePath}";
    }

    /// <summary>RFC 3986 percent-encoding: everything but A-Z a-z 0-9 - . _ ~, as UTF-8, upper-case hex.</summary>
    public static string Encode(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        var sb = new StringBuilder(value.Length);
        foreach (var b in Encoding.UTF8.GetBytes(value))
        {
            var c = (char)b;
            if (char.IsAsciiLetterOrDigit(c) || c is '-' or '.' or '_' or '~')
            {
                sb.Append(c);
            }
            else
            {
                sb.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
            }
        }

        return sb.ToString();
    }

    /// <summary>Decoded query parameters of <paramref name="uri"/>, in order.</summary>
    public static IEnumerable<KeyValuePair<string, string>> QueryParameters(Uri uri)
    {
        ArgumentNullException.ThrowIfNull(uri);
        var query = uri.Query.TrimStart('?');
        if (query.Length == 0)
        {
            yield break;
        }

        foreach (var pair in query.Split('&', StringSplitOptions.RemoveEmptyEntries))
        {
            var i = pair.IndexOf('=', StringComparison.Ordinal);
            var k = i < 0 ? pair : pair[..i];
            var v = i < 0 ? "" : pair[(i + 1)..];
            yield return KeyValuePair.Create(Uri.UnescapeDataString(k.Replace('+', ' ')), Uri.UnescapeDataString(v.Replace('+', ' ')));
        }
    }
}
