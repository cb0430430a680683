using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Confluent.SchemaRegistry;
using Streaming.Platform.Embedded;
using Streaming.Platform.Topics;
using Streaming.SchemaRegistry;
using Testcontainers.Kafka;

[assembly: AssemblyFixture(typeof(Streaming.IntegrationTests.KafkaStackFixture))]

namespace Streaming.IntegrationTests;

/// <summary>Which broker the integration tests run against.</summary>
public enum KafkaStackKind
{
    /// <summary>An existing cluster named by <c>KAFKA_BOOTSTRAP_SERVERS</c>.</summary>
    Real,

    /// <summary>A single Kafka container started through Testcontainers.</summary>
    Testcontainers,

    /// <summary>The in-process librdkafka mock cluster (3 brokers).</summary>
    Embedded,
}

/// <summary>The broker choice and the sentence that explains it.</summary>
public sealed record KafkaStackChoice(KafkaStackKind Kind, string Reason);

/// <summary>
/// The Kafka + schema registry stack every integration test shares (one per test assembly). Chooses, in order: the cluster in
/// <c>KAFKA_BOOTSTRAP_SERVERS</c> (registry from <c>SCHEMA_REGISTRY_URL</c> or embedded), Testcontainers when a Docker engine
/// answers <c>/_ping</c>, else the embedded stack — and says which, with why, on stderr and as an xunit diagnostic message.
/// At start it applies the full topic manifest and registers every schema in <c>schemas/</c>.
/// </summary>
public sealed class KafkaStackFixture : IAsyncLifetime
{
    /// <summary>Image used when Testcontainers is chosen; pinned so runs are repeatable.</summary>
    public const string KafkaImage = "confluentinc/cp-kafka:7.9.0";

    /// <summary>How long the Docker probe waits for <c>/_ping</c>.</summary>
    public static readonly TimeSpan DockerProbeTimeout = TimeSpan.FromSeconds(2);

    private KafkaContainer? _container;
    private EmbeddedSchemaRegistry? _embeddedRegistry;
    private CachedSchemaRegistryClient? _registry;
    private IAdminClient? _admin;
    private int _brokerCount;
    private readonly System.Collections.Concurrent.ConcurrentBag<string> _createdTopics = [];

    /// <summary>Which broker was chosen.</summary>
    public KafkaStackKind Kind { get; private set; }

    /// <summary>Why it was chosen (names the inputs: the environment variable, the Docker probe result).</summary>
    public string Reason { get; private set; } = "";

    /// <summary>Bootstrap servers of the chosen cluster.</summary>
    public string BootstrapServers { get; private set; } = "";

    /// <summary>Base URL of the schema registry in use.</summary>
    public string SchemaRegistryUrl { get; private set; } = "";

    /// <summary>Whether the registry is the in-process one (true unless <c>SCHEMA_REGISTRY_URL</c> was used).</summary>
    public bool IsRegistryEmbedded => _embeddedRegistry is not null;

    /// <summary>A registry client shared by the tests.</summary>
    public ISchemaRegistryClient Registry => _registry ?? throw NotStarted();

    /// <summary>True when the broker is the in-process mock cluster (fault injection available).</summary>
    public bool IsEmbedded => Kind == KafkaStackKind.Embedded;

    /// <summary>The mock cluster when <see cref="IsEmbedded"/>, else null.</summary>
    public EmbeddedKafkaCluster? Embedded { get; private set; }

    /// <summary>Repository root (the folder holding Streaming.sln).</summary>
    public string RepoRoot { get; } = FindRepoRoot();

    /// <summary>The manifest as applied: the project manifest, with replication capped at the cluster's broker count.</summary>
    public TopicManifest Manifest { get; private set; } = TopicManifest.Create([]);

    /// <summary>What the start-up apply of <see cref="Manifest"/> reported.</summary>
    public TopicApplyReport? InitialApply { get; private set; }

    /// <summary>The schema catalog loaded from <c>schemas/</c>.</summary>
    public SchemaCatalog? Catalog { get; private set; }

    /// <summary>What the registry held for each catalog subject after registration.</summary>
    public IReadOnlyList<RegisteredSchema> RegisteredSchemas { get; private set; } = [];

