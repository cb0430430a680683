using System.Globalization;
using System.Text.RegularExpressions;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Streaming.Platform.Tests;

/// <summary>
/// Static checks of <c>docker-compose.kafka.yml</c> (three KRaft brokers, schema registry, PostgreSQL): pinned
/// images, health checks, one consistent bootstrap set, a three-voter controller quorum and replication settings
/// that fit three brokers. Covers the file only; the stack is never started here (no Docker engine in CI).
/// </summary>
public sealed partial class DockerComposeFileTests
{
    private const string ComposeFileName = "docker-compose.kafka.yml";
    private const int ExpectedBrokers = 3;

    private static readonly Lazy<ComposeFile> Compose = new(ComposeFile.Load);

    [Fact]
    public void Compose_file_parses_and_declares_brokers_registry_and_postgres()
    {
        var compose = Compose.Value;

        Assert.True(compose.Services.Count > 0, $"{ComposeFileName}: no services found under 'services'.");
        Assert.True(compose.Brokers.Count == ExpectedBrokers,
            $"{ComposeFileName}: expected {ExpectedBrokers} Kafka broker services (KAFKA_PROCESS_ROLES contains 'broker'), found {compose.Brokers.Count}: {string.Join(", ", compose.Brokers.Select(b => b.Name))}.");
        Assert.Contains(compose.Services, s => s.Image.StartsWith("confluentinc/cp-schema-registry:", StringComparison.Ordinal));
        Assert.Contains(compose.Services, s => s.Image.StartsWith("postgres:", StringComparison.Ordinal));
    }

    [Fact]
    public void Every_image_is_pinned_to_a_version_tag()
    {
        foreach (var service in Compose.Value.Services)
        {
            Assert.False(string.IsNullOrWhiteSpace(service.Image), $"service '{service.Name}': key 'image' is missing.");
            if (service.Image.Contains("@sha256:", StringComparison.Ordinal))
            {
                continue; // digest-pinned
            }

            var lastSegment = service.Image[(service.Image.LastIndexOf('/') + 1)..];
            var colon = lastSegment.IndexOf(':', StringComparison.Ordinal);
            var tag = colon < 0 ? "" : lastSegment[(colon + 1)..];
            Assert.False(tag.Length == 0, $"service '{service.Name}': key 'image' ('{service.Image}') has no tag; pin a version.");
            Assert.False(string.Equals(tag, "latest", StringComparison.OrdinalIgnoreCase),
                $"service '{service.Name}': key 'image' ('{service.Image}') uses 'latest'; pin a version.");
            Assert.True(char.IsAsciiDigit(tag[0]), $"service '{service.Name}': key 'image' tag '{tag}' does not start with a version number.");
        }
    }

    [Fact]
    public void Every_service_has_a_healthcheck_and_waits_for_healthy_dependencies()
    {
        foreach (var service in Compose.Value.Services)
        {
            var healthcheck = service.Node.Child("healthcheck") as YamlMappingNode;
            Assert.True(healthcheck is not null, $"service '{service.Name}': key 'healthcheck' is missing.");
            var test = healthcheck.Child("test");
            var hasTest = test is YamlSequenceNode { Children.Count: > 1 } seq
                ? !string.Equals(((YamlScalarNode)seq.Children[0]).Value, "NONE", StringComparison.Ordinal)
                : test is YamlScalarNode { Value.Length: > 0 };
            Assert.True(hasTest, $"service '{service.Name}': key 'healthcheck.test' is missing or disabled.");
            Assert.False(healthcheck.Child("disable") is YamlScalarNode { Value: "true" }, $"service '{service.Name}': key 'healthcheck.disable' is true.");

            switch (service.Node.Child("depends_on"))
            {
                case null:
                    break;
                case YamlMappingNode dependsOn:
                    foreach (var (dependency, settings) in dependsOn.Children)
                    {
                        var condition = (settings as YamlMappingNode)?.Child("condition") as YamlScalarNode;
                        Assert.True(condition?.Value == "service_healthy",
                            $"service '{service.Name}': key 'depends_on.{dependency}.condition' must be 'service_healthy' (is '{condition?.Value}').");
                    }

                    break;
                default:
                    Assert.Fail($"service '{service.Name}': key 'depends_on' must be a mapping with 'condition: service_healthy', not a bare list.");
                    break;
            }
        }
    }

