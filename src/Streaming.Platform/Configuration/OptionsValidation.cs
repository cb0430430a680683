using Microsoft.Extensions.Options;

namespace Streaming.Platform.Configuration;

/// <summary>Validates <see cref="KafkaOptions"/>: every pass-through key must be one librdkafka accepts.</summary>
public sealed class KafkaOptionsValidator : IValidateOptions<KafkaOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, KafkaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        if (!options.UseEmbedded)
        {
            foreach (var server in options.BootstrapServers!.Split(',', StringSplitOptions.TrimEntries))
            {
                var colon = server.LastIndexOf(':');
                if (server.Length == 0 || colon <= 0 || !int.TryParse(server[(colon + 1)..], out var port) || port is < 1 or > 65535)
                {
                    errors.Add($"Kafka:BootstrapServers entry '{server}' is not host:port (from configuration or KAFKA_BOOTSTRAP_SERVERS).");
                }
            }
        }

        errors.AddRange(LibrdkafkaConfigValidator.Validate(options.Common, "Kafka:Common"));
        errors.AddRange(LibrdkafkaConfigValidator.Validate(options.Producer, "Kafka:Producer"));
        errors.AddRange(LibrdkafkaConfigValidator.Validate(options.Consumer, "Kafka:Consumer"));
        errors.AddRange(LibrdkafkaConfigValidator.Validate(options.Admin, "Kafka:Admin"));
        foreach (var (section, dict) in new[] { ("Common", options.Common), ("Producer", options.Producer), ("Consumer", options.Consumer), ("Admin", options.Admin) })
        {
            if (dict.ContainsKey("bootstrap.servers"))
            {
                errors.Add($"Kafka:{section}:bootstrap.servers is not allowed; set Kafka:BootstrapServers (or KAFKA_BOOTSTRAP_SERVERS) instead.");
            }
        }

        // Every producer of the pipeline is idempotent with acks=all (DESIGN.md §4): a configuration may tune
        // producers, but not trade away the guarantee that a retried send is neither lost nor duplicated.
        foreach (var (section, dict) in new[] { ("Common", options.Common), ("Producer", options.Producer) })
        {
            if (dict.TryGetValue("enable.idempotence", out var idempotence) && !string.Equals(idempotence, "true", StringComparison.OrdinalIgnoreCase))
            {
                errors.Add($"Kafka:{section}:enable.idempotence = '{idempotence}' is not allowed: the pipeline's producers must be idempotent.");
            }

            if (dict.TryGetValue("acks", out var acks) && !(acks is "all" or "-1"))
            {
                errors.Add($"Kafka:{section}:acks = '{acks}' is not allowed: the pipeline's producers need acks=all.");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>Validates <see cref="SchemaRegistryOptions"/>.</summary>
public sealed class SchemaRegistryOptionsValidator : IValidateOptions<SchemaRegistryOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, SchemaRegistryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.UseEmbedded)
        {
            return ValidateOptionsResult.Success;
        }

        var errors = new List<string>();
        foreach (var url in options.Url!.Split(',', StringSplitOptions.TrimEntries))
        {
            if (!Uri.TryCreate(url, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add($"SchemaRegistry:Url '{url}' is not an absolute http(s) URL (from configuration or SCHEMA_REGISTRY_URL).");
            }
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}
