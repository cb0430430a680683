using System.Collections.ObjectModel;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Streaming.Platform.Topics;

/// <summary>
/// The declared set of Kafka topics (<c>topics.manifest.json</c>). Code, the <c>topics apply</c> command and the
/// Strimzi resources in <c>k8s/</c> all read this one list.
/// </summary>
public sealed partial class TopicManifest
{
    /// <summary>Name of the manifest embedded in Streaming.Platform.</summary>
    public const string EmbeddedResourceName = "Streaming.Platform.Topics.topics.manifest.json";

    /// <summary>Kafka's own limit (<c>Topic.MAX_NAME_LENGTH</c>).</summary>
    public const int MaxTopicNameLength = 249;

    private readonly Dictionary<string, TopicDefinition> _byName;

    private TopicManifest(IReadOnlyList<TopicDefinition> topics)
    {
        Topics = new ReadOnlyCollection<TopicDefinition>(topics.ToList());
        _byName = topics.ToDictionary(t => t.Name, StringComparer.Ordinal);
    }

    /// <summary>Topics in manifest order.</summary>
    public IReadOnlyList<TopicDefinition> Topics { get; }

    /// <summary>The manifest compiled into Streaming.Platform.</summary>
    public static TopicManifest LoadEmbedded()
    {
        using var stream = typeof(TopicManifest).Assembly.GetManifestResourceStream(EmbeddedResourceName)
            ?? throw new InvalidOperationException($"Embedded resource '{EmbeddedResourceName}' is missing from {typeof(TopicManifest).Assembly.GetName().Name}.");
        return Load(stream);
    }

    /// <summary>Loads a manifest file from <paramref name="path"/>.</summary>
    public static TopicManifest Load(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        if (!File.Exists(path))
        {
            throw new TopicManifestException($"manifest file '{path}' does not exist");
        }

        using var stream = File.OpenRead(path);
        return Load(stream);
    }

    /// <summary>Loads a manifest from JSON.</summary>
    public static TopicManifest Load(Stream json)
    {
        ArgumentNullException.ThrowIfNull(json);
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(json, new JsonDocumentOptions { AllowTrailingCommas = true, CommentHandling = JsonCommentHandling.Skip });
        }
        catch (JsonException ex)
        {
            throw new TopicManifestException($"manifest is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            return FromJson(document.RootElement);
        }
    }