    [Fact]
    public void Every_kafka_client_service_names_all_brokers_by_their_internal_advertised_listener()
    {
        var compose = Compose.Value;
        var internalAddresses = compose.Brokers.ToDictionary(b => b.InternalAdvertisedAddress, b => b.Name, StringComparer.OrdinalIgnoreCase);
        var clients = compose.Services.Where(s => !s.IsBroker)
            .SelectMany(s => s.Environment.Where(e => e.Key.EndsWith("BOOTSTRAP_SERVERS", StringComparison.Ordinal)).Select(e => (Service: s, e.Key, e.Value)))
            .ToList();

        Assert.True(clients.Count > 0, $"{ComposeFileName}: no non-broker service has a *BOOTSTRAP_SERVERS env key (expected at least schema-registry).");
        foreach (var (service, key, value) in clients)
        {
            var addresses = SplitAddresses(value);
            foreach (var address in addresses)
            {
                Assert.True(internalAddresses.ContainsKey(address),
                    $"service '{service.Name}': key 'environment.{key}' names '{address}', which is no broker's internal advertised listener ({string.Join(", ", internalAddresses.Keys)}).");
            }

            Assert.True(internalAddresses.Keys.All(a => addresses.Contains(a, StringComparer.OrdinalIgnoreCase)),
                $"service '{service.Name}': key 'environment.{key}' ('{value}') does not list every broker ({string.Join(", ", internalAddresses.Keys)}).");

            var dependsOn = service.Node.Child("depends_on") as YamlMappingNode;
            foreach (var broker in compose.Brokers)
            {
                Assert.True(dependsOn?.Child(broker.Name) is not null,
                    $"service '{service.Name}': key 'depends_on' does not include broker '{broker.Name}'.");
            }
        }
    }

    [Fact]
    public void External_listeners_are_published_and_match_the_documented_bootstrap_servers()
    {
        var compose = Compose.Value;
        var documented = DocumentedBootstrap().Match(compose.Text);
        Assert.True(documented.Success, $"{ComposeFileName}: header comment has no 'KAFKA_BOOTSTRAP_SERVERS=...' line.");
        var documentedAddresses = SplitAddresses(documented.Groups[1].Value);

        foreach (var broker in compose.Brokers)
        {
            var external = broker.AdvertisedListeners.Where(l => l.Name != broker.InternalListenerName).Select(l => l.Address).ToList();
            Assert.True(external.Count == 1, $"service '{broker.Name}': key 'environment.KAFKA_ADVERTISED_LISTENERS' should have exactly one listener besides '{broker.InternalListenerName}'.");
            Assert.True(documentedAddresses.Contains(external[0], StringComparer.OrdinalIgnoreCase),
                $"service '{broker.Name}': external advertised listener '{external[0]}' is not in the documented KAFKA_BOOTSTRAP_SERVERS ({documented.Groups[1].Value}).");
            var port = external[0][(external[0].LastIndexOf(':') + 1)..];
            Assert.True(broker.PublishedPorts.Contains(port),
                $"service '{broker.Name}': key 'ports' does not publish external listener port {port}.");
        }

        Assert.Equal(compose.Brokers.Count, documentedAddresses.Count);
    }

    [Fact]
    public void Controller_quorum_lists_all_three_brokers_with_distinct_node_ids()
    {
        var brokers = Compose.Value.Brokers;
        var nodeIds = brokers.Select(b => b.NodeId).ToList();
        Assert.True(nodeIds.Distinct().Count() == brokers.Count,
            $"key 'environment.KAFKA_NODE_ID' is not distinct across brokers: {string.Join(", ", brokers.Select(b => $"{b.Name}={b.NodeId}"))}.");

        foreach (var broker in brokers)
        {
            Assert.True(broker.Roles.Contains("controller"), $"service '{broker.Name}': key 'environment.KAFKA_PROCESS_ROLES' ('{string.Join(",", broker.Roles)}') is not broker+controller.");
            var voters = broker.Env("KAFKA_CONTROLLER_QUORUM_VOTERS").Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(v => VoterPattern().Match(v))
                .ToList();
            Assert.True(voters.All(v => v.Success), $"service '{broker.Name}': key 'environment.KAFKA_CONTROLLER_QUORUM_VOTERS' has an entry not shaped id@host:port.");
            Assert.True(voters.Count == ExpectedBrokers, $"service '{broker.Name}': key 'environment.KAFKA_CONTROLLER_QUORUM_VOTERS' lists {voters.Count} voters, expected {ExpectedBrokers}.");

            foreach (var voter in voters)
            {
                var id = int.Parse(voter.Groups["id"].Value, CultureInfo.InvariantCulture);
                var target = brokers.SingleOrDefault(b => b.NodeId == id);
                Assert.True(target is not null, $"service '{broker.Name}': key 'environment.KAFKA_CONTROLLER_QUORUM_VOTERS' names node id {id}, which no broker has.");
                Assert.True(string.Equals(voter.Groups["host"].Value, target.HostName, StringComparison.OrdinalIgnoreCase),
                    $"service '{broker.Name}': key 'environment.KAFKA_CONTROLLER_QUORUM_VOTERS' maps node {id} to host '{voter.Groups["host"].Value}', but that node is service '{target.Name}' (host '{target.HostName}').");
                Assert.True(voter.Groups["port"].Value == target.ControllerPort,
                    $"service '{broker.Name}': key 'environment.KAFKA_CONTROLLER_QUORUM_VOTERS' uses port {voter.Groups["port"].Value} for node {id}, but '{target.Name}' listens for CONTROLLER on {target.ControllerPort}.");
            }

            Assert.True(broker.Env("CLUSTER_ID") == brokers[0].Env("CLUSTER_ID"),
                $"service '{broker.Name}': key 'environment.CLUSTER_ID' differs from '{brokers[0].Name}'.");
        }
    }

