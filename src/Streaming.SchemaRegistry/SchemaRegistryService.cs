using Streaming.SchemaRegistry.Evolution;
using Streaming.SchemaRegistry.Storage;

namespace Streaming.SchemaRegistry;

/// <summary>Result of a compatibility test.</summary>
/// <param name="IsCompatible">True when no incompatibility was found.</param>
/// <param name="Messages">One message per incompatibility (path and reason).</param>
public sealed record CompatibilityTestResult(bool IsCompatible, IReadOnlyList<string> Messages);

/// <summary>
/// The registry's operations with Confluent's semantics (idempotent registration, compatibility enforcement, soft and
/// permanent deletes, levels with global fallback), over an <see cref="ISchemaStore"/>. Every failure is a
/// <see cref="SchemaRegistryError"/> with Confluent's error code; nothing is written when a request fails.
/// </summary>
public sealed class SchemaRegistryService(ISchemaStore store)
{
    private const int MaxRegistrationAttempts = 10;

    // One writer at a time in this process; other instances are reconciled through the log (see RegistryState).
    private readonly SemaphoreSlim _writeGate = new(1, 1);

    /// <summary>The store served from.</summary>
    public ISchemaStore Store { get; } = store;

    private RegistryState State => Store.State;

    /// <summary>Registers <paramref name="schema"/> under <paramref name="subject"/>; the same schema returns its existing version and id.</summary>
    public async Task<SchemaRecord> RegisterAsync(string subject, string schema, string schemaType, IReadOnlyList<SchemaReferenceRecord> references, CancellationToken ct)
    {
        ValidateSubject(subject);
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            for (var attempt = 1; attempt <= MaxRegistrationAttempts; attempt++)
            {
                await Store.CatchUpAsync(ct).ConfigureAwait(false);
                var (document, identity) = Parse(schema, schemaType, references);
                var existing = State.Find(subject, identity, includeDeleted: false);
                if (existing is not null)
                {
                    return existing;
                }

                var test = Test(subject, document, State.GetVersions(subject, includeDeleted: false) ?? [], EffectiveLevel(subject));
                if (!test.IsCompatible)
                {
                    throw SchemaRegistryError.Incompatible(subject, test.Messages);
                }

                var record = new SchemaRecord(subject, State.NextVersion(subject), State.IdOf(identity) ?? State.NextId(), schema, schemaType, references, Deleted: false);
                if (await Store.AppendAsync(record, ct).ConfigureAwait(false))
                {
                    return record;
                }

                // Another instance wrote this subject version (or this id) first. Compaction keeps the last value per
                // key, so restore the winner's value over ours before trying again with fresh numbers.
                var winner = State.GetVersions(subject, includeDeleted: true)?.FirstOrDefault(v => v.Version == record.Version);
                if (winner is not null)
                {
                    await Store.AppendAsync(winner, ct).ConfigureAwait(false);
                }
            }

            throw SchemaRegistryError.StoreError($"registering under '{subject}' kept conflicting with other registry instances; try again");
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>
    /// The schema with this id, after catching up with the log: another instance may have registered it a moment ago
    /// (a deserializer reading a fresh record asks any instance). 40403 when it still is not there.
    /// </summary>
    public async Task<StoredSchema> GetSchemaAfterCatchUpAsync(int id, CancellationToken ct)
    {
        await Store.CatchUpAsync(ct).ConfigureAwait(false);
        return State.GetSchema(id) ?? throw SchemaRegistryError.SchemaIdNotFound(id);
    }

    /// <summary><see cref="Lookup"/>, catching up with the log first when the schema is not (yet) known here.</summary>
    public async Task<SchemaRecord> LookupAsync(string subject, string schema, string schemaType, IReadOnlyList<SchemaReferenceRecord> references, bool includeDeleted, CancellationToken ct)
    {
        try
        {
            return Lookup(subject, schema, schemaType, references, includeDeleted);
        }
        catch (SchemaRegistryError error) when (error.ErrorCode is 40401 or 40403)
        {
            await Store.CatchUpAsync(ct).ConfigureAwait(false);
            return Lookup(subject, schema, schemaType, references, includeDeleted);
        }
    }

    /// <summary>The version of <paramref name="subject"/> holding this schema; 40401 unknown subject, 40403 schema not in it.</summary>
    public SchemaRecord Lookup(string subject, string schema, string schemaType, IReadOnlyList<SchemaReferenceRecord> references, bool includeDeleted)
    {
        var (_, identity) = Parse(schema, schemaType, references);
        if (State.GetVersions(subject, includeDeleted) is null)
        {
            throw SchemaRegistryError.SubjectNotFound(subject);
        }

        return State.Find(subject, identity, includeDeleted) ?? throw SchemaRegistryError.SchemaNotFound(subject);
    }

    /// <summary>
    /// Tests <paramref name="schema"/> against one version (<paramref name="version"/> given) or, when null, against the
    /// versions the subject's level compares with (all of them for transitive levels).
    /// </summary>
    public CompatibilityTestResult TestCompatibility(string subject, string? version, string schema, string schemaType, IReadOnlyList<SchemaReferenceRecord> references)
    {
        var (document, _) = Parse(schema, schemaType, references);
        var level = EffectiveLevel(subject);
        if (version is null)
        {
            return Test(subject, document, State.GetVersions(subject, includeDeleted: false) ?? [], level);
        }

        var target = ResolveVersion(subject, version, includeDeleted: false);
        // Against one named version the level's direction applies, never its transitivity.
        var single = level switch
        {
            CompatibilityLevel.BackwardTransitive => CompatibilityLevel.Backward,
            CompatibilityLevel.ForwardTransitive => CompatibilityLevel.Forward,
            CompatibilityLevel.FullTransitive => CompatibilityLevel.Full,
            _ => level,
        };
        return Test(subject, document, [target], single);
    }

    /// <summary>A version by number or <c>latest</c>/<c>-1</c>; 42202 invalid version, 40401 unknown subject, 40402 missing version.</summary>
    public SchemaRecord ResolveVersion(string subject, string version, bool includeDeleted)
    {
        var number = ParseVersion(version);
        var versions = State.GetVersions(subject, includeDeleted) ?? throw SchemaRegistryError.SubjectNotFound(subject);
        if (number is null)
        {
            return versions[^1];
        }

        return versions.FirstOrDefault(v => v.Version == number) ?? throw SchemaRegistryError.VersionNotFound(subject, number.Value);
    }

    /// <summary>Soft-deletes (or, with <paramref name="permanent"/>, removes a soft-deleted) version; returns its number.</summary>
    public async Task<int> DeleteVersionAsync(string subject, string version, bool permanent, CancellationToken ct)
    {
        var number = ParseVersion(version);
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await Store.CatchUpAsync(ct).ConfigureAwait(false);
            var all = State.GetVersions(subject, includeDeleted: true) ?? throw SchemaRegistryError.SubjectNotFound(subject);
            var target = number is null
                ? (State.GetVersions(subject, includeDeleted: false) ?? throw SchemaRegistryError.SubjectNotFound(subject))[^1]
                : all.FirstOrDefault(v => v.Version == number) ?? throw SchemaRegistryError.VersionNotFound(subject, number.Value);
            if (permanent)
            {
                if (!target.Deleted)
                {
                    throw SchemaRegistryError.VersionNotSoftDeleted(subject, target.Version);
                }

                await Store.AppendAsync(new SchemaTombstone(subject, target.Version), ct).ConfigureAwait(false);
            }
            else
            {
                if (target.Deleted)
                {
                    throw SchemaRegistryError.VersionSoftDeleted(subject, target.Version);
                }

                await Store.AppendAsync(target with { Deleted = true }, ct).ConfigureAwait(false);
            }

            return target.Version;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Soft-deletes every version of a subject (or, with <paramref name="permanent"/>, removes a soft-deleted subject); returns the versions.</summary>
    public async Task<IReadOnlyList<int>> DeleteSubjectAsync(string subject, bool permanent, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await Store.CatchUpAsync(ct).ConfigureAwait(false);
            var all = State.GetVersions(subject, includeDeleted: true) ?? throw SchemaRegistryError.SubjectNotFound(subject);
            if (permanent)
            {
                if (all.Any(v => !v.Deleted))
                {
                    throw SchemaRegistryError.SubjectNotSoftDeleted(subject);
                }

                foreach (var version in all)
                {
                    await Store.AppendAsync(new SchemaTombstone(subject, version.Version), ct).ConfigureAwait(false);
                }

                if (State.GetLevel(subject) is not null)
                {
                    await Store.AppendAsync(new ConfigRecord(subject, null), ct).ConfigureAwait(false);
                }

                return [.. all.Select(v => v.Version)];
            }

            var live = all.Where(v => !v.Deleted).ToList();
            if (live.Count == 0)
            {
                throw SchemaRegistryError.SubjectSoftDeleted(subject);
            }

            foreach (var version in live)
            {
                await Store.AppendAsync(version with { Deleted = true }, ct).ConfigureAwait(false);
            }

            return [.. live.Select(v => v.Version)];
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Sets the level of a subject (null: the global level); 42203 when it is not a level.</summary>
    public async Task<string> SetLevelAsync(string? subject, string? level, CancellationToken ct)
    {
        var normalized = CompatibilityLevels.Normalize(level) ?? throw SchemaRegistryError.InvalidCompatibility(level);
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            await Store.AppendAsync(new ConfigRecord(subject, normalized), ct).ConfigureAwait(false);
            return normalized;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>Removes a subject's own level (it falls back to the global one); returns the removed level, 40408 when none was set.</summary>
    public async Task<string> DeleteLevelAsync(string subject, CancellationToken ct)
    {
        await _writeGate.WaitAsync(ct).ConfigureAwait(false);
        try
        {
            var previous = State.GetLevel(subject) ?? throw SchemaRegistryError.SubjectCompatibilityNotConfigured(subject);
            await Store.AppendAsync(new ConfigRecord(subject, null), ct).ConfigureAwait(false);
            return previous;
        }
        finally
        {
            _writeGate.Release();
        }
    }

    /// <summary>The level in force for a subject: its own, else the global one.</summary>
    public CompatibilityLevel EffectiveLevel(string subject) => CompatibilityLevelNames.Parse(State.EffectiveLevel(subject));

    /// <summary>Parses a version path segment: null for <c>latest</c>/<c>-1</c>; 42202 otherwise when not a positive number.</summary>
    public static int? ParseVersion(string version) => version switch
    {
        "latest" or "-1" => null,
        _ when int.TryParse(version, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out var v) && v >= 1 => v,
        _ => throw SchemaRegistryError.InvalidVersion(version),
    };

    private (AvroSchemaDocument Document, string Identity) Parse(string schema, string schemaType, IReadOnlyList<SchemaReferenceRecord> references)
    {
        IReadOnlyList<string> referenced;
        try
        {
            referenced = State.ResolveReferences(references);
        }
        catch (InvalidDataException ex)
        {
            throw SchemaRegistryError.InvalidSchema(ex.Message);
        }

        var document = AvroSchemaCanonicalizer.Parse(schema, referenced);
        return (document, RegistryState.IdentityOf(schemaType, document.CanonicalJson, references));
    }

    private CompatibilityTestResult Test(string subject, AvroSchemaDocument candidate, IReadOnlyList<SchemaRecord> previous, CompatibilityLevel level)
    {
        if (level == CompatibilityLevel.None || previous.Count == 0)
        {
            return new CompatibilityTestResult(true, []);
        }

        var documents = previous.Select(p => AvroSchemaCanonicalizer.Parse(p.Schema, State.ResolveReferences(p.References))).ToList();
        var issues = CompatibilityChecker.Check(level, documents, candidate, [.. previous.Select(p => $"'{subject}' version {p.Version}")]);
        return new CompatibilityTestResult(issues.Count == 0, [.. issues.Select(i => i.Message)]);
    }

    private static void ValidateSubject(string subject)
    {
        if (string.IsNullOrWhiteSpace(subject) || subject.Any(char.IsControl))
        {
            throw SchemaRegistryError.BadRequest($"Subject '{subject}' is not a valid subject name.");
        }
    }
}
