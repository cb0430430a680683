namespace Streaming.SchemaRegistry;

/// <summary>A schema as the registry holds it: global id, original text, type and the canonical form used for identity.</summary>
/// <param name="Id">Global schema id, shared by every subject that registered the same schema.</param>
/// <param name="Schema">The schema text as first registered.</param>
/// <param name="SchemaType">"AVRO" (the only type this registry accepts today).</param>
/// <param name="CanonicalForm">Identity key: two registrations with the same canonical form get the same id.</param>
public sealed record StoredSchema(int Id, string Schema, string SchemaType, string CanonicalForm);

/// <summary>One version of one subject and the global schema id it points to.</summary>
public sealed record SubjectVersion(string Subject, int Version, int Id);

/// <summary>
/// Storage behind the registry's REST API. Kept narrow and asynchronous so it can be backed by a
/// compacted <c>_schemas</c> topic later; the in-memory implementation is <see cref="InMemorySchemaStore"/>.
/// Implementations must be thread-safe and must make <see cref="RegisterAsync"/> idempotent.
/// </summary>
public interface ISchemaStore
{
    /// <summary>
    /// Registers <paramref name="schema"/> under <paramref name="subject"/>. Returns the existing version when the subject
    /// already holds a schema with the same canonical form; reuses the global id when another subject holds it.
    /// </summary>
    ValueTask<SubjectVersion> RegisterAsync(string subject, string schema, string schemaType, string canonicalForm, CancellationToken cancellationToken = default);

    /// <summary>The version of <paramref name="subject"/> whose schema has this canonical form, or null.</summary>
    ValueTask<SubjectVersion?> LookupAsync(string subject, string schemaType, string canonicalForm, CancellationToken cancellationToken = default);

    /// <summary>The schema with this global id, or null.</summary>
    ValueTask<StoredSchema?> GetSchemaAsync(int id, CancellationToken cancellationToken = default);

    /// <summary>Every (subject, version) pair that points at this global id; empty when none.</summary>
    ValueTask<IReadOnlyList<SubjectVersion>> GetSubjectVersionsForIdAsync(int id, CancellationToken cancellationToken = default);

    /// <summary>All subjects, ordinal-sorted.</summary>
    ValueTask<IReadOnlyList<string>> GetSubjectsAsync(CancellationToken cancellationToken = default);

    /// <summary>The versions of <paramref name="subject"/> in ascending order, or null when the subject is unknown.</summary>
    ValueTask<IReadOnlyList<int>?> GetVersionsAsync(string subject, CancellationToken cancellationToken = default);

    /// <summary>A specific version (or the latest when <paramref name="version"/> is null); null when absent.</summary>
    ValueTask<SubjectVersion?> GetVersionAsync(string subject, int? version, CancellationToken cancellationToken = default);

    /// <summary>The compatibility level for a subject (null subject = global); null when the subject has none of its own.</summary>
    ValueTask<string?> GetCompatibilityAsync(string? subject, CancellationToken cancellationToken = default);

    /// <summary>Stores the compatibility level for a subject (null subject = global). Stored only; not enforced yet.</summary>
    ValueTask SetCompatibilityAsync(string? subject, string level, CancellationToken cancellationToken = default);
}
