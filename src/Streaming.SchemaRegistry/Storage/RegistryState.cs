using Streaming.SchemaRegistry.Evolution;

namespace Streaming.SchemaRegistry.Storage;

/// <summary>A schema as the registry holds it: global id, text as first registered, type, references and identity.</summary>
/// <param name="Id">Global schema id, shared by every subject that registered the same schema.</param>
/// <param name="Schema">The schema text as first registered.</param>
/// <param name="SchemaType">"AVRO" (the only type this registry accepts).</param>
/// <param name="References">Schemas this one refers to by name.</param>
/// <param name="Identity">Two registrations with the same identity get the same id (canonical JSON plus references).</param>
public sealed record StoredSchema(int Id, string Schema, string SchemaType, IReadOnlyList<SchemaReferenceRecord> References, string Identity);

/// <summary>One version of one subject and the global schema id it points to.</summary>
public sealed record SubjectVersion(string Subject, int Version, int Id, bool Deleted);

/// <summary>
/// The registry's state, rebuilt by applying its log (<see cref="RegistryRecord"/>s) in order. Applying is deterministic,
/// so every instance that reads the same log holds the same state. Conflicting registrations (two instances that wrote
/// the same subject version, or the same id for different schemas, at the same time) are resolved "first in the log
/// wins": the later record is ignored and its writer retries. Thread-safe.
/// </summary>
public sealed class RegistryState
{
    private readonly Lock _gate = new();
    private readonly Dictionary<string, SortedDictionary<int, SchemaRecord>> _subjects = new(StringComparer.Ordinal);
    private readonly Dictionary<string, int> _nextVersion = new(StringComparer.Ordinal);
    private readonly Dictionary<int, StoredSchema> _schemas = [];
    private readonly Dictionary<string, int> _idsByIdentity = new(StringComparer.Ordinal);
    private readonly Dictionary<string, string> _subjectLevels = new(StringComparer.Ordinal);
    private string? _globalLevel;
    private int _maxId;

    /// <summary>Creates an empty state whose global level is <paramref name="defaultLevel"/> until a config record sets one.</summary>
    public RegistryState(string defaultLevel = "BACKWARD") => DefaultLevel = defaultLevel;

    /// <summary>Global level used while no config record set one.</summary>
    public string DefaultLevel { get; }

    /// <summary>The identity key of a schema: its canonical JSON (references inlined), type and references.</summary>
    public static string IdentityOf(string schemaType, string canonicalJson, IReadOnlyList<SchemaReferenceRecord> references) =>
        schemaType + "\n" + canonicalJson + "\n" + string.Join("\n", references.Select(r => $"{r.Name}={r.Subject}/{r.Version}"));

    /// <summary>Applies one record of the log; returns false when it was ignored (a conflicting registration).</summary>
    public bool Apply(RegistryRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        lock (_gate)
        {
            switch (record)
            {
                case SchemaRecord schema:
                    return ApplySchema(schema);
                case SchemaTombstone tombstone:
                    ApplyTombstone(tombstone);
                    return true;
                case ConfigRecord config when config.Subject is null:
                    _globalLevel = config.Level;
                    return true;
                case ConfigRecord { Subject: { } subject } config:
                    if (config.Level is null)
                    {
                        _subjectLevels.Remove(subject);
                    }
                    else
                    {
                        _subjectLevels[subject] = config.Level;
                    }

                    return true;
                default:
                    return false;
            }
        }
    }

    private bool ApplySchema(SchemaRecord record)
    {
        if (_subjects.TryGetValue(record.Subject, out var versions) && versions.TryGetValue(record.Version, out var existing))
        {
            if (!existing.SameRegistration(record))
            {
                return false; // another registration took this subject version first
            }

            versions[record.Version] = record; // soft delete / undelete of the same registration
            return true;
        }

        var identity = IdentityFor(record.Schema, record.SchemaType, record.References);
        if (_schemas.TryGetValue(record.Id, out var byId) && byId.Identity != identity)
        {
            return false; // this id was given to a different schema first
        }

        if (_idsByIdentity.TryGetValue(identity, out var knownId) && knownId != record.Id)
        {
            return false; // this schema already has another id
        }

        if (!_schemas.ContainsKey(record.Id))
        {
            _schemas[record.Id] = new StoredSchema(record.Id, record.Schema, record.SchemaType, record.References, identity);
            _idsByIdentity[identity] = record.Id;
        }

        _maxId = Math.Max(_maxId, record.Id);
        if (versions is null)
        {
            versions = [];
            _subjects[record.Subject] = versions;
        }

        versions[record.Version] = record;
        _nextVersion[record.Subject] = Math.Max(_nextVersion.GetValueOrDefault(record.Subject, 1), record.Version + 1);
        return true;
    }

    private void ApplyTombstone(SchemaTombstone tombstone)
    {
        if (!_subjects.TryGetValue(tombstone.Subject, out var versions) || !versions.Remove(tombstone.Version, out var removed))
        {
            return;
        }

        if (versions.Count == 0)
        {
            _subjects.Remove(tombstone.Subject);
        }

        // The schema stays readable by id while any subject version still points at it.
        if (!_subjects.Values.Any(v => v.Values.Any(r => r.Id == removed.Id)) && _schemas.Remove(removed.Id, out var schema))
        {
            _idsByIdentity.Remove(schema.Identity);
        }
    }

