using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Streaming.Platform.Configuration;

/// <summary>Registers the platform's typed, validated options.</summary>
public static class ConfigurationExtensions
{
    /// <summary>
    /// Maps the conventional environment variables (<c>KAFKA_BOOTSTRAP_SERVERS</c>, <c>SCHEMA_REGISTRY_URL</c>, <c>LEDGER_CONNECTION_STRING</c>) onto
    /// their configuration keys. Add after other sources so the environment wins, as operators expect.
    /// </summary>
    public static IConfigurationBuilder AddStreamingEnvironment(this IConfigurationBuilder builder, Func<string, string?>? getEnv = null)
    {
        ArgumentNullException.ThrowIfNull(builder);
        getEnv ??= Environment.GetEnvironmentVariable;
        var map = new Dictionary<string, string?>(StringComparer.Ordinal);
        if (getEnv("KAFKA_BOOTSTRAP_SERVERS") is { Length: > 0 } bootstrap)
        {
            map["Kafka:BootstrapServers"] = bootstrap;
        }

        if (getEnv("SCHEMA_REGISTRY_URL") is { Length: > 0 } registry)
        {
            map["SchemaRegistry:Url"] = registry;
        }

        if (getEnv("LEDGER_CONNECTION_STRING") is { Length: > 0 } ledger)
        {
            map["Ledger:ConnectionString"] = ledger;
        }

        return builder.AddInMemoryCollection(map);
    }

    /// <summary>Binds and validates Kafka, registry, embedded-stack and ledger options; a bad value fails start-up naming the key.</summary>
    public static IServiceCollection AddStreamingOptions(this IServiceCollection services)
    {
        services.AddOptions<KafkaOptions>().BindConfiguration(KafkaOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<KafkaOptions>, KafkaOptionsValidator>();
        services.AddOptions<SchemaRegistryOptions>().BindConfiguration(SchemaRegistryOptions.Section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<SchemaRegistryOptions>, SchemaRegistryOptionsValidator>();
        services.AddOptions<EmbeddedStackOptions>().BindConfiguration(EmbeddedStackOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<LedgerOptions>().BindConfiguration(LedgerOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        services.AddOptions<ProcessorsOptions>().BindConfiguration(ProcessorsOptions.Section).ValidateDataAnnotations().ValidateOnStart();
        return services;
    }

    /// <summary>
    /// Binds and validates options outside a host (CLI commands), throwing <see cref="OptionsValidationException"/> with every failure.
    /// </summary>
    public static T BindValidated<T>(this IConfiguration configuration, string section, IValidateOptions<T>? validator = null)
        where T : class, new()
    {
        ArgumentNullException.ThrowIfNull(configuration);
        var value = new T();
        try
        {
            configuration.GetSection(section).Bind(value, o => o.ErrorOnUnknownConfiguration = true);
        }
        catch (InvalidOperationException ex)
        {
            throw new OptionsValidationException(section, typeof(T), [$"{section}: {ex.Message}"]);
        }

        var failures = new List<string>();
        var context = new System.ComponentModel.DataAnnotations.ValidationContext(value);
        var results = new List<System.ComponentModel.DataAnnotations.ValidationResult>();
        if (!System.ComponentModel.DataAnnotations.Validator.TryValidateObject(value, context, results, validateAllProperties: true))
        {
            failures.AddRange(results.Select(r => $"{section}:{string.Join(",", r.MemberNames)}: {r.ErrorMessage}"));
        }

        if (validator?.Validate(null, value) is { Failed: true } result)
        {
            failures.AddRange(result.Failures);
        }

        return failures.Count == 0 ? value : throw new OptionsValidationException(section, typeof(T), failures);
    }
}