    /// <summary>Decides the broker from the environment; the Docker probe only runs when no bootstrap servers are given.</summary>
    public static KafkaStackChoice Choose(string? kafkaBootstrapServers, Func<DockerProbeResult> probeDocker)
    {
        ArgumentNullException.ThrowIfNull(probeDocker);
        if (!string.IsNullOrWhiteSpace(kafkaBootstrapServers))
        {
            return new KafkaStackChoice(KafkaStackKind.Real, $"real cluster {kafkaBootstrapServers} (KAFKA_BOOTSTRAP_SERVERS is set)");
        }

        var docker = probeDocker();
        return docker.Reachable
            ? new KafkaStackChoice(KafkaStackKind.Testcontainers, $"Testcontainers {KafkaImage} (no KAFKA_BOOTSTRAP_SERVERS, {docker})")
            : new KafkaStackChoice(KafkaStackKind.Embedded, $"embedded librdkafka mock cluster, 3 brokers (no KAFKA_BOOTSTRAP_SERVERS, {docker})");
    }

    /// <summary>Runs <see cref="Choose"/> against this process's environment.</summary>
    public static KafkaStackChoice ChooseFromEnvironment() =>
        Choose(Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS"),
            () => DockerEngineProbe.Probe(Environment.GetEnvironmentVariable("DOCKER_HOST"), DockerProbeTimeout));

    /// <summary>A name unique to this run, for per-test topics and consumer groups (legal as a Kafka topic name).</summary>
    public static string UniqueName(string prefix) => $"{prefix}.{Guid.NewGuid():N}"[..Math.Min(prefix.Length + 13, 249)];

