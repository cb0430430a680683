using System.Collections;
using Microsoft.Extensions.Configuration;

namespace Streaming.Producers.Connectors;

/// <summary>Configuration sources for the connectors.</summary>
public static class ConnectorConfiguration
{
    /// <summary>
    /// Adds the unprefixed <c>Connectors__…</c> environment variables (<c>Connectors__Stripe__WebhookSecrets__0</c>,
    /// <c>Connectors__HubSpot__ClientSecret</c>) as <c>Connectors:…</c> keys, so the usual ASP.NET Core form works even where
    /// the rest of the configuration reads a prefixed set (<c>STREAMING_</c>).
    /// </summary>
    public static IConfigurationBuilder AddConnectorEnvironment(this IConfigurationBuilder builder, IDictionary? environment = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var values = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
        foreach (DictionaryEntry entry in environment ?? Environment.GetEnvironmentVariables())
        {
            if (entry.Key is string name && name.StartsWith(ConnectorOptions.Section + "__", StringComparison.OrdinalIgnoreCase))
            {
                values[name.Replace("__", ConfigurationPath.KeyDelimiter, StringComparison.Ordinal)] = entry.Value as string;
            }
        }

        return builder.AddInMemoryCollection(values);
    }
}
