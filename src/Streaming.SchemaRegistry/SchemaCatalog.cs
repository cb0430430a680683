using System.Text.Json;
using Confluent.SchemaRegistry;

namespace Streaming.SchemaRegistry;

/// <summary>One subject from <c>schemas/subjects.json</c>, with its schema text already read.</summary>
/// <param name="Subject">Registry subject, e.g. <c>billing.invoices.v1-value</c>.</param>
/// <param name="Topic">Topic the subject belongs to, when the manifest names one.</param>
/// <param name="File">Schema file path relative to the schemas directory, as written in the manifest.</param>
/// <param name="FullPath">Absolute path of the schema file.</param>
/// <param name="Compatibility">Compatibility level to set for the subject (upper-cased), or null to leave the registry default.</param>
/// <param name="SchemaText">Contents of the schema file.</param>
public sealed record CatalogEntry(string Subject, string? Topic, string File, string FullPath, string? Compatibility, string SchemaText);

/// <summary>The subjects manifest (<c>schemas/subjects.json</c>) and the schema files it names.</summary>
/// <remarks>
/// Assumed manifest shape (property names matched case-insensitively; unknown properties ignored):
/// <code>
/// {
///   "subjects": [
///     { "subject": "billing.invoices.v1-value",   // required
///       "topic": "billing.invoices.v1",            // optional
///       "file": "billing/invoice.avsc",            // required; relative to the schemas directory ("path"/"schema" accepted as aliases)
///       "compatibility": "BACKWARD" }              // optional; NONE, BACKWARD, FORWARD, FULL (+ _TRANSITIVE)
///   ]
/// }
/// </code>
/// A bare top-level array of the same entries is accepted too. Comments and trailing commas are allowed.
/// </remarks>
public sealed class SchemaCatalog
{
    /// <summary>Manifest file name inside the schemas directory.</summary>
    public const string ManifestFileName = "subjects.json";

    private static readonly JsonDocumentOptions JsonOptions = new() { CommentHandling = JsonCommentHandling.Skip, AllowTrailingCommas = true };

    private SchemaCatalog(string schemasDirectory, IReadOnlyList<CatalogEntry> entries)
    {
        SchemasDirectory = schemasDirectory;
        Entries = entries;
    }

    /// <summary>Absolute path of the schemas directory.</summary>
    public string SchemasDirectory { get; }

    /// <summary>The manifest's subjects, in manifest order.</summary>
    public IReadOnlyList<CatalogEntry> Entries { get; }

