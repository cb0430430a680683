using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Streaming.Platform.Configuration;
using Streaming.Platform.Embedded;
using Streaming.Platform.Topics;
using Streaming.SchemaRegistry;
using Streaming.SchemaRegistry.Storage;

namespace Streaming.Cli.Up;

/// <summary>
/// The running Kafka side of the product: a real cluster and registry when configured, otherwise the embedded
/// mock cluster and the embedded registry, with every manifest topic applied and every schema registered.
/// </summary>
public sealed class StackRuntime : IAsyncDisposable
{
    private StackRuntime(KafkaOptions kafka, EmbeddedKafkaCluster? cluster, EmbeddedSchemaRegistry? registry, string registryUrl, ISchemaRegistryClient client)
    {
        Kafka = kafka;
        Cluster = cluster;
        EmbeddedRegistry = registry;
        BootstrapServers = cluster?.BootstrapServers ?? kafka.BootstrapServers!;
        SchemaRegistryUrl = registryUrl;
        Registry = client;
    }

    /// <summary>Kafka options in force.</summary>
    public KafkaOptions Kafka { get; }

    /// <summary>The embedded cluster, when no bootstrap servers were configured.</summary>
    public EmbeddedKafkaCluster? Cluster { get; }

    /// <summary>The embedded registry, when no registry URL was configured.</summary>
    public EmbeddedSchemaRegistry? EmbeddedRegistry { get; }

    /// <summary>Bootstrap servers in use.</summary>
    public string BootstrapServers { get; }

    /// <summary>Registry URL in use.</summary>
    public string SchemaRegistryUrl { get; }

    /// <summary>Registry client shared by every serializer in the process.</summary>
    public ISchemaRegistryClient Registry { get; }