    private string IdentityFor(string schema, string schemaType, IReadOnlyList<SchemaReferenceRecord> references)
    {
        try
        {
            var canonical = AvroSchemaDocument.Parse(schema, ResolveReferencesLocked(references)).CanonicalJson;
            return IdentityOf(schemaType, canonical, references);
        }
        catch (Exception ex) when (ex is InvalidSchemaException or InvalidDataException)
        {
            // Never expected (only parsed schemas are written); the raw text still identifies it deterministically.
            return IdentityOf(schemaType, schema, references);
        }
    }

    /// <summary>
    /// The texts of the schemas <paramref name="references"/> point at, their own references first (the order
    /// <see cref="AvroSchemaDocument.Parse"/> wants).
    /// </summary>
    /// <exception cref="InvalidDataException">A reference names a subject version that does not exist.</exception>
    public IReadOnlyList<string> ResolveReferences(IReadOnlyList<SchemaReferenceRecord> references)
    {
        lock (_gate)
        {
            return ResolveReferencesLocked(references);
        }
    }

    private List<string> ResolveReferencesLocked(IReadOnlyList<SchemaReferenceRecord> references)
    {
        var texts = new List<string>();
        var seen = new HashSet<(string, int)>();
        void Add(IReadOnlyList<SchemaReferenceRecord> refs, int depth)
        {
            if (depth > 32)
            {
                throw new InvalidDataException("schema references nest deeper than 32 levels (a cycle?)");
            }

            foreach (var reference in refs)
            {
                if (!_subjects.TryGetValue(reference.Subject, out var versions) || !versions.TryGetValue(reference.Version, out var target))
                {
                    throw new InvalidDataException($"reference '{reference.Name}' names subject '{reference.Subject}' version {reference.Version}, which does not exist");
                }

                if (seen.Add((reference.Subject, reference.Version)))
                {
                    Add(target.References, depth + 1);
                    texts.Add(target.Schema);
                }
            }
        }

        Add(references, 0);
        return texts;
    }

    /// <summary>The schema with this id, or null.</summary>
    public StoredSchema? GetSchema(int id)
    {
        lock (_gate)
        {
            return _schemas.GetValueOrDefault(id);
        }
    }

    /// <summary>The id already given to a schema with this identity, or null.</summary>
    public int? IdOf(string identity)
    {
        lock (_gate)
        {
            return _idsByIdentity.TryGetValue(identity, out var id) ? id : null;
        }
    }

    /// <summary>The id a new schema would get.</summary>
    public int NextId()
    {
        lock (_gate)
        {
            return _maxId + 1;
        }
    }

    /// <summary>The version number the next registration under <paramref name="subject"/> would get.</summary>
    public int NextVersion(string subject)
    {
        lock (_gate)
        {
            return _nextVersion.GetValueOrDefault(subject, 1);
        }
    }

    /// <summary>Subjects with at least one version (soft-deleted ones only when <paramref name="includeDeleted"/>), ordinal-sorted.</summary>
    public IReadOnlyList<string> GetSubjects(bool includeDeleted)
    {
        lock (_gate)
        {
            return [.. _subjects.Where(s => includeDeleted || s.Value.Values.Any(v => !v.Deleted)).Select(s => s.Key).Order(StringComparer.Ordinal)];
        }
    }

    /// <summary>Versions of <paramref name="subject"/> ascending; null when it has none (visible ones, unless <paramref name="includeDeleted"/>).</summary>
    public IReadOnlyList<SchemaRecord>? GetVersions(string subject, bool includeDeleted)
    {
        lock (_gate)
        {
            if (!_subjects.TryGetValue(subject, out var versions))
            {
                return null;
            }

            var list = versions.Values.Where(v => includeDeleted || !v.Deleted).ToList();
            return list.Count == 0 ? null : list;
        }
    }

    /// <summary>True when the subject has any version, soft-deleted or not.</summary>
    public bool SubjectExists(string subject)
    {
        lock (_gate)
        {
            return _subjects.ContainsKey(subject);
        }
    }

    /// <summary>The version of <paramref name="subject"/> registered with this identity, or null.</summary>
    public SchemaRecord? Find(string subject, string identity, bool includeDeleted)
    {
        lock (_gate)
        {
            if (!_idsByIdentity.TryGetValue(identity, out var id) || !_subjects.TryGetValue(subject, out var versions))
            {
                return null;
            }

            return versions.Values.LastOrDefault(v => v.Id == id && (includeDeleted || !v.Deleted));
        }
    }

    /// <summary>Every (subject, version) pointing at <paramref name="id"/>, ordinal by subject then version.</summary>
    public IReadOnlyList<SubjectVersion> GetSubjectVersionsForId(int id, bool includeDeleted)
    {
        lock (_gate)
        {
            return [.. _subjects.OrderBy(s => s.Key, StringComparer.Ordinal)
                .SelectMany(s => s.Value.Values)
                .Where(v => v.Id == id && (includeDeleted || !v.Deleted))
                .Select(v => new SubjectVersion(v.Subject, v.Version, v.Id, v.Deleted))];
        }
    }

    /// <summary>The subject's own level (null subject: the global level); null when the subject has none.</summary>
    public string? GetLevel(string? subject)
    {
        lock (_gate)
        {
            return subject is null ? _globalLevel ?? DefaultLevel : _subjectLevels.GetValueOrDefault(subject);
        }
    }

    /// <summary>The level in force for <paramref name="subject"/>: its own, else the global one.</summary>
    public string EffectiveLevel(string subject)
    {
        lock (_gate)
        {
            return _subjectLevels.GetValueOrDefault(subject) ?? _globalLevel ?? DefaultLevel;
        }
    }

    /// <summary>Number of distinct schema ids held.</summary>
    public int SchemaCount
    {
        get
        {
            lock (_gate)
            {
                return _schemas.Count;
            }
        }
    }
}
