using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Streaming.Producers.Webhooks;

/// <summary>Why a webhook signature check failed, or <see cref="Valid"/>. Safe to log: never contains the secret or the body.</summary>
public enum SignatureCheck
{
    /// <summary>A configured secret signed this exact body at an acceptable time.</summary>
    Valid,

    /// <summary>The signature header is absent.</summary>
    MissingHeader,

    /// <summary>The header cannot be parsed (no timestamp, bad number, no signature of the expected scheme).</summary>
    Malformed,

    /// <summary>The timestamp is outside the tolerance (replay or clock skew).</summary>
    Expired,

    /// <summary>No configured secret produces any of the given signatures.</summary>
    Mismatch,
}

/// <summary>
/// Stripe <c>Stripe-Signature</c> verification: <c>t=&lt;unix seconds&gt;,v1=&lt;hex&gt;[,v1=…]</c>, each <c>v1</c> an
/// HMAC-SHA256 of <c>{t}.{raw body}</c> with an endpoint secret. Accepts when any <c>v1</c> matches any configured secret
/// (rotation: Stripe sends one signature per live secret), compared in constant time, and <c>t</c> is within the tolerance
/// of now in either direction. Other schemes (<c>v0</c>, test-mode) are ignored, as Stripe's libraries do.
/// </summary>
public sealed class StripeSignatureVerifier(IReadOnlyList<string> secrets, TimeSpan tolerance, TimeProvider? clock = null)
{
    private readonly byte[][] _keys = secrets.Select(s => Encoding.UTF8.GetBytes(s)).ToArray();
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>True when at least one secret is configured.</summary>
    public bool Configured => _keys.Length > 0;

    /// <summary>Checks <paramref name="header"/> against the raw <paramref name="body"/> bytes.</summary>
    public SignatureCheck Verify(string? header, ReadOnlySpan<byte> body)
    {
        if (string.IsNullOrWhiteSpace(header))
        {
            return SignatureCheck.MissingHeader;
        }

        long? timestamp = null;
        var signatures = new List<byte[]>();
        foreach (var part in header.Split(','))
        {
            var eq = part.IndexOf('=', StringComparison.Ordinal);
            if (eq <= 0)
            {
                continue;
            }

            var name = part[..eq].Trim();
            var value = part[(eq + 1)..].Trim();
            if (name == "t")
            {
                if (timestamp is not null || !long.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var t))
                {
                    return SignatureCheck.Malformed;
                }

                timestamp = t;
            }
            else if (name == "v1" && value.Length == 64 && TryHex(value, out var signature))
            {
                signatures.Add(signature);
            }
        }

        if (timestamp is not { } ts || signatures.Count == 0)
        {
            return SignatureCheck.Malformed;
        }

        var now = _clock.GetUtcNow().ToUnixTimeSeconds();
        if (Math.Abs(now - ts) > (long)tolerance.TotalSeconds)
        {
            return SignatureCheck.Expired;
        }