    [Fact]
    public void Replication_settings_fit_three_brokers()
    {
        var compose = Compose.Value;
        Assert.Equal(ExpectedBrokers, compose.Brokers.Count);
        var expected = new Dictionary<string, string>
        {
            ["KAFKA_DEFAULT_REPLICATION_FACTOR"] = "3",
            ["KAFKA_MIN_INSYNC_REPLICAS"] = "2",
            ["KAFKA_OFFSETS_TOPIC_REPLICATION_FACTOR"] = "3",
            ["KAFKA_TRANSACTION_STATE_LOG_REPLICATION_FACTOR"] = "3",
            ["KAFKA_TRANSACTION_STATE_LOG_MIN_ISR"] = "2",
            ["KAFKA_AUTO_CREATE_TOPICS_ENABLE"] = "false",
        };

        foreach (var broker in compose.Brokers)
        {
            foreach (var (key, value) in expected)
            {
                Assert.True(broker.Environment.TryGetValue(key, out var actual) && string.Equals(actual, value, StringComparison.OrdinalIgnoreCase),
                    $"service '{broker.Name}': key 'environment.{key}' is '{actual}', expected '{value}'.");
            }
        }

        foreach (var service in compose.Services.Where(s => s.Environment.ContainsKey("SCHEMA_REGISTRY_KAFKASTORE_BOOTSTRAP_SERVERS")))
        {
            service.Environment.TryGetValue("SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR", out var rf);
            Assert.True(rf == "3", $"service '{service.Name}': key 'environment.SCHEMA_REGISTRY_KAFKASTORE_TOPIC_REPLICATION_FACTOR' is '{rf}', expected '3'.");
        }
    }

    private static List<string> SplitAddresses(string value) =>
        value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
            .Select(a => a.Contains("://", StringComparison.Ordinal) ? a[(a.IndexOf("://", StringComparison.Ordinal) + 3)..] : a)
            .ToList();

    [GeneratedRegex(@"^#\s*KAFKA_BOOTSTRAP_SERVERS=(\S+)", RegexOptions.Multiline)]
    private static partial Regex DocumentedBootstrap();

    [GeneratedRegex(@"^(?<id>\d+)@(?<host>[^:]+):(?<port>\d+)$")]
    private static partial Regex VoterPattern();

    private sealed record Listener(string Name, string Address);

    private sealed class Service(string name, YamlMappingNode node)
    {
        public string Name { get; } = name;
        public YamlMappingNode Node { get; } = node;
        public string Image { get; } = (node.Child("image") as YamlScalarNode)?.Value ?? "";
        public string HostName => (Node.Child("hostname") as YamlScalarNode)?.Value ?? Name;

        public IReadOnlyDictionary<string, string> Environment { get; } = ReadEnvironment(name, node.Child("environment"));

        public IReadOnlyList<string> Roles => Environment.TryGetValue("KAFKA_PROCESS_ROLES", out var roles)
            ? roles.Split(',', StringSplitOptions.TrimEntries)
            : [];

        public bool IsBroker => Roles.Contains("broker");

        public string Env(string key) =>
            Environment.TryGetValue(key, out var value) ? value : throw new Xunit.Sdk.XunitException($"service '{Name}': key 'environment.{key}' is missing.");

