namespace Streaming.Platform.Topics;

/// <summary>A topic manifest that cannot be read or does not validate; each error names topic and field.</summary>
public sealed class TopicManifestException : Exception
{
    public TopicManifestException()
        : this([])
    {
    }

    public TopicManifestException(string message)
        : this([message])
    {
    }

    public TopicManifestException(string message, Exception innerException)
        : base(message, innerException)
    {
        Errors = [message];
    }

    public TopicManifestException(IReadOnlyList<string> errors)
        : base(errors.Count == 1
            ? $"Invalid topic manifest: {errors[0]}"
            : $"Invalid topic manifest ({errors.Count} errors):{Environment.NewLine}  " + string.Join(Environment.NewLine + "  ", errors))
    {
        Errors = errors;
    }

    /// <summary>One entry per problem, e.g. <c>topic 'x.v1': partitions must be at least 1 (was 0)</c>.</summary>
    public IReadOnlyList<string> Errors { get; }
}