        var prefix = Encoding.UTF8.GetBytes(ts.ToString(CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        var matched = false;
        foreach (var key in _keys)
        {
            var expected = HMACSHA256.HashData(key, signed);
            foreach (var signature in signatures)
            {
                // Every comparison runs, so timing says nothing about which secret or signature came close.
                matched |= CryptographicOperations.FixedTimeEquals(expected, signature);
            }
        }

        return matched ? SignatureCheck.Valid : SignatureCheck.Mismatch;
    }

    /// <summary>Builds a <c>Stripe-Signature</c> header value for <paramref name="body"/> (tests, the fake server, the benchmark).</summary>
    public static string Sign(string secret, long timestamp, ReadOnlySpan<byte> body)
    {
        var prefix = Encoding.UTF8.GetBytes(timestamp.ToString(CultureInfo.InvariantCulture) + ".");
        var signed = new byte[prefix.Length + body.Length];
        prefix.CopyTo(signed, 0);
        body.CopyTo(signed.AsSpan(prefix.Length));
        return Convert.ToHexStringLower(HMACSHA256.HashData(Encoding.UTF8.GetBytes(secret), signed));
    }

    private static bool TryHex(string value, out byte[] bytes)
    {
        try
        {
            bytes = Convert.FromHexString(value);
            return true;
        }
        catch (FormatException)
        {
            bytes = [];
            return false;
        }
    }
}

/// <summary>
/// HubSpot signature v3: <c>X-HubSpot-Signature-v3</c> = base64 HMAC-SHA256, keyed with the app's client secret, of
/// <c>method + URI + body + timestamp</c>, where the timestamp is <c>X-HubSpot-Request-Timestamp</c> (Unix milliseconds) and
/// requests older than the tolerance (5 minutes) are rejected. The URI is the full URL HubSpot called, with the
/// percent-encoded characters HubSpot lists (<c>: / ? @ ! $ ' ( ) * , ;</c>) decoded before signing.
/// </summary>
public sealed class HubSpotSignatureVerifier(string? clientSecret, TimeSpan tolerance, TimeProvider? clock = null)
{
    private static readonly (string Encoded, string Decoded)[] DecodedCharacters =
    [
        ("%3A", ":"), ("%2F", "/"), ("%3F", "?"), ("%40", "@"), ("%21", "!"), ("%24", "$"), ("%27", "'"), ("%28", "("), ("%29", ")"),
        ("%2A", "*"), ("%2C", ","), ("%3B", ";"),
    ];

    private readonly byte[]? _key = string.IsNullOrEmpty(clientSecret) ? null : Encoding.UTF8.GetBytes(clientSecret);
    private readonly TimeProvider _clock = clock ?? TimeProvider.System;

    /// <summary>True when a client secret is configured.</summary>
    public bool Configured => _key is not null;

    /// <summary>Checks a request's signature and timestamp headers.</summary>
    public SignatureCheck Verify(string method, string uri, ReadOnlySpan<byte> body, string? signatureHeader, string? timestampHeader)
    {
        if (_key is null || string.IsNullOrWhiteSpace(signatureHeader) || string.IsNullOrWhiteSpace(timestampHeader))
        {
            return SignatureCheck.MissingHeader;
        }

        if (!long.TryParse(timestampHeader, NumberStyles.None, CultureInfo.InvariantCulture, out var timestampMs))
        {
            return SignatureCheck.Malformed;
        }

        byte[] given;
        try
        {
            given = Convert.FromBase64String(signatureHeader.Trim());
        }
        catch (FormatException)
        {
            return SignatureCheck.Malformed;
        }

        if (given.Length != 32)
        {
            return SignatureCheck.Malformed;
        }

        var nowMs = _clock.GetUtcNow().ToUnixTimeMilliseconds();
        if (Math.Abs(nowMs - timestampMs) > (long)tolerance.TotalMilliseconds)
        {
            return SignatureCheck.Expired;
        }

        var expected = HMACSHA256.HashData(_key, Source(method, uri, body, timestampHeader));
        return CryptographicOperations.FixedTimeEquals(expected, given) ? SignatureCheck.Valid : SignatureCheck.Mismatch;
    }

    /// <summary>Builds the v3 signature (tests and tools).</summary>
    public static string Sign(string clientSecret, string method, string uri, ReadOnlySpan<byte> body, string timestamp)
        => Convert.ToBase64String(HMACSHA256.HashData(Encoding.UTF8.GetBytes(clientSecret), Source(method, uri, body, timestamp)));

    /// <summary>The URI as HubSpot signs it.</summary>
    public static string NormalizeUri(string uri)
    {
        foreach (var (encoded, decoded) in DecodedCharacters)
        {
            uri = uri.Replace(encoded, decoded, StringComparison.OrdinalIgnoreCase);
        }

        return uri;
    }

    private static byte[] Source(string method, string uri, ReadOnlySpan<byte> body, string timestamp)
    {
        var head = Encoding.UTF8.GetBytes(method.ToUpperInvariant() + NormalizeUri(uri));
        var tail = Encoding.UTF8.GetBytes(timestamp);
        var source = new byte[head.Length + body.Length + tail.Length];
        head.CopyTo(source, 0);
        body.CopyTo(source.AsSpan(head.Length));
        tail.CopyTo(source, head.Length + body.Length);
        return source;
    }
}
