using System.Globalization;
using System.Text.RegularExpressions;
using Confluent.SchemaRegistry;

namespace Streaming.SchemaRegistry.Evolution;

/// <summary>One subject's result in a gate run.</summary>
/// <param name="Subject">Registry subject.</param>
/// <param name="File">Schema file, relative to the schemas directory.</param>
/// <param name="Level">Level checked under (the subject's declared level, BACKWARD when it declares none).</param>
/// <param name="PreviousVersions">How many released versions exist for the subject (0 = new subject, nothing to compare).</param>
/// <param name="Incompatibilities">Every incompatibility found; empty when compatible.</param>
public sealed record SubjectGateResult(string Subject, string File, CompatibilityLevel Level, int PreviousVersions, IReadOnlyList<Incompatibility> Incompatibilities)
{
    /// <summary>True when the schema may be released.</summary>
    public bool IsCompatible => Incompatibilities.Count == 0;
}

/// <summary>The result of checking every schema of a catalog.</summary>
public sealed record GateReport(IReadOnlyList<SubjectGateResult> Subjects)
{
    /// <summary>True when every subject is compatible.</summary>
    public bool IsCompatible => Subjects.All(s => s.IsCompatible);

    /// <summary>One line per incompatibility (<c>subject (file): path: reason (...)</c>) then a summary line.</summary>
    public string Render()
    {
        var lines = new List<string>();
        foreach (var subject in Subjects)
        {
            lines.AddRange(subject.Incompatibilities.Select(i => $"{subject.Subject} ({subject.File}, {subject.Level.ToName()}): {i.Message}"));
        }

        var failing = Subjects.Count(s => !s.IsCompatible);
        lines.Add(failing == 0
            ? $"schemas check: {Subjects.Count} subjects compatible ({Subjects.Count(s => s.PreviousVersions == 0)} without released versions)"
            : $"schemas check: {failing} of {Subjects.Count} subjects incompatible, {Subjects.Sum(s => s.Incompatibilities.Count)} incompatibilities");
        return string.Join(Environment.NewLine, lines) + Environment.NewLine;
    }
}

/// <summary>
/// The schema-evolution gate: compares each schema of <c>schemas/</c> with the released versions of its subject, under
/// the subject's declared level. Released versions live in <c>schemas/releases/&lt;subject&gt;/v&lt;N&gt;.json</c> (the baseline,
/// committed to the repository) or in a live registry.
/// </summary>
public static partial class SchemaGate
{
    /// <summary>Folder inside the schemas directory that holds the released versions.</summary>
    public const string ReleasesFolder = "releases";

    /// <summary>Level used when a subject declares none (the registry default).</summary>
    public const CompatibilityLevel DefaultLevel = CompatibilityLevel.Backward;

    [GeneratedRegex(@"^v(?<n>[1-9][0-9]{0,8})\.json$", RegexOptions.CultureInvariant)]
    private static partial Regex VersionFile();

    /// <summary>The released versions of <paramref name="subject"/> (oldest first) as (version, path).</summary>
    public static IReadOnlyList<(int Version, string Path)> ReleasedVersions(SchemaCatalog catalog, string subject)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var dir = Path.Combine(catalog.SchemasDirectory, ReleasesFolder, subject);
        if (!Directory.Exists(dir))
        {
            return [];
        }

        var versions = Directory.EnumerateFiles(dir, "*.json")
            .Select(f => (File: f, Match: VersionFile().Match(Path.GetFileName(f))))
            .Where(x => x.Match.Success)
            .Select(x => (Version: int.Parse(x.Match.Groups["n"].Value, CultureInfo.InvariantCulture), Path: x.File))
            .OrderBy(x => x.Version)
            .ToList();
        for (var i = 0; i < versions.Count; i++)
        {
            if (versions[i].Version != i + 1)
            {
                throw new InvalidDataException($"Released versions of '{subject}' in '{dir}' are not v1..vN without gaps: found v{versions[i].Version} where v{i + 1} was expected.");
            }
        }

