using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Streaming.Platform.Topics;

/// <summary>Renders the manifest as Strimzi <c>KafkaTopic</c> resources (the content of <c>k8s/topics.yaml</c>).</summary>
public static partial class StrimziTopicRenderer
{
    public const string DefaultClusterName = "streaming";

    /// <summary>A multi-document YAML stream, one <c>KafkaTopic</c> per manifest topic, in manifest order.</summary>
    public static string Render(TopicManifest manifest, string clusterName = DefaultClusterName)
    {
        ArgumentNullException.ThrowIfNull(manifest);
        ArgumentException.ThrowIfNullOrWhiteSpace(clusterName);
        var clash = manifest.Topics.GroupBy(t => ResourceName(t.Name), StringComparer.Ordinal).FirstOrDefault(g => g.Count() > 1);
        if (clash is not null)
        {
            throw new InvalidOperationException(
                $"Topics {string.Join(" and ", clash.Select(t => $"'{t.Name}'"))} map to the same KafkaTopic resource name '{clash.Key}'.");
        }

        var sb = new StringBuilder();
        sb.Append("# GENERATED from src/Streaming.Platform/Topics/topics.manifest.json - do not edit.\n");
        sb.Append("# Regenerate: dotnet run --project src/Streaming.Cli -- topics render-k8s > k8s/topics.yaml\n");
        foreach (var topic in manifest.Topics)
        {
            sb.Append("---\n");
            sb.Append("apiVersion: kafka.strimzi.io/v1beta2\n");
            sb.Append("kind: KafkaTopic\n");
            sb.Append("metadata:\n");
            sb.Append("  name: ").Append(ResourceName(topic.Name)).Append('\n');
            sb.Append("  labels:\n");
            sb.Append("    strimzi.io/cluster: ").Append(clusterName).Append('\n');
            sb.Append("  annotations:\n");
            sb.Append("    streaming/owner: ").Append(Quote(topic.Owner)).Append('\n');
            sb.Append("    streaming/key: ").Append(Quote(topic.Key)).Append('\n');
            sb.Append("    streaming/description: ").Append(Quote(topic.Description)).Append('\n');
            sb.Append("spec:\n");
            sb.Append("  topicName: ").Append(Quote(topic.Name)).Append('\n');
            sb.Append("  partitions: ").Append(topic.Partitions.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("  replicas: ").Append(topic.ReplicationFactor.ToString(CultureInfo.InvariantCulture)).Append('\n');
            sb.Append("  config:\n");
            foreach (var (key, value) in topic.EffectiveConfigs())
            {
                sb.Append("    ").Append(key).Append(": ").Append(Quote(value)).Append('\n');
            }
        }

        return sb.ToString();
    }

    /// <summary>
    /// A Kubernetes resource name (DNS-1123 subdomain) for a topic: lower case, '_' replaced by '-', trimmed to
    /// start and end alphanumeric. The real name is always carried in <c>spec.topicName</c>.
    /// </summary>
    public static string ResourceName(string topicName)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(topicName);
        var name = NotDns().Replace(topicName.ToLowerInvariant().Replace('_', '-'), "-").Trim('-', '.');
        return name.Length > 253 ? name[..253].TrimEnd('-', '.') : name;
    }

    [GeneratedRegex("[^a-z0-9.-]")]
    private static partial Regex NotDns();

    private static string Quote(string value) =>
        "\"" + value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}
