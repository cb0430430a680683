namespace Streaming.SchemaRegistry;

/// <summary>Thread-safe in-memory <see cref="ISchemaStore"/>; ids are assigned monotonically from 1.</summary>
public sealed class InMemorySchemaStore : ISchemaStore
{
    // One lock for everything: registrations are rare and tiny, and a single lock makes
    // "same canonical form => same id" trivially race-free across subjects.
    private readonly Lock _gate = new();
    private readonly List<StoredSchema> _schemas = [];
    private readonly Dictionary<string, int> _idsByKey = new(StringComparer.Ordinal);
    private readonly Dictionary<string, List<int>> _subjects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _subjectCompatibility = new(StringComparer.Ordinal);
    private string _globalCompatibility;

    /// <summary>Creates an empty store whose global compatibility level is <paramref name="defaultCompatibility"/>.</summary>
    public InMemorySchemaStore(string defaultCompatibility = "BACKWARD") => _globalCompatibility = defaultCompatibility;

    private static string Key(string schemaType, string canonicalForm) => schemaType + "\n" + canonicalForm;

    /// <inheritdoc />
    public ValueTask<SubjectVersion> RegisterAsync(string subject, string schema, string schemaType, string canonicalForm, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var key = Key(schemaType, canonicalForm);
            if (!_idsByKey.TryGetValue(key, out var id))
            {
                id = _schemas.Count + 1;
                _schemas.Add(new StoredSchema(id, schema, schemaType, canonicalForm));
                _idsByKey.Add(key, id);
            }

            if (!_subjects.TryGetValue(subject, out var versions))
            {
                versions = [];
                _subjects.Add(subject, versions);
            }

            var existing = versions.IndexOf(id);
            if (existing >= 0)
            {
                return ValueTask.FromResult(new SubjectVersion(subject, existing + 1, id));
            }

            versions.Add(id);
            return ValueTask.FromResult(new SubjectVersion(subject, versions.Count, id));
        }
    }

    /// <inheritdoc />
    public ValueTask<SubjectVersion?> LookupAsync(string subject, string schemaType, string canonicalForm, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (_idsByKey.TryGetValue(Key(schemaType, canonicalForm), out var id)
                && _subjects.TryGetValue(subject, out var versions))
            {
                var index = versions.IndexOf(id);
                if (index >= 0)
                {
                    return ValueTask.FromResult<SubjectVersion?>(new SubjectVersion(subject, index + 1, id));
                }
            }

            return ValueTask.FromResult<SubjectVersion?>(null);
        }
    }

    /// <inheritdoc />
    public ValueTask<StoredSchema?> GetSchemaAsync(int id, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult(id >= 1 && id <= _schemas.Count ? _schemas[id - 1] : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<SubjectVersion>> GetSubjectVersionsForIdAsync(int id, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            var result = new List<SubjectVersion>();
            foreach (var (subject, versions) in _subjects.OrderBy(s => s.Key, StringComparer.Ordinal))
            {
                var index = versions.IndexOf(id);
                if (index >= 0)
                {
                    result.Add(new SubjectVersion(subject, index + 1, id));
                }
            }

            return ValueTask.FromResult<IReadOnlyList<SubjectVersion>>(result);
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<string>> GetSubjectsAsync(CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<string>>(_subjects.Keys.Order(StringComparer.Ordinal).ToArray());
        }
    }

    /// <inheritdoc />
    public ValueTask<IReadOnlyList<int>?> GetVersionsAsync(string subject, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            return ValueTask.FromResult<IReadOnlyList<int>?>(
                _subjects.TryGetValue(subject, out var versions) ? Enumerable.Range(1, versions.Count).ToArray() : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<SubjectVersion?> GetVersionAsync(string subject, int? version, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (!_subjects.TryGetValue(subject, out var versions) || versions.Count == 0)
            {
                return ValueTask.FromResult<SubjectVersion?>(null);
            }

            var v = version ?? versions.Count;
            return ValueTask.FromResult<SubjectVersion?>(
                v >= 1 && v <= versions.Count ? new SubjectVersion(subject, v, versions[v - 1]) : null);
        }
    }

    /// <inheritdoc />
    public ValueTask<string?> GetCompatibilityAsync(string? subject, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (subject is null)
            {
                return ValueTask.FromResult<string?>(_globalCompatibility);
            }

            return ValueTask.FromResult(_subjectCompatibility.TryGetValue(subject, out var level) ? level : null);
        }
    }

    /// <inheritdoc />
    public ValueTask SetCompatibilityAsync(string? subject, string level, CancellationToken cancellationToken = default)
    {
        lock (_gate)
        {
            if (subject is null)
            {
                _globalCompatibility = level;
            }
            else
            {
                _subjectCompatibility[subject] = level;
            }
        }

        return ValueTask.CompletedTask;
    }
}