        public int NodeId => int.TryParse(Env("KAFKA_NODE_ID"), CultureInfo.InvariantCulture, out var id)
            ? id
            : throw new Xunit.Sdk.XunitException($"service '{Name}': key 'environment.KAFKA_NODE_ID' is not an integer.");

        public string InternalListenerName => Env("KAFKA_INTER_BROKER_LISTENER_NAME");

        public IReadOnlyList<Listener> AdvertisedListeners => ParseListeners("KAFKA_ADVERTISED_LISTENERS");

        public string InternalAdvertisedAddress =>
            AdvertisedListeners.SingleOrDefault(l => l.Name == InternalListenerName)?.Address
            ?? throw new Xunit.Sdk.XunitException($"service '{Name}': key 'environment.KAFKA_ADVERTISED_LISTENERS' has no '{InternalListenerName}' listener.");

        public string ControllerPort
        {
            get
            {
                var name = Env("KAFKA_CONTROLLER_LISTENER_NAMES").Split(',')[0].Trim();
                var address = ParseListeners("KAFKA_LISTENERS").SingleOrDefault(l => l.Name == name)?.Address
                    ?? throw new Xunit.Sdk.XunitException($"service '{Name}': key 'environment.KAFKA_LISTENERS' has no '{name}' listener.");
                return address[(address.LastIndexOf(':') + 1)..];
            }
        }

        public IReadOnlyList<string> PublishedPorts => Node.Child("ports") is YamlSequenceNode ports
            ? ports.Children.OfType<YamlScalarNode>().Select(p => p.Value ?? "").Select(p => p.Split(':')[0]).ToList()
            : [];

        private List<Listener> ParseListeners(string key) =>
            Env(key).Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries)
                .Select(l =>
                {
                    var separator = l.IndexOf("://", StringComparison.Ordinal);
                    return separator < 0
                        ? throw new Xunit.Sdk.XunitException($"service '{Name}': key 'environment.{key}' entry '{l}' is not NAME://host:port.")
                        : new Listener(l[..separator], l[(separator + 3)..]);
                })
                .ToList();

        private static Dictionary<string, string> ReadEnvironment(string service, YamlNode? node)
        {
            var result = new Dictionary<string, string>(StringComparer.Ordinal);
            switch (node)
            {
                case null:
                    break;
                case YamlMappingNode map:
                    foreach (var (key, value) in map.Children)
                    {
                        result[((YamlScalarNode)key).Value!] = (value as YamlScalarNode)?.Value ?? "";
                    }

                    break;
                case YamlSequenceNode list:
                    foreach (var item in list.Children.OfType<YamlScalarNode>())
                    {
                        var text = item.Value ?? "";
                        var eq = text.IndexOf('=', StringComparison.Ordinal);
                        result[eq < 0 ? text : text[..eq]] = eq < 0 ? "" : text[(eq + 1)..];
                    }

                    break;
                default:
                    throw new Xunit.Sdk.XunitException($"service '{service}': key 'environment' is neither a mapping nor a list.");
            }

            return result;
        }
    }

    private sealed class ComposeFile
    {
        public required string Text { get; init; }
        public required IReadOnlyList<Service> Services { get; init; }
        public IReadOnlyList<Service> Brokers => Services.Where(s => s.IsBroker).ToList();

        public static ComposeFile Load()
        {
            var path = Path.Combine(RepositoryRoot(), ComposeFileName);
            Assert.True(File.Exists(path), $"{ComposeFileName} not found at '{path}'.");
            var text = File.ReadAllText(path);

            var stream = new YamlStream();
            using (var reader = new StringReader(text))
            {
                // MergingParser resolves the '<<: *anchor' merge keys the file uses to share broker settings.
                stream.Load(new MergingParser(new Parser(reader)));
            }

            var root = Assert.IsType<YamlMappingNode>(stream.Documents.Single().RootNode);
            var services = Assert.IsType<YamlMappingNode>(root.Child("services"));
            return new ComposeFile
            {
                Text = text,
                Services = services.Children.Select(kv => new Service(((YamlScalarNode)kv.Key).Value!, Assert.IsType<YamlMappingNode>(kv.Value))).ToList(),
            };
        }

        private static string RepositoryRoot()
        {
            for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
                {
                    return dir.FullName;
                }
            }

            throw new InvalidOperationException($"Streaming.sln not found above '{AppContext.BaseDirectory}'.");
        }
    }
}

internal static class YamlNodeExtensions
{
    public static YamlNode? Child(this YamlMappingNode node, string key) =>
        node.Children.TryGetValue(new YamlScalarNode(key), out var value) ? value : null;
}
