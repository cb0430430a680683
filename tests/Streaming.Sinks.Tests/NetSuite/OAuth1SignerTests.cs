using Microsoft.Extensions.Configuration;
using Streaming.Sinks.NetSuite;

namespace Streaming.Sinks.Tests.NetSuite;

/// <summary>
/// OAuth 1.0a (HMAC-SHA256) signing against a vector computed independently (Python: urllib.parse.quote with safe="-._~",
/// hmac/hashlib sha256, base64), and the posting key ↔ NetSuite external id encoding. The fake server's own signature check is a
/// second, separate implementation exercised by <see cref="NetSuiteLedgerTests"/>.
/// </summary>
public sealed class OAuth1SignerTests
{
    private static readonly Uri Url = new("https://1234567-sb1.suitetalk.api.netsuite.com/services/rest/record/v1/journalEntry/eid:invoice_cin__1_cissued?replace=line");
    private static readonly OAuth1Credentials Credentials = new("1234567_SB1", "ck-3f1e", "cs secret/1", "tk-9a2b", "ts+secret=2");

    [Fact]
    public void Base_string_and_signature_match_the_independent_vector()
    {
        var oauth = OAuth1Signer.OAuthParameters(Credentials, "n0nce42abc", 1795600000);

        Assert.Equal(
            "PUT&https%3A%2F%2F1234567-sb1.suitetalk.api.netsuite.com%2Fservices%2Frest%2Frecord%2Fv1%2FjournalEntry%2Feid%3Ainvoice_cin__1_cissued"
            + "&oauth_consumer_key%3Dck-3f1e%26oauth_nonce%3Dn0nce42abc%26oauth_signature_method%3DHMAC-SHA256%26oauth_timestamp%3D1795600000"
            + "%26oauth_token%3Dtk-9a2b%26oauth_version%3D1.0%26replace%3Dline",
            OAuth1Signer.BaseString("put", Url, oauth));
        Assert.Equal("DfiBTXJdkzV+r5WrkZtVKVQXNS9t7b8K55v8m/ib7Po=", OAuth1Signer.Signature("PUT", Url, oauth, "cs secret/1", "ts+secret=2"));
    }

    [Fact]
    public void The_header_carries_the_realm_and_the_encoded_signature_but_no_secret()
    {
        var header = OAuth1Signer.AuthorizationHeader("PUT", Url, Credentials, "n0nce42abc", 1795600000);

        Assert.StartsWith("OAuth realm=\"1234567_SB1\", oauth_consumer_key=\"ck-3f1e\", oauth_nonce=\"n0nce42abc\", ", header, StringComparison.Ordinal);
        Assert.Contains("oauth_signature=\"DfiBTXJdkzV%2Br5WrkZtVKVQXNS9t7b8K55v8m%2Fib7Po%3D\"", header, StringComparison.Ordinal);
        foreach (var secret in new[] { "cs secret/1", "ts+secret=2", OAuth1Signer.Encode("cs secret/1"), OAuth1Signer.Encode("ts+secret=2") })
        {
            Assert.DoesNotContain(secret, header, StringComparison.Ordinal);
            Assert.DoesNotContain(secret, Credentials.ToString(), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void A_different_secret_or_method_changes_the_signature()
    {
        var oauth = OAuth1Signer.OAuthParameters(Credentials, "n0nce42abc", 1795600000);
        var good = OAuth1Signer.Signature("PUT", Url, oauth, "cs secret/1", "ts+secret=2");

        Assert.NotEqual(good, OAuth1Signer.Signature("PUT", Url, oauth, "cs secret/1", "ts+secret=3"));
        Assert.NotEqual(good, OAuth1Signer.Signature("GET", Url, oauth, "cs secret/1", "ts+secret=2"));
    }

    [Theory]
    [InlineData("invoice:in_1:issued", "invoice_cin__1_cissued")]
    [InlineData("usage:si_9:2026-11-01T00:00Z", "usage_csi__9_c2026-11-01T00_c00Z")]
    [InlineData("payment:pi/é:applied", "payment_cpi_x2F_xC3_xA9_capplied")]
    public void Posting_keys_map_to_valid_external_ids_and_back(string postingKey, string externalId)
    {
        Assert.Equal(externalId, NetSuiteExternalId.FromPostingKey(postingKey));
        Assert.True(NetSuiteExternalId.IsValid(externalId));
        Assert.Equal(postingKey, NetSuiteExternalId.ToPostingKey(externalId));
    }
}

/// <summary><see cref="NetSuiteOptions"/> bound from configuration: every missing secret is named, and none is ever printed.</summary>
public sealed class NetSuiteOptionsTests
{
    [Fact]
    public void Missing_settings_are_named_and_secrets_never_printed()
    {
        var config = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["NetSuite:BaseUrl"] = "https://1234567.suitetalk.api.netsuite.com", ["NetSuite:AccountId"] = "1234567",
            ["NetSuite:ConsumerKey"] = "ck", ["NetSuite:TokenId"] = "tk", ["NetSuite:TokenSecret"] = "super-secret-token", ["NetSuite:MaxConcurrency"] = "0",
        }).Build();

        var ex = Assert.Throws<Microsoft.Extensions.Options.OptionsValidationException>(
            () => Platform.Configuration.ConfigurationExtensions.BindValidated<NetSuiteOptions>(config, NetSuiteOptions.Section));

        Assert.Contains(ex.Failures, f => f.Contains("NetSuite:ConsumerSecret", StringComparison.Ordinal));
        Assert.Contains(ex.Failures, f => f.Contains("NetSuite:MaxConcurrency", StringComparison.Ordinal));
        Assert.DoesNotContain("super-secret-token", string.Join("\n", ex.Failures), StringComparison.Ordinal);
        Assert.DoesNotContain("super-secret-token", new NetSuiteOptions { TokenSecret = "super-secret-token" }.ToString(), StringComparison.Ordinal);
    }
}
