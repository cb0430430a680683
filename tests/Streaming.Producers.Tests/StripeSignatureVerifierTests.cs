using System.Text;
using Streaming.Producers.Webhooks;

namespace Streaming.Producers.Tests;

/// <summary>Stripe-Signature checks without HTTP: rotation, several v1, tolerance both ways, malformed headers. HTTP-level variants are in <see cref="WebhookEndpointTests"/>.</summary>
public sealed class StripeSignatureVerifierTests
{
    private sealed class FixedClock(DateTimeOffset now) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => now;
    }

    private static readonly DateTimeOffset Now = DateTimeOffset.FromUnixTimeSeconds(1_700_000_000);
    private static readonly byte[] Body = Encoding.UTF8.GetBytes("{\"id\":\"evt_1\",\"type\":\"invoice.paid\"}");

    private static StripeSignatureVerifier Verifier(params string[] secrets) => new(secrets, TimeSpan.FromSeconds(300), new FixedClock(Now));

    private static string V1(string secret, long t, byte[]? body = null) => StripeSignatureVerifier.Sign(secret, t, body ?? Body);

    [Fact]
    public void A_signature_by_the_current_secret_is_valid()
        => Assert.Equal(SignatureCheck.Valid, Verifier("whsec_a").Verify($"t={Now.ToUnixTimeSeconds()},v1={V1("whsec_a", Now.ToUnixTimeSeconds())}", Body));

    [Fact]
    public void During_rotation_either_secret_is_accepted_and_several_v1_in_one_header_are_tried()
    {
        var t = Now.ToUnixTimeSeconds();
        var verifier = Verifier("whsec_new", "whsec_old");
        Assert.Equal(SignatureCheck.Valid, verifier.Verify($"t={t},v1={V1("whsec_old", t)}", Body));
        Assert.Equal(SignatureCheck.Valid, verifier.Verify($"t={t},v1={V1("whsec_other", t)},v1={V1("whsec_new", t)},v0=abc", Body));
        Assert.Equal(SignatureCheck.Mismatch, Verifier("whsec_new").Verify($"t={t},v1={V1("whsec_old", t)}", Body));
    }

    [Theory]
    [InlineData(-301, SignatureCheck.Expired)]
    [InlineData(-300, SignatureCheck.Valid)]
    [InlineData(300, SignatureCheck.Valid)]
    [InlineData(301, SignatureCheck.Expired)]
    public void The_timestamp_must_be_within_the_tolerance(int offsetSeconds, SignatureCheck expected)
    {
        var t = Now.ToUnixTimeSeconds() + offsetSeconds;
        Assert.Equal(expected, Verifier("whsec_a").Verify($"t={t},v1={V1("whsec_a", t)}", Body));
    }

    [Theory]
    [InlineData(null, SignatureCheck.MissingHeader)]
    [InlineData("", SignatureCheck.MissingHeader)]
    [InlineData("v1=00", SignatureCheck.Malformed)]
    [InlineData("t=abc,v1=0000000000000000000000000000000000000000000000000000000000000000", SignatureCheck.Malformed)]
    [InlineData("t=1700000000", SignatureCheck.Malformed)]
    [InlineData("t=1700000000,v0=0000000000000000000000000000000000000000000000000000000000000000", SignatureCheck.Malformed)]
    [InlineData("t=1700000000,v1=zz00000000000000000000000000000000000000000000000000000000000000", SignatureCheck.Malformed)]
    [InlineData("t=1700000000,v1=0000000000000000000000000000000000000000000000000000000000000000", SignatureCheck.Mismatch)]
    public void Malformed_or_foreign_headers_are_rejected(string? header, SignatureCheck expected)
        => Assert.Equal(expected, Verifier("whsec_a").Verify(header, Body));

    [Fact]
    public void A_changed_body_no_longer_matches()
    {
        var t = Now.ToUnixTimeSeconds();
        var tampered = (byte[])Body.Clone();
        tampered[^3] ^= 0x01;
        Assert.Equal(SignatureCheck.Mismatch, Verifier("whsec_a").Verify($"t={t},v1={V1("whsec_a", t)}", tampered));
    }

    [Fact]
    public void HubSpot_v3_signs_method_uri_body_and_timestamp_within_five_minutes()
    {
        var clock = new FixedClock(Now);
        var verifier = new HubSpotSignatureVerifier("secret", TimeSpan.FromMinutes(5), clock);
        var ts = Now.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        const string uri = "https://hooks.example.com/webhooks/hubspot?x=a%3Ab";
        var signature = HubSpotSignatureVerifier.Sign("secret", "POST", uri, Body, ts);
        Assert.Equal(SignatureCheck.Valid, verifier.Verify("POST", uri, Body, signature, ts));
        // The signed URI has %3A decoded, as HubSpot signs it: the decoded form verifies the same.
        Assert.Equal(SignatureCheck.Valid, verifier.Verify("POST", "https://hooks.example.com/webhooks/hubspot?x=a:b", Body, signature, ts));
        Assert.Equal(SignatureCheck.Mismatch, verifier.Verify("PUT", uri, Body, signature, ts));
        Assert.Equal(SignatureCheck.Mismatch, verifier.Verify("POST", uri + "&y=1", Body, signature, ts));
        var old = (Now.ToUnixTimeMilliseconds() - 300_001).ToString(System.Globalization.CultureInfo.InvariantCulture);
        Assert.Equal(SignatureCheck.Expired, verifier.Verify("POST", uri, Body, HubSpotSignatureVerifier.Sign("secret", "POST", uri, Body, old), old));
        Assert.Equal(SignatureCheck.MissingHeader, verifier.Verify("POST", uri, Body, null, ts));
        Assert.Equal(SignatureCheck.Malformed, verifier.Verify("POST", uri, Body, "not base64!", ts));
    }
}