    /// <summary>Starts (or connects to) the stack, applies the topic manifest and registers <paramref name="schemasDir"/>.</summary>
    public static async Task<StackRuntime> StartAsync(KafkaOptions kafka, SchemaRegistryOptions registryOptions, EmbeddedStackOptions embedded,
        string schemasDir, TopicManifest manifest, ILoggerFactory loggerFactory, TextWriter output, CancellationToken ct)
    {
        var log = loggerFactory.CreateLogger<StackRuntime>();
        EmbeddedKafkaCluster? cluster = null;
        EmbeddedSchemaRegistry? registry = null;
        try
        {
            if (kafka.UseEmbedded)
            {
                cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions
                {
                    Brokers = embedded.Brokers,
                    WatermarkCheckInterval = TimeSpan.FromSeconds(embedded.WatermarkCheckSeconds),
                }, loggerFactory);
                output.WriteLine($"Kafka: embedded librdkafka mock cluster, {cluster.BrokerCount} brokers at {cluster.BootstrapServers} (not a production broker; see docs/embedded-stack.md)");
            }
            else
            {
                output.WriteLine($"Kafka: {kafka.BootstrapServers}");
            }

            string url;
            if (registryOptions.UseEmbedded)
            {
                registry = await StartEmbeddedRegistryAsync(cluster, loggerFactory, ct).ConfigureAwait(false);
                url = registry.Url;
                output.WriteLine($"Schema registry: embedded at {url}" + (cluster is null ? "" : " (state in the _schemas topic)"));
            }
            else
            {
                url = registryOptions.Url!;
                output.WriteLine($"Schema registry: {url}");
            }

            var clientConfig = new SchemaRegistryConfig { Url = url };
            foreach (var (k, v) in registryOptions.Client)
            {
                clientConfig.Set(k, v);
            }

            var client = new CachedSchemaRegistryClient(clientConfig);
            var runtime = new StackRuntime(kafka, cluster, registry, url, client);
            try
            {
                await runtime.PrepareAsync(schemasDir, manifest, output, log, ct).ConfigureAwait(false);
            }
            catch
            {
                client.Dispose();
                throw;
            }

            return runtime;
        }
        catch
        {
            if (registry is not null)
            {
                await registry.DisposeAsync().ConfigureAwait(false);
            }

            cluster?.Dispose();
            throw;
        }
    }

    /// <summary>The embedded registry; on the embedded cluster its state lives in the _schemas topic, as Confluent's does.</summary>
    private static async Task<EmbeddedSchemaRegistry> StartEmbeddedRegistryAsync(EmbeddedKafkaCluster? cluster, ILoggerFactory loggerFactory, CancellationToken ct)
    {
        var store = cluster is null
            ? null
            : await KafkaSchemaStore.StartAsync(KafkaSchemaStoreOptions.ForEmbedded(cluster, cluster.BrokerCount), loggerFactory.CreateLogger<KafkaSchemaStore>(), ct).ConfigureAwait(false);
        try
        {
            return await EmbeddedSchemaRegistry.StartAsync(new EmbeddedSchemaRegistryOptions { Store = store }, loggerFactory, ct).ConfigureAwait(false);
        }
        catch
        {
            if (store is not null)
            {
                await store.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>Applies the topic manifest (topics first: nothing may produce to a topic it did not shape), then registers the schemas.</summary>
    private async Task PrepareAsync(string schemasDir, TopicManifest manifest, TextWriter output, ILogger log, CancellationToken ct)
    {
        var report = await ApplyTopicsAsync(manifest, ct).ConfigureAwait(false);
        output.WriteLine($"Topics: {report.Topics.Count(t => t.Status == TopicApplyStatus.Created)} created, {report.Topics.Count(t => t.Status == TopicApplyStatus.Exists)} existing, {report.Topics.Count(t => t.Status == TopicApplyStatus.Drift)} drifted");
        if (report.HasDrift)
        {
            log.LogWarning("Topic drift (left as is):\n{Report}", report.Render());
        }

        var catalog = SchemaCatalog.Load(schemasDir);
        var registered = await SchemaCatalog.RegisterAllAsync(Registry, catalog, ct).ConfigureAwait(false);
        output.WriteLine($"Schemas: {registered.Count} subjects registered from {schemasDir}");
    }

    /// <summary>
    /// Creates what is missing of <paramref name="topics"/> (the manifest, or a topology's internal topics) through
    /// the admin API of a real cluster or the mock API of the embedded one; fails naming the topics that could not be created.
    /// </summary>
    public async Task<TopicApplyReport> ApplyTopicsAsync(TopicManifest topics, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(topics);
        using var adminHandle = Cluster is not null ? (IDisposable)new EmbeddedTopicAdmin(Cluster) : KafkaTopicAdmin.Connect(AdminConfig());
        var report = await TopicApplier.ApplyAsync(topics, (ITopicAdmin)adminHandle, dryRun: false, ct).ConfigureAwait(false);
        return report.HasErrors ? throw new InvalidOperationException("Creating topics failed:\n" + report.Render()) : report;
    }

    /// <summary>Producer settings: idempotent, acks=all, then the configured pass-through keys.</summary>
    public ProducerConfig ProducerConfig(string clientId)
    {
        var config = new ProducerConfig(Kafka.With(Kafka.Producer))
        {
            BootstrapServers = BootstrapServers,
            ClientId = clientId,
        };
        config.EnableIdempotence ??= true;
        config.Acks ??= Acks.All;
        config.LingerMs ??= 5;
        return config;
    }

    /// <summary>Consumer settings with the configured pass-through keys.</summary>
    public ConsumerConfig ConsumerConfig(string clientId) => new(Kafka.With(Kafka.Consumer))
    {
        BootstrapServers = BootstrapServers,
        ClientId = clientId,
    };

    /// <summary>Admin settings with the configured pass-through keys.</summary>
    public AdminClientConfig AdminConfig() => new(Kafka.With(Kafka.Admin)) { BootstrapServers = BootstrapServers };

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        Registry.Dispose();
        if (EmbeddedRegistry is not null)
        {
            await EmbeddedRegistry.DisposeAsync().ConfigureAwait(false);
        }

        if (Cluster is not null)
        {
            await Cluster.DisposeAsync().ConfigureAwait(false);
        }
    }
}
