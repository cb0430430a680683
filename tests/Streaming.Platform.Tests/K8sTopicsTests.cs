using Streaming.Platform.Topics;
using YamlDotNet.RepresentationModel;

namespace Streaming.Platform.Tests;

/// <summary>
/// <c>k8s/topics.yaml</c> is generated from the topic manifest and must not go stale; <c>k8s/users.yaml</c> ACLs
/// must only name declared topics. Does not validate against a Strimzi CRD schema or a cluster.
/// </summary>
public class K8sTopicsTests
{
    private const string Regenerate = "dotnet run --project src/Streaming.Cli -- topics render-k8s > k8s/topics.yaml";

    private static readonly TopicManifest Manifest = TopicManifest.LoadEmbedded();

    private static string K8sFile(string name) => Path.Combine(RepoRoot.Find(), "k8s", name);

    [Fact]
    public void Topics_yaml_is_exactly_what_render_k8s_produces_from_the_manifest()
    {
        var expected = StrimziTopicRenderer.Render(Manifest);
        var actual = File.ReadAllText(K8sFile("topics.yaml")).ReplaceLineEndings("\n");
        if (actual != expected)
        {
            var fresh = Path.Combine(Path.GetTempPath(), $"topics-{Guid.NewGuid():N}.yaml");
            File.WriteAllText(fresh, expected);
            Assert.Fail($"k8s/topics.yaml is stale versus topics.manifest.json. Regenerate with `{Regenerate}` (fresh render: {fresh}).");
        }
    }

    [Fact]
    public void Every_manifest_topic_has_one_KafkaTopic_with_its_partitions_replicas_and_configs()
    {
        var resources = LoadDocuments(K8sFile("topics.yaml"));

        Assert.All(resources, r => Assert.Equal(("kafka.strimzi.io/v1beta2", "KafkaTopic"), (Scalar(r, "apiVersion"), Scalar(r, "kind"))));
        var byTopic = resources.ToDictionary(r => Scalar(r, "spec", "topicName"), StringComparer.Ordinal);
        Assert.Equal(Manifest.Topics.Select(t => t.Name).Order(StringComparer.Ordinal), byTopic.Keys.Order(StringComparer.Ordinal));
        foreach (var topic in Manifest.Topics)
        {
            var resource = byTopic[topic.Name];
            Assert.Equal(topic.Partitions.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(resource, "spec", "partitions"));
            Assert.Equal(topic.ReplicationFactor.ToString(System.Globalization.CultureInfo.InvariantCulture), Scalar(resource, "spec", "replicas"));
            Assert.Equal(StrimziTopicRenderer.DefaultClusterName, Scalar(resource, "metadata", "labels", "strimzi.io/cluster"));
            var config = (YamlMappingNode)Node(resource, "spec", "config");
            var actual = config.Children.ToDictionary(c => ((YamlScalarNode)c.Key).Value!, c => ((YamlScalarNode)c.Value).Value!, StringComparer.Ordinal);
            Assert.Equal(topic.EffectiveConfigs().ToDictionary(c => c.Key, c => c.Value, StringComparer.Ordinal), actual);
        }
    }

    [Fact]
    public void KafkaTopic_resource_names_are_unique_kubernetes_names()
    {
        var names = Manifest.Topics.Select(t => StrimziTopicRenderer.ResourceName(t.Name)).ToList();
        Assert.Equal(names.Count, names.Distinct(StringComparer.Ordinal).Count());
        Assert.All(names, n => Assert.Matches("^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$", n));
        Assert.Equal("schemas", StrimziTopicRenderer.ResourceName("_schemas"));
    }

    [Fact]
    public void Two_topics_that_would_share_a_resource_name_are_refused_naming_both()
    {
        var manifest = TopicManifest.LoadEmbedded().With(TopicManifest.LoadEmbedded().Get("_schemas") with { Name = "schemas" });
        var ex = Assert.Throws<InvalidOperationException>(() => StrimziTopicRenderer.Render(manifest));
        Assert.Contains("'_schemas' and 'schemas'", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Every_literal_topic_in_the_user_acls_is_declared_in_the_manifest()
    {
        var literalTopics = Acls()
            .Select(acl => (YamlMappingNode)acl.Children[new YamlScalarNode("resource")])
            .Where(r => Scalar(r, "type") == "topic" && Scalar(r, "patternType") == "literal")
            .Select(r => Scalar(r, "name"))
            .Distinct()
            .ToList();
        Assert.NotEmpty(literalTopics);
        Assert.All(literalTopics, t => Assert.True(Manifest.Contains(t), $"users.yaml grants access to '{t}', which is not in the manifest"));
    }

    [Fact]
    public void Every_manifest_topic_has_a_writer_in_the_user_acls()
    {
        var writable = Acls()
            .Where(acl => ((YamlSequenceNode)acl.Children[new YamlScalarNode("operations")]).Children.Any(o => ((YamlScalarNode)o).Value is "Write" or "All"))
            .Select(acl => (YamlMappingNode)acl.Children[new YamlScalarNode("resource")])
            .Where(r => Scalar(r, "type") == "topic")
            .Select(r => (Name: Scalar(r, "name"), Prefix: Scalar(r, "patternType") == "prefix"))
            .ToList();
        Assert.All(Manifest.Topics, t => Assert.True(
            writable.Any(w => w.Prefix ? t.Name.StartsWith(w.Name, StringComparison.Ordinal) : w.Name == t.Name),
            $"no KafkaUser may write '{t.Name}'"));
    }

    /// <summary>Every ACL entry of every KafkaUser that has an authorization section.</summary>
    private static List<YamlMappingNode> Acls() =>
        LoadDocuments(K8sFile("users.yaml"))
            .Where(d => Scalar(d, "kind") == "KafkaUser")
            .Select(u => (YamlMappingNode)Node(u, "spec"))
            .Where(spec => spec.Children.ContainsKey(new YamlScalarNode("authorization")))
            .SelectMany(spec => ((YamlSequenceNode)Node(spec, "authorization", "acls")).Children.Cast<YamlMappingNode>())
            .ToList();

    private static List<YamlMappingNode> LoadDocuments(string path)
    {
        var stream = new YamlStream();
        using var reader = new StringReader(File.ReadAllText(path));
        stream.Load(reader);
        return stream.Documents.Select(d => d.RootNode).OfType<YamlMappingNode>().ToList();
    }

    private static YamlNode Node(YamlNode node, params string[] path)
    {
        foreach (var key in path)
        {
            node = ((YamlMappingNode)node).Children[new YamlScalarNode(key)];
        }

        return node;
    }

    private static string Scalar(YamlNode node, params string[] path) => ((YamlScalarNode)Node(node, path)).Value ?? "";
}
