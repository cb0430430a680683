using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging;
using Streaming.Producers.Connectors;
using Streaming.Producers.Crm;

namespace Streaming.Producers.Tests;

/// <summary>
/// The Salesforce OAuth 2.0 refresh-token flow of <see cref="CrmApiReader"/> (<see cref="SalesforceTokenSource"/>) against the
/// token endpoint of <see cref="FakeSalesforceServer"/>: refresh on 401 with one retry, before the first call when no access token
/// is configured, and once the token's lifetime has passed; concurrent refusals share one refresh; a refused refresh leaves the
/// work pending; no token or secret ever reaches a log line.
/// </summary>
public sealed class SalesforceOAuthTests
{
    private const string StaleToken = "00DRM000000abcd!AQ0AQ.stale.token.value";

    private sealed class ManualClock(DateTimeOffset now) : TimeProvider
    {
        public DateTimeOffset Now { get; set; } = now;

        public override DateTimeOffset GetUtcNow() => Now;
    }

    /// <summary>Every log line, formatted and with its structured values, of every category.</summary>
    private sealed class LogLines : ILogger
    {
        private readonly List<string> _lines = [];

        public List<string> Lines { get { lock (_lines) { return [.. _lines]; } } }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var values = state is IEnumerable<KeyValuePair<string, object?>> pairs ? string.Join(" ", pairs.Select(p => $"{p.Key}={p.Value}")) : "";
            lock (_lines)
            {
                _lines.Add($"{logLevel}: {formatter(state, exception)} [{values}] {exception}");
            }
        }
    }

    private static ConnectorOptions Options(FakeSalesforceServer fake, string? accessToken = StaleToken, int lifetime = 7200)
    {
        var options = new ConnectorOptions();
        options.Salesforce.InstanceUrl = fake.BaseUrl;
        options.Salesforce.LoginUrl = fake.BaseUrl;
        options.Salesforce.AccessToken = accessToken;
        options.Salesforce.ClientId = fake.App.ClientId;
        options.Salesforce.ClientSecret = fake.App.ClientSecret;
        options.Salesforce.RefreshToken = fake.App.RefreshToken;
        options.Salesforce.TokenLifetimeSeconds = lifetime;
        return options;
    }

    private static async Task<FakeSalesforceServer> StartAsync(CancellationToken ct)
    {
        var fake = await FakeSalesforceServer.StartAsync(ct); // no session id is valid until one is issued
        fake.Add("Account", """{"Id":"001RM000004UF9aYAG","Name":"Acme","BillingCountryCode":"US"}""");
        return fake;
    }

    [Fact]
    public async Task A_refused_token_is_refreshed_once_and_the_call_retried_and_concurrent_refusals_share_one_refresh()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await StartAsync(ct);
        using var http = new HttpClient();
        var reader = new CrmApiReader(http, Options(fake), new LogLines());

        var page = await reader.QueryEntityAsync("Account", null, ct);
        Assert.Equal("Acme", Assert.Single(page!.Records).GetProperty("Name").GetString());
        Assert.Equal((1, 1, 1), (fake.Unauthorized, fake.TokenRequests, fake.TokensIssued));

        Assert.NotNull(await reader.QueryEntityAsync("Account", null, ct));
        Assert.Equal((1, 1), (fake.Unauthorized, fake.TokenRequests)); // the refreshed token is kept

        // The session is revoked; four calls are refused at once and renew it together.
        fake.ValidTokens.Clear();
        var pages = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => reader.QueryEntityAsync("Account", null, ct)));
        Assert.All(pages, Assert.NotNull);
        Assert.Equal((5, 2, 2), (fake.Unauthorized, fake.TokenRequests, fake.TokensIssued));
    }

    [Fact]
    public async Task Without_an_access_token_one_is_obtained_first_and_renewed_when_its_lifetime_has_passed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await StartAsync(ct);
        using var http = new HttpClient();
        var clock = new ManualClock(DateTimeOffset.UtcNow);
        var options = Options(fake, accessToken: null, lifetime: 600);
        Assert.True(CrmApiReader.Configured(options));
        var reader = new CrmApiReader(http, options, new LogLines(), clock);

        Assert.NotNull(await reader.QueryEntityAsync("Account", null, ct));
        Assert.Equal((0, 1), (fake.Unauthorized, fake.TokenRequests));

        clock.Now += TimeSpan.FromSeconds(500);
        Assert.NotNull(await reader.QueryEntityAsync("Account", null, ct));
        Assert.Equal(1, fake.TokenRequests);

        clock.Now += TimeSpan.FromSeconds(100); // 600 s old: past the lifetime less a minute's margin
        Assert.NotNull(await reader.QueryEntityAsync("Account", null, ct));
        Assert.Equal((0, 2), (fake.Unauthorized, fake.TokenRequests));
    }

    [Fact]
    public async Task A_refused_refresh_leaves_the_work_pending_and_no_token_or_secret_is_logged()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await StartAsync(ct);
        using var http = new HttpClient();
        var log = new LogLines();
        var options = Options(fake);
        var reader = new CrmApiReader(http, options, log);
        Assert.NotNull(await reader.QueryEntityAsync("Account", null, ct));

        // The refresh token is revoked, and so is the session.
        fake.App = (fake.App.ClientId, fake.App.ClientSecret, "another-refresh-token");
        fake.ValidTokens.Clear();
        Assert.Null(await reader.QueryEntityAsync("Account", null, ct)); // null: the re-sync stays pending
        Assert.Null(await reader.QueryEntityAsync("Account", null, ct));
        Assert.Equal(3, fake.TokenRequests); // retried on each call, not in a loop

        var lines = log.Lines;
        Assert.Contains(lines, l => l.StartsWith("Error:", StringComparison.Ordinal) && l.Contains("invalid_grant", StringComparison.Ordinal));
        foreach (var secret in new[] { StaleToken, options.Salesforce.ClientSecret!, options.Salesforce.RefreshToken!, "refreshed.1", "AQ0AQ" })
        {
            Assert.DoesNotContain(lines, l => l.Contains(secret, StringComparison.Ordinal));
        }
    }

    [Fact]
    public void Refresh_credentials_bind_from_configuration_and_files_and_a_refresh_token_needs_a_client_id()
    {
        var file = Path.GetTempFileName();
        try
        {
            File.WriteAllText(file, "5Aep861-from-a-file\n");
            var bound = ConnectorOptions.Bind(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Connectors:Salesforce:InstanceUrl"] = "https://acme.my.salesforce.com",
                ["Connectors:Salesforce:LoginUrl"] = "https://test.salesforce.com",
                ["Connectors:Salesforce:ClientId"] = "3MVG9-key",
                ["Connectors:Salesforce:ClientSecretFile"] = file,
                ["Connectors:Salesforce:RefreshTokenFile"] = file,
            }).Build());
            Assert.Equal(("https://test.salesforce.com", "5Aep861-from-a-file", "5Aep861-from-a-file", 7200), (bound.Salesforce.LoginUrl, bound.Salesforce.RefreshToken, bound.Salesforce.ClientSecret, bound.Salesforce.TokenLifetimeSeconds));
            Assert.True(CrmApiReader.Configured(bound));
            Assert.DoesNotContain("5Aep861", bound.Salesforce.ToString(), StringComparison.Ordinal);

            var ex = Assert.Throws<InvalidOperationException>(() => ConnectorOptions.Bind(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Connectors:Salesforce:RefreshToken"] = "5Aep861-secret-value",
            }).Build()));
            Assert.Contains("Connectors:Salesforce:ClientId", ex.Message, StringComparison.Ordinal);
            Assert.DoesNotContain("5Aep861-secret-value", ex.Message, StringComparison.Ordinal);
        }
        finally
        {
            File.Delete(file);
        }
    }
}