    /// <summary>Reads <c>subjects.json</c> from <paramref name="schemasDir"/> and the schema file of every entry.</summary>
    /// <exception cref="FileNotFoundException">The manifest or a schema file it names is missing.</exception>
    /// <exception cref="InvalidDataException">The manifest is malformed; the message names the entry and property.</exception>
    public static SchemaCatalog Load(string schemasDir)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(schemasDir);
        var root = Path.GetFullPath(schemasDir);
        var manifestPath = Path.Combine(root, ManifestFileName);
        if (!System.IO.File.Exists(manifestPath))
        {
            throw new FileNotFoundException($"Schema manifest '{manifestPath}' not found.", manifestPath);
        }

        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(System.IO.File.ReadAllText(manifestPath), JsonOptions);
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"Schema manifest '{manifestPath}' is not valid JSON: {ex.Message}", ex);
        }

        using (document)
        {
            var list = document.RootElement.ValueKind switch
            {
                JsonValueKind.Array => document.RootElement,
                JsonValueKind.Object when TryGet(document.RootElement, "subjects", out var s) && s.ValueKind == JsonValueKind.Array => s,
                _ => throw new InvalidDataException($"Schema manifest '{manifestPath}' must be an object with a \"subjects\" array (or a bare array)."),
            };

            var entries = new List<CatalogEntry>();
            var seen = new HashSet<string>(StringComparer.Ordinal);
            var index = 0;
            foreach (var item in list.EnumerateArray())
            {
                var where = $"Schema manifest '{manifestPath}' subjects[{index}]";
                if (item.ValueKind != JsonValueKind.Object)
                {
                    throw new InvalidDataException($"{where} must be an object.");
                }

                var subject = RequiredString(item, where, "subject");
                if (!seen.Add(subject))
                {
                    throw new InvalidDataException($"{where}: subject '{subject}' appears more than once.");
                }

                var file = OptionalString(item, "file") ?? OptionalString(item, "path") ?? OptionalString(item, "schema")
                    ?? throw new InvalidDataException($"{where} ('{subject}') has no \"file\".");
                var rawCompatibility = OptionalString(item, "compatibility") ?? OptionalString(item, "compatibilityLevel");
                var compatibility = rawCompatibility is null
                    ? null
                    : CompatibilityLevels.Normalize(rawCompatibility)
                        ?? throw new InvalidDataException($"{where} ('{subject}') \"compatibility\": '{rawCompatibility}' is not one of {string.Join(", ", CompatibilityLevels.All)}.");
                var fullPath = Path.GetFullPath(Path.Combine(root, file));
                if (!System.IO.File.Exists(fullPath))
                {
                    throw new FileNotFoundException($"{where} ('{subject}') names schema file '{file}', which does not exist at '{fullPath}'.", fullPath);
                }

                entries.Add(new CatalogEntry(subject, OptionalString(item, "topic"), file, fullPath, compatibility, System.IO.File.ReadAllText(fullPath)));
                index++;
            }

            return new SchemaCatalog(root, entries);
        }
    }

    /// <summary>
    /// Sets each subject's compatibility level when the manifest gives one, then registers its schema (idempotent:
    /// re-running returns the same ids; a registry that enforces levels rejects an incompatible schema with 409). Each schema is parsed locally first so an invalid file
    /// fails with its path in the message instead of as a bare registry error.
    /// </summary>
    /// <returns>What the registry holds for each entry (subject, version, id, schema), in manifest order.</returns>
    /// <exception cref="InvalidDataException">A schema file is not valid Avro or the registry rejected it; the message names the file.</exception>
    public static async Task<IReadOnlyList<RegisteredSchema>> RegisterAllAsync(ISchemaRegistryClient client, SchemaCatalog catalog, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(catalog);

        // Validate everything before registering anything, so a bad file does not leave a half-registered catalog.
        foreach (var entry in catalog.Entries)
        {
            try
            {
                _ = AvroSchemaCanonicalizer.Canonicalize(entry.SchemaText);
            }
            catch (SchemaRegistryError ex)
            {
                throw new InvalidDataException($"Schema file '{entry.FullPath}' (subject '{entry.Subject}') is not a valid Avro schema: {ex.Message}", ex);
            }
        }

        var results = new List<RegisteredSchema>(catalog.Entries.Count);
        foreach (var entry in catalog.Entries)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var schema = new Schema(entry.SchemaText, SchemaType.Avro);
            try
            {
                // The declared level first, so the registry judges the registration under it.
                if (entry.Compatibility is not null)
                {
                    await client.UpdateCompatibilityAsync(Enum.Parse<Compatibility>(entry.Compatibility.Replace("_", "", StringComparison.Ordinal), ignoreCase: true), entry.Subject)
                        .ConfigureAwait(false);
                }

                await client.RegisterSchemaAsync(entry.Subject, schema).ConfigureAwait(false);

                results.Add(await client.LookupSchemaAsync(entry.Subject, schema, ignoreDeletedSchemas: true).ConfigureAwait(false));
            }
            catch (SchemaRegistryException ex)
            {
                throw new InvalidDataException(
                    $"Registering schema file '{entry.FullPath}' as subject '{entry.Subject}' failed: {ex.ErrorCode} {ex.Message}", ex);
            }
        }

        return results;
    }

    private static bool TryGet(JsonElement element, string name, out JsonElement value)
    {
        foreach (var property in element.EnumerateObject())
        {
            if (string.Equals(property.Name, name, StringComparison.OrdinalIgnoreCase))
            {
                value = property.Value;
                return true;
            }
        }

        value = default;
        return false;
    }

    private static string? OptionalString(JsonElement element, string name) =>
        TryGet(element, name, out var value) && value.ValueKind == JsonValueKind.String && !string.IsNullOrWhiteSpace(value.GetString())
            ? value.GetString()
            : null;

    private static string RequiredString(JsonElement element, string where, string name) =>
        OptionalString(element, name) ?? throw new InvalidDataException($"{where} has no \"{name}\" string.");
}