    /// <inheritdoc />
    public async ValueTask InitializeAsync()
    {
        var ct = TestContext.Current.CancellationToken;
        var choice = ChooseFromEnvironment();
        Kind = choice.Kind;
        switch (Kind)
        {
            case KafkaStackKind.Real:
                BootstrapServers = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS")!;
                break;
            case KafkaStackKind.Testcontainers:
                _container = new KafkaBuilder(KafkaImage).Build();
                await _container.StartAsync(ct);
                BootstrapServers = _container.GetBootstrapAddress();
                break;
            default:
                Embedded = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 3 });
                Embedded.DataDropped += (tp, from, to) =>
                    Console.Error.WriteLine($"[KafkaStackFixture] WARNING embedded broker dropped data on {tp}: low watermark {from} -> {to}");
                BootstrapServers = Embedded.BootstrapServers;
                break;
        }

        var registryUrl = Kind == KafkaStackKind.Real ? Environment.GetEnvironmentVariable("SCHEMA_REGISTRY_URL") : null;
        if (Kind == KafkaStackKind.Real && string.IsNullOrWhiteSpace(registryUrl))
        {
            // Same rule as `streaming up`: an in-memory registry in front of a lasting cluster would hand out ids
            // that collide with those already in the cluster's records.
            throw new InvalidOperationException("KAFKA_BOOTSTRAP_SERVERS is set but SCHEMA_REGISTRY_URL is not: set both to run the integration tests against a real cluster.");
        }

        string registryReason;
        if (string.IsNullOrWhiteSpace(registryUrl))
        {
            _embeddedRegistry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
            SchemaRegistryUrl = _embeddedRegistry.Url;
            registryReason = "embedded schema registry";
        }
        else
        {
            SchemaRegistryUrl = registryUrl;
            registryReason = "schema registry from SCHEMA_REGISTRY_URL";
        }

        Reason = $"{choice.Reason}; {registryReason} {SchemaRegistryUrl}";
        Say($"Integration tests use: {Reason}");

        _registry = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = SchemaRegistryUrl });
        _admin = new AdminClientBuilder(new AdminClientConfig { BootstrapServers = BootstrapServers }).Build();
        _brokerCount = Math.Max(1, _admin.GetMetadata(TimeSpan.FromSeconds(30)).Brokers.Count);

        Manifest = CapReplication(TopicManifest.LoadEmbedded(), _brokerCount);
        InitialApply = await ApplyManifestAsync(ct);
        if (InitialApply.HasErrors)
        {
            throw new InvalidOperationException($"Applying the topic manifest to {BootstrapServers} failed:{Environment.NewLine}{InitialApply.Render()}");
        }

        Catalog = SchemaCatalog.Load(Path.Combine(RepoRoot, "schemas"));
        RegisteredSchemas = await SchemaCatalog.RegisterAllAsync(Registry, Catalog, ct);
        Say($"Applied {Manifest.Topics.Count} manifest topics ({InitialApply.CreatedTopics.Count} created) and registered {RegisteredSchemas.Count} schemas.");
    }

    /// <summary>Applies <see cref="Manifest"/> through the admin that fits the broker (mock API or Kafka AdminClient).</summary>
    public async Task<TopicApplyReport> ApplyManifestAsync(CancellationToken cancellationToken)
    {
        if (Embedded is not null)
        {
            using var embeddedAdmin = new EmbeddedTopicAdmin(Embedded);
            return await TopicApplier.ApplyAsync(Manifest, embeddedAdmin, dryRun: false, cancellationToken);
        }

        using var admin = KafkaTopicAdmin.Connect(BootstrapServers);
        return await TopicApplier.ApplyAsync(Manifest, admin, dryRun: false, cancellationToken);
    }

    /// <summary>Creates a topic (replication min(3, brokers)) on any of the three brokers; an existing topic is left as is.</summary>
    public async Task CreateTopicAsync(string name, int partitions, CancellationToken cancellationToken = default)
    {
        var replication = (short)Math.Min(3, _brokerCount);
        if (Embedded is not null)
        {
            Embedded.CreateTopic(name, partitions, replication);
            return;
        }

        var admin = _admin ?? throw NotStarted();
        _createdTopics.Add(name);
        try
        {
            await admin.CreateTopicsAsync([new TopicSpecification { Name = name, NumPartitions = partitions, ReplicationFactor = replication }])
                .WaitAsync(cancellationToken);
        }
        catch (CreateTopicsException ex) when (ex.Results.All(r => r.Error.Code is ErrorCode.NoError or ErrorCode.TopicAlreadyExists))
        {
        }

        // CreateTopics returns before every broker knows the leaders; wait for metadata to show them.
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (true)
        {
            var topic = admin.GetMetadata(name, TimeSpan.FromSeconds(5)).Topics.SingleOrDefault();
            if (topic is { Error.IsError: false } && topic.Partitions.Count == partitions && topic.Partitions.All(p => p.Leader >= 0))
            {
                return;
            }

            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"Topic {name} did not show {partitions} partitions with leaders within 30 s.");
            }

            await Task.Delay(100, cancellationToken);
        }
    }

    /// <summary>Partition counts per topic as the cluster's metadata reports them.</summary>
    public IReadOnlyDictionary<string, int> TopicPartitionCounts() =>
        (_admin ?? throw NotStarted()).GetMetadata(TimeSpan.FromSeconds(10)).Topics
            .Where(t => t.Error is null || !t.Error.IsError)
            .ToDictionary(t => t.Topic, t => t.Partitions.Count, StringComparer.Ordinal);

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        if (Kind == KafkaStackKind.Real && _admin is not null && !_createdTopics.IsEmpty)
        {
            // Per-test topics would pile up on a shared cluster; the manifest topics stay.
            try
            {
                await _admin.DeleteTopicsAsync(_createdTopics.Distinct(StringComparer.Ordinal).ToList());
            }
            catch (DeleteTopicsException ex)
            {
                Console.Error.WriteLine($"[KafkaStackFixture] could not delete every test topic: {ex.Message}");
            }
        }

        _admin?.Dispose();
        _registry?.Dispose();
        if (_embeddedRegistry is not null)
        {
            await _embeddedRegistry.DisposeAsync();
        }

        if (Embedded is not null)
        {
            await Embedded.DisposeAsync();
        }

        if (_container is not null)
        {
            await _container.DisposeAsync();
        }
    }

    private static TopicManifest CapReplication(TopicManifest manifest, int brokers) =>
        TopicManifest.Create(manifest.Topics.Select(t => t with
        {
            ReplicationFactor = Math.Min(t.ReplicationFactor, brokers),
            MinInsyncReplicas = Math.Min(t.MinInsyncReplicas, brokers),
        }));

    private static void Say(string line)
    {
        Console.Error.WriteLine($"[KafkaStackFixture] {line}");
        TestContext.Current.SendDiagnosticMessage("[KafkaStackFixture] {0}", line);

        // dotnet test does not pass a fixture's output through, so test.sh reads the choice from this file and prints it.
        if (Environment.GetEnvironmentVariable("STREAMING_TEST_RESULTS") is { Length: > 0 } dir && Directory.Exists(dir))
        {
            File.AppendAllText(Path.Combine(dir, "integration-stack.txt"), line + Environment.NewLine);
        }
    }

    private static InvalidOperationException NotStarted() => new("KafkaStackFixture has not been initialized.");

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Streaming.sln above {AppContext.BaseDirectory}.");
    }
}