    /// <summary>Loads a manifest from a JSON string.</summary>
    public static TopicManifest Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        using var stream = new MemoryStream(System.Text.Encoding.UTF8.GetBytes(json));
        return Load(stream);
    }

    /// <summary>Builds a manifest from definitions, with the same validation as <see cref="Load(Stream)"/>.</summary>
    public static TopicManifest Create(IEnumerable<TopicDefinition> topics)
    {
        ArgumentNullException.ThrowIfNull(topics);
        var list = topics.ToList();
        var errors = Validate(list);
        if (errors.Count > 0)
        {
            throw new TopicManifestException(errors);
        }

        return new TopicManifest(list);
    }

    /// <summary>
    /// This manifest plus ad-hoc topics, e.g. Streamiz changelog/repartition topics from
    /// <see cref="TopicDefinition.StreamsChangelog"/>, so one <see cref="TopicApplier"/> call creates them all.
    /// </summary>
    public TopicManifest With(params IEnumerable<TopicDefinition> extraTopics) => Create(Topics.Concat(extraTopics));

    /// <summary>The topic named <paramref name="name"/>; throws naming the topic when it is not declared.</summary>
    public TopicDefinition Get(string name) =>
        _byName.TryGetValue(name, out var topic)
            ? topic
            : throw new KeyNotFoundException($"Topic '{name}' is not declared in the topic manifest. Declared topics: {string.Join(", ", Topics.Select(t => t.Name))}.");

    public bool TryGet(string name, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out TopicDefinition? topic) =>
        _byName.TryGetValue(name, out topic);

    public bool Contains(string name) => _byName.ContainsKey(name);

    /// <summary>Checks a topic name against Kafka's rules: 1–249 chars of [a-zA-Z0-9._-], not "." or "..".</summary>
    public static bool IsLegalTopicName(string? name) =>
        !string.IsNullOrEmpty(name)
        && name.Length <= MaxTopicNameLength
        && name is not "." and not ".."
        && LegalTopicName().IsMatch(name);

    [GeneratedRegex("^[a-zA-Z0-9._-]+$")]
    private static partial Regex LegalTopicName();

    private static readonly HashSet<string> TypedConfigKeys = new(StringComparer.Ordinal)
    {
        TopicDefinition.CleanupPolicyConfig,
        TopicDefinition.RetentionMsConfig,
        TopicDefinition.MinInsyncReplicasConfig,
    };

    private static List<string> Validate(IReadOnlyList<TopicDefinition> topics)
    {
        var errors = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < topics.Count; i++)
        {
            var t = topics[i];
            var label = string.IsNullOrEmpty(t.Name) ? $"topic #{i + 1}" : $"topic '{t.Name}'";
            if (string.IsNullOrEmpty(t.Name))
            {
                errors.Add($"{label}: name is required");
            }
            else if (!IsLegalTopicName(t.Name))
            {
                errors.Add($"{label}: name is not a legal Kafka topic name (1-{MaxTopicNameLength} characters of a-z, A-Z, 0-9, '.', '_', '-'; not '.' or '..')");
            }
            else if (!seen.Add(t.Name))
            {
                errors.Add($"{label}: name is declared more than once");
            }

            if (t.Partitions < 1)
            {
                errors.Add($"{label}: partitions must be at least 1 (was {t.Partitions})");
            }

            if (t.ReplicationFactor < 1)
            {
                errors.Add($"{label}: replicationFactor must be at least 1 (was {t.ReplicationFactor})");
            }
            else if (t.ReplicationFactor > short.MaxValue)
            {
                errors.Add($"{label}: replicationFactor must be at most {short.MaxValue} (was {t.ReplicationFactor})");
            }

            if (t.MinInsyncReplicas < 1)
            {
                errors.Add($"{label}: minInsyncReplicas must be at least 1 (was {t.MinInsyncReplicas})");
            }
            else if (t.ReplicationFactor >= 1 && t.MinInsyncReplicas > t.ReplicationFactor)
            {
                errors.Add($"{label}: minInsyncReplicas ({t.MinInsyncReplicas}) must not exceed replicationFactor ({t.ReplicationFactor})");
            }

            if (t.RetentionMs < -1)
            {
                errors.Add($"{label}: retentionMs must be -1 (forever) or a positive number of milliseconds (was {t.RetentionMs})");
            }

            if (!Enum.IsDefined(t.CleanupPolicy))
            {
                errors.Add($"{label}: cleanupPolicy '{t.CleanupPolicy}' is unknown");
            }

            foreach (var (key, value) in t.Configs)
            {
                if (TypedConfigKeys.Contains(key))
                {
                    errors.Add($"{label}: configs.{key} duplicates a typed field; set it through the field instead");
                }
                else if (string.IsNullOrWhiteSpace(key))
                {
                    errors.Add($"{label}: configs has an empty key");
                }
                else if (value is null)
                {
                    errors.Add($"{label}: configs.{key} has no value");
                }
            }
        }

        return errors;
    }

    private static TopicManifest FromJson(JsonElement root)
    {
        if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("topics", out var topicsElement) || topicsElement.ValueKind != JsonValueKind.Array)
        {
            throw new TopicManifestException("manifest must be a JSON object with a 'topics' array");
        }

        var errors = new List<string>();
        var topics = new List<TopicDefinition>();
        var index = 0;
        foreach (var element in topicsElement.EnumerateArray())
        {
            index++;
            var reader = new FieldReader(element, index, errors);
            if (element.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"topic #{index}: must be a JSON object");
                continue;
            }

            var before = errors.Count;
            var name = reader.String("name", required: true) ?? "";
            var policyText = reader.String("cleanupPolicy", required: true);
            var policy = CleanupPolicy.Delete;
            if (policyText is not null && !CleanupPolicies.TryParse(policyText, out policy))
            {
                errors.Add($"{reader.Label}: cleanupPolicy '{policyText}' is unknown (expected 'delete', 'compact' or 'compact,delete')");
            }

            var definition = new TopicDefinition
            {
                Name = name,
                Key = reader.String("key") ?? "",
                Partitions = reader.Int("partitions"),
                ReplicationFactor = reader.Int("replicationFactor"),
                CleanupPolicy = policy,
                RetentionMs = reader.Long("retentionMs"),
                MinInsyncReplicas = reader.Int("minInsyncReplicas"),
                Configs = reader.Configs("configs"),
                Owner = reader.String("owner") ?? "",
                Description = reader.String("description") ?? "",
            };
            reader.RejectUnknownFields();
            if (errors.Count == before)
            {
                topics.Add(definition);
            }
        }

        errors.AddRange(Validate(topics));
        if (errors.Count > 0)
        {
            throw new TopicManifestException(errors);
        }

        return new TopicManifest(topics);
    }

    /// <summary>Reads one topic object, recording type errors that name the topic and the field.</summary>
    private sealed class FieldReader(JsonElement element, int index, List<string> errors)
    {
        private static readonly HashSet<string> KnownFields = new(StringComparer.Ordinal)
        {
            "name", "key", "partitions", "replicationFactor", "cleanupPolicy", "retentionMs", "minInsyncReplicas", "configs", "owner", "description",
        };

        public string Label =>
            element.ValueKind == JsonValueKind.Object && element.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String && !string.IsNullOrEmpty(n.GetString())
                ? $"topic '{n.GetString()}'"
                : $"topic #{index}";

        public string? String(string field, bool required = false)
        {
            if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                if (required)
                {
                    errors.Add($"{Label}: {field} is required");
                }

                return null;
            }

            if (value.ValueKind != JsonValueKind.String)
            {
                errors.Add($"{Label}: {field} must be a string");
                return null;
            }

            return value.GetString();
        }

        public int Int(string field)
        {
            var number = Long(field);
            if (number is < int.MinValue or > int.MaxValue)
            {
                errors.Add($"{Label}: {field} is out of range ({number})");
                return 0;
            }

            return (int)number;
        }

        public long Long(string field)
        {
            if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                errors.Add($"{Label}: {field} is required");
                return 0;
            }

            if (value.ValueKind != JsonValueKind.Number || !value.TryGetInt64(out var number))
            {
                errors.Add($"{Label}: {field} must be a whole number (was {value.GetRawText()})");
                return 0;
            }

            return number;
        }

        public IReadOnlyDictionary<string, string> Configs(string field)
        {
            var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
            if (!element.TryGetProperty(field, out var value) || value.ValueKind == JsonValueKind.Null)
            {
                return new ReadOnlyDictionary<string, string>(result);
            }

            if (value.ValueKind != JsonValueKind.Object)
            {
                errors.Add($"{Label}: {field} must be an object of config name to value");
                return new ReadOnlyDictionary<string, string>(result);
            }

            foreach (var property in value.EnumerateObject())
            {
                switch (property.Value.ValueKind)
                {
                    case JsonValueKind.String:
                        result[property.Name] = property.Value.GetString()!;
                        break;
                    case JsonValueKind.Number:
                        result[property.Name] = property.Value.GetRawText();
                        break;
                    case JsonValueKind.True or JsonValueKind.False:
                        result[property.Name] = property.Value.GetBoolean() ? "true" : "false";
                        break;
                    default:
                        errors.Add($"{Label}: {field}.{property.Name} must be a string, number or boolean");
                        break;
                }
            }

            return new ReadOnlyDictionary<string, string>(new Dictionary<string, string>(result, StringComparer.Ordinal));
        }

        public void RejectUnknownFields()
        {
            foreach (var property in element.EnumerateObject())
            {
                if (!KnownFields.Contains(property.Name))
                {
                    errors.Add($"{Label}: {property.Name} is not a known field (known: {string.Join(", ", KnownFields)})");
                }
            }
        }
    }
}
