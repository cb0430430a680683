using System.Collections;
using Microsoft.Extensions.Configuration;
using Streaming.Producers.Connectors;

namespace Streaming.Producers.Tests;

/// <summary>Connector settings: environment-variable form, secret files, validation naming the key, secrets never in ToString or errors.</summary>
public sealed class ConnectorOptionsTests
{
    private static IConfiguration Environment(Dictionary<string, string> variables)
        => new ConfigurationBuilder().AddConnectorEnvironment(new Hashtable(variables)).Build();

    [Fact]
    public void The_environment_variable_form_binds_the_rotation_list_and_the_client_secret()
    {
        var options = ConnectorOptions.Bind(Environment(new()
        {
            ["Connectors__Stripe__WebhookSecrets__0"] = "whsec_new",
            ["Connectors__Stripe__WebhookSecrets__1"] = "whsec_old",
            ["Connectors__HubSpot__ClientSecret"] = "hs-secret",
            ["Connectors__MaxBodyBytes"] = "2048",
            ["UNRELATED__Stripe__WebhookSecrets__0"] = "ignored",
        }));
        Assert.Equal(["whsec_new", "whsec_old"], options.Stripe.WebhookSecrets);
        Assert.Equal("hs-secret", options.HubSpot.ClientSecret);
        Assert.Equal(2048, options.MaxBodyBytes);
        Assert.Equal(300, options.Stripe.ToleranceSeconds);
        Assert.DoesNotContain("whsec", options.Stripe.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("hs-secret", options.HubSpot.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void Secrets_can_come_from_files()
    {
        var dir = Directory.CreateTempSubdirectory("connector-secrets-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "stripe"), "whsec_a\nwhsec_b\n");
            File.WriteAllText(Path.Combine(dir.FullName, "hubspot"), "hs-from-file\n");
            var options = ConnectorOptions.Bind(new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
            {
                ["Connectors:Stripe:WebhookSecretsFile"] = Path.Combine(dir.FullName, "stripe"),
                ["Connectors:HubSpot:ClientSecretFile"] = Path.Combine(dir.FullName, "hubspot"),
            }).Build());
            Assert.Equal(["whsec_a", "whsec_b"], options.Stripe.WebhookSecrets);
            Assert.Equal("hs-from-file", options.HubSpot.ClientSecret);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }

    [Fact]
    public void Bad_settings_fail_naming_the_key()
    {
        var ex = Assert.Throws<InvalidOperationException>(() => ConnectorOptions.Bind(Environment(new()
        {
            ["Connectors__MaxBodyBytes"] = "10",
            ["Connectors__Stripe__PageSize"] = "500",
            ["Connectors__HubSpot__ClientSecretFile"] = "/nonexistent/secret-file",
        })));
        Assert.Contains("Connectors:MaxBodyBytes", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Connectors:Stripe:PageSize", ex.Message, StringComparison.Ordinal);
        Assert.Contains("Connectors:HubSpot:ClientSecretFile", ex.Message, StringComparison.Ordinal);
    }
}