        return versions;
    }

    /// <summary>Checks every catalog schema against its released versions in the repository baseline.</summary>
    /// <exception cref="InvalidSchemaException">A current or released schema is not valid Avro; the message names the file.</exception>
    public static GateReport CheckBaseline(SchemaCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var results = new List<SubjectGateResult>();
        foreach (var entry in catalog.Entries)
        {
            var released = ReleasedVersions(catalog, entry.Subject)
                .Select(v => ParseFile(v.Path, File.ReadAllText(v.Path)))
                .ToList();
            results.Add(CheckOne(entry, released, null));
        }

        return new GateReport(results);
    }

    /// <summary>
    /// Checks every catalog schema against the versions its subject holds in a live registry (any registry speaking
    /// Confluent's REST API). A subject the registry does not know is new: nothing to compare.
    /// </summary>
    public static async Task<GateReport> CheckRegistryAsync(ISchemaRegistryClient client, SchemaCatalog catalog, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(client);
        ArgumentNullException.ThrowIfNull(catalog);
        var results = new List<SubjectGateResult>();
        foreach (var entry in catalog.Entries)
        {
            ct.ThrowIfCancellationRequested();
            List<int> versions;
            try
            {
                versions = await client.GetSubjectVersionsAsync(entry.Subject).ConfigureAwait(false);
            }
            catch (SchemaRegistryException ex) when (ex.ErrorCode == 40401)
            {
                versions = [];
            }

            var released = new List<AvroSchemaDocument>();
            var labels = new List<string>();
            foreach (var version in versions.Order())
            {
                var registered = await client.GetRegisteredSchemaAsync(entry.Subject, version, ignoreDeletedSchemas: true).ConfigureAwait(false);
                var references = await ResolveReferencesAsync(client, registered.References, ct).ConfigureAwait(false);
                released.Add(ParseFile($"{entry.Subject} version {version} in the registry", registered.SchemaString, references));
                labels.Add($"registry version {version}");
            }

            results.Add(CheckOne(entry, released, labels));
        }

        return new GateReport(results);
    }

    /// <summary>
    /// The release step: appends each catalog schema that differs from its subject's latest released version as a new
    /// version (<c>v&lt;N+1&gt;.json</c>). Refuses (and writes nothing) when any schema is incompatible.
    /// </summary>
    /// <returns>(subject, new version) for each schema released; empty when the baseline was already current.</returns>
    public static IReadOnlyList<(string Subject, int Version)> Release(SchemaCatalog catalog)
    {
        ArgumentNullException.ThrowIfNull(catalog);
        var report = CheckBaseline(catalog);
        if (!report.IsCompatible)
        {
            throw new InvalidOperationException("Not releasing: some schemas are incompatible with their released versions." + Environment.NewLine + report.Render());
        }

        var released = new List<(string, int)>();
        foreach (var entry in catalog.Entries)
        {
            var versions = ReleasedVersions(catalog, entry.Subject);
            var current = ParseFile(entry.FullPath, entry.SchemaText).CanonicalJson;
            if (versions.Count > 0 && ParseFile(versions[^1].Path, File.ReadAllText(versions[^1].Path)).CanonicalJson == current)
            {
                continue;
            }

            var dir = Directory.CreateDirectory(Path.Combine(catalog.SchemasDirectory, ReleasesFolder, entry.Subject));
            var next = versions.Count + 1;
            File.WriteAllText(Path.Combine(dir.FullName, $"v{next}.json"), entry.SchemaText);
            released.Add((entry.Subject, next));
        }

        return released;
    }

    private static SubjectGateResult CheckOne(CatalogEntry entry, IReadOnlyList<AvroSchemaDocument> released, IReadOnlyList<string>? labels)
    {
        var level = entry.Compatibility is null ? DefaultLevel : CompatibilityLevelNames.Parse(entry.Compatibility);
        var candidate = ParseFile(entry.FullPath, entry.SchemaText);
        var labelList = labels ?? [.. released.Select((_, i) => $"released v{i + 1}")];
        return new SubjectGateResult(entry.Subject, entry.File, level, released.Count, CompatibilityChecker.Check(level, released, candidate, labelList));
    }

    private static AvroSchemaDocument ParseFile(string where, string text, IReadOnlyList<string>? references = null)
    {
        try
        {
            return AvroSchemaDocument.Parse(text, references);
        }
        catch (InvalidSchemaException ex)
        {
            throw new InvalidSchemaException($"'{where}' is not a valid Avro schema: {ex.Message}");
        }
    }

    private static async Task<IReadOnlyList<string>> ResolveReferencesAsync(ISchemaRegistryClient client, IReadOnlyList<SchemaReference>? references, CancellationToken ct)
    {
        var texts = new List<string>();
        foreach (var reference in references ?? [])
        {
            ct.ThrowIfCancellationRequested();
            var registered = await client.GetRegisteredSchemaAsync(reference.Subject, reference.Version, ignoreDeletedSchemas: true).ConfigureAwait(false);
            texts.AddRange(await ResolveReferencesAsync(client, registered.References, ct).ConfigureAwait(false));
            texts.Add(registered.SchemaString);
        }

        return texts;
    }
}
