namespace Streaming.SchemaRegistry;

/// <summary>A Confluent-style error: HTTP status plus <c>error_code</c> and <c>message</c> in the body.</summary>
public sealed class SchemaRegistryError(int errorCode, string message) : Exception(message)
{
    /// <summary>Confluent error code, e.g. 40401 (subject not found) or 42201 (invalid schema).</summary>
    public int ErrorCode { get; } = errorCode;

    /// <summary>HTTP status: the first three digits of the error code (40401 → 404, 42201 → 422); 409 and 400 as they are.</summary>
    public int StatusCode => ErrorCode >= 10000 ? ErrorCode / 100 : ErrorCode;

    internal static SchemaRegistryError SubjectNotFound(string subject) => new(40401, $"Subject '{subject}' not found.");
    internal static SchemaRegistryError VersionNotFound(string subject, int version) => new(40402, $"Version {version} not found for subject '{subject}'.");
    internal static SchemaRegistryError SchemaNotFound(string subject) => new(40403, $"Schema not found in subject '{subject}'.");
    internal static SchemaRegistryError SchemaIdNotFound(int id) => new(40403, $"Schema {id} not found");
    internal static SchemaRegistryError SubjectSoftDeleted(string subject) =>
        new(40404, $"Subject '{subject}' was soft deleted. Set permanent=true to delete permanently");
    internal static SchemaRegistryError SubjectNotSoftDeleted(string subject) =>
        new(40405, $"Subject '{subject}' was not deleted first before being permanently deleted");
    internal static SchemaRegistryError VersionSoftDeleted(string subject, int version) =>
        new(40406, $"Subject '{subject}' Version {version} was soft deleted. Set permanent=true to delete permanently");
    internal static SchemaRegistryError VersionNotSoftDeleted(string subject, int version) =>
        new(40407, $"Subject '{subject}' Version {version} was not deleted first before being permanently deleted");
    internal static SchemaRegistryError SubjectCompatibilityNotConfigured(string subject) =>
        new(40408, $"Subject '{subject}' does not have subject-level compatibility configured");
    internal static SchemaRegistryError Incompatible(string subject, IEnumerable<string> messages) =>
        new(409, $"Schema being registered is incompatible with an earlier schema for subject \"{subject}\", details: [{string.Join("; ", messages)}]");
    internal static SchemaRegistryError InvalidSchema(string detail) => new(42201, $"Invalid schema: {detail}");
    internal static SchemaRegistryError InvalidVersion(string version) =>
        new(42202, $"The specified version '{version}' is not a valid version id. Allowed values are between [1, 2^31-1] and the string \"latest\"");
    internal static SchemaRegistryError InvalidCompatibility(string? level) =>
        new(42203, $"Invalid compatibility level '{level}'. Valid values are: {string.Join(", ", CompatibilityLevels.All)}");
    internal static SchemaRegistryError BadRequest(string detail) => new(400, detail);
    internal static SchemaRegistryError StoreError(string detail) => new(50001, $"Error in the backend data store: {detail}");
}

/// <summary>The compatibility levels Confluent accepts.</summary>
public static class CompatibilityLevels
{
    /// <summary>All valid level names.</summary>
    public static readonly IReadOnlyList<string> All =
        ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"];

    /// <summary>The upper-cased level when valid, otherwise null.</summary>
    public static string? Normalize(string? level)
    {
        var upper = level?.Trim().ToUpperInvariant();
        return upper is not null && All.Contains(upper) ? upper : null;
    }
}
