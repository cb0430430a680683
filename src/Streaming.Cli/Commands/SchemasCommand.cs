using System.CommandLine;
using Confluent.SchemaRegistry;
using Streaming.SchemaRegistry;
using Streaming.SchemaRegistry.Evolution;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming schemas</c>: the schema-evolution gate (<c>check</c>, <c>compat</c>), the release step and registration.</summary>
public static class SchemasCommand
{
    /// <summary>Compatible / done.</summary>
    public const int ExitOk = 0;

    /// <summary>At least one incompatibility (or the registry refused).</summary>
    public const int ExitIncompatible = 1;

    /// <summary>An input is not a valid schema, a file is missing, or the level is unknown.</summary>
    public const int ExitBadInput = 2;

    /// <summary>Environment variable read when <c>--registry</c> is not given.</summary>
    public const string RegistryUrlEnvironmentVariable = "SCHEMA_REGISTRY_URL";

    /// <summary>Builds the <c>schemas</c> command.</summary>
    public static Command Create()
    {
        var schemasOption = new Option<DirectoryInfo?>("--schemas")
        {
            Description = "Schemas directory holding subjects.json (default: schemas/ in or above the working directory).",
        };
        var registryOption = new Option<string?>("--registry")
        {
            Description = "Schema registry URL (Confluent REST API).",
        };

        var check = new Command("check", "Check every schema in schemas/ against the released versions of its subject under the subject's level; exit 1 on any incompatibility.")
        {
            schemasOption, registryOption,
        };
        check.SetAction((parseResult, ct) => CheckAsync(
            parseResult.GetValue(schemasOption)?.FullName, parseResult.GetValue(registryOption),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, ct));

        var levelOption = new Option<string>("--level") { Description = "NONE, BACKWARD(_TRANSITIVE), FORWARD(_TRANSITIVE), FULL(_TRANSITIVE).", Required = true };
        var oldOption = new Option<FileInfo[]>("--old") { Description = "Previous version(s), oldest first; repeat the option.", Required = true, AllowMultipleArgumentsPerToken = false };
        var newOption = new Option<FileInfo>("--new") { Description = "The new schema.", Required = true };
        var compat = new Command("compat", "Check one new schema against previous versions: exit 0 compatible, 1 incompatible (reasons on stdout), 2 bad input.")
        {
            levelOption, oldOption, newOption,
        };
        compat.SetAction(parseResult => Compat(
            parseResult.GetValue(levelOption), parseResult.GetValue(oldOption) ?? [], parseResult.GetValue(newOption)!,
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));

        var release = new Command("release", "Append each changed schema as a new released version under schemas/releases/<subject>/ (refuses when any is incompatible).")
        {
            schemasOption,
        };
        release.SetAction(parseResult => Release(parseResult.GetValue(schemasOption)?.FullName,
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error));

        var register = new Command("register", "Register every schema in schemas/ (and its subject's level) into a registry.")
        {
            schemasOption, registryOption,
        };
        register.SetAction((parseResult, ct) => RegisterAsync(
            parseResult.GetValue(schemasOption)?.FullName, parseResult.GetValue(registryOption),
            parseResult.InvocationConfiguration.Output, parseResult.InvocationConfiguration.Error, ct));

        return new Command("schemas", "Avro schemas: compatibility gate, release baseline, registration.") { check, compat, release, register };
    }

    /// <summary><c>schemas check</c>: 0 compatible, 1 incompatible, 2 bad input.</summary>
    public static async Task<int> CheckAsync(string? schemasDir, string? registryUrl, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var catalog = LoadCatalog(schemasDir, error);
        if (catalog is null)
        {
            return ExitBadInput;
        }

        try
        {
            GateReport report;
            if (!string.IsNullOrWhiteSpace(registryUrl))
            {
                using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registryUrl });
                report = await SchemaGate.CheckRegistryAsync(client, catalog, ct).ConfigureAwait(false);
            }
            else
            {
                report = SchemaGate.CheckBaseline(catalog);
            }

            await output.WriteAsync(report.Render()).ConfigureAwait(false);
            return report.IsCompatible ? ExitOk : ExitIncompatible;
        }
        catch (Exception ex) when (ex is InvalidSchemaException or InvalidDataException or ArgumentException)
        {
            await error.WriteLineAsync($"schemas check: {ex.Message}").ConfigureAwait(false);
            return ExitBadInput;
        }
        catch (Exception ex) when (ex is SchemaRegistryException or HttpRequestException)
        {
            await error.WriteLineAsync($"schemas check: registry {registryUrl}: {ex.Message}").ConfigureAwait(false);
            return ExitIncompatible;
        }
    }

    /// <summary><c>schemas compat</c>: 0 compatible, 1 incompatible (reasons on <paramref name="output"/>), 2 bad input.</summary>
    public static int Compat(string? level, IReadOnlyList<FileInfo> oldFiles, FileInfo newFile, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(oldFiles);
        ArgumentNullException.ThrowIfNull(newFile);
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        if (!CompatibilityLevelNames.TryParse(level, out var parsedLevel))
        {
            error.WriteLine($"Unknown compatibility level '{level}'. Valid levels: {string.Join(", ", CompatibilityLevels.All)}.");
            return ExitBadInput;
        }

        var previous = new List<AvroSchemaDocument>();
        foreach (var file in oldFiles)
        {
            var parsed = ReadSchema(file, error);
            if (parsed is null)
            {
                return ExitBadInput;
            }

            previous.Add(parsed);
        }

        var candidate = ReadSchema(newFile, error);
        if (candidate is null)
        {
            return ExitBadInput;
        }

        var issues = CompatibilityChecker.Check(parsedLevel, previous, candidate, [.. oldFiles.Select(f => $"'{f.Name}'")]);
        foreach (var issue in issues)
        {
            output.WriteLine(issue.Message);
        }

        output.WriteLine(issues.Count == 0
            ? $"compatible ({parsedLevel.ToName()}, {oldFiles.Count} previous version(s))"
            : $"incompatible ({parsedLevel.ToName()}): {issues.Count} problem(s)");
        return issues.Count == 0 ? ExitOk : ExitIncompatible;
    }

    /// <summary><c>schemas release</c>: 0 released (or nothing to release), 1 refused (incompatible), 2 bad input.</summary>
    public static int Release(string? schemasDir, TextWriter output, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var catalog = LoadCatalog(schemasDir, error);
        if (catalog is null)
        {
            return ExitBadInput;
        }

        try
        {
            var released = SchemaGate.Release(catalog);
            foreach (var (subject, version) in released)
            {
                output.WriteLine($"released {subject} v{version} -> {Path.Combine(SchemaGate.ReleasesFolder, subject, $"v{version}.json")}");
            }

            output.WriteLine(released.Count == 0 ? "schemas release: baseline already current" : $"schemas release: {released.Count} subject(s) released");
            return ExitOk;
        }
        catch (InvalidOperationException ex)
        {
            error.WriteLine(ex.Message);
            return ExitIncompatible;
        }
        catch (Exception ex) when (ex is InvalidSchemaException or InvalidDataException or ArgumentException)
        {
            error.WriteLine($"schemas release: {ex.Message}");
            return ExitBadInput;
        }
    }

    /// <summary><c>schemas register</c>: 0 registered, 1 the registry refused or failed, 2 bad input.</summary>
    public static async Task<int> RegisterAsync(string? schemasDir, string? registryUrl, TextWriter output, TextWriter error, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        var url = string.IsNullOrWhiteSpace(registryUrl) ? Environment.GetEnvironmentVariable(RegistryUrlEnvironmentVariable) : registryUrl;
        if (string.IsNullOrWhiteSpace(url))
        {
            await error.WriteLineAsync($"No registry: pass --registry URL or set {RegistryUrlEnvironmentVariable}.").ConfigureAwait(false);
            return ExitBadInput;
        }

        var catalog = LoadCatalog(schemasDir, error);
        if (catalog is null)
        {
            return ExitBadInput;
        }

        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = url });
        try
        {
            var registered = await SchemaCatalog.RegisterAllAsync(client, catalog, ct).ConfigureAwait(false);
            foreach (var r in registered)
            {
                await output.WriteLineAsync($"{r.Subject} version {r.Version} id {r.Id}").ConfigureAwait(false);
            }

            await output.WriteLineAsync($"schemas register: {registered.Count} subjects registered at {url}").ConfigureAwait(false);
            return ExitOk;
        }
        catch (InvalidDataException ex)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitIncompatible;
        }
        catch (HttpRequestException ex)
        {
            await error.WriteLineAsync($"schemas register: registry {url}: {ex.Message}").ConfigureAwait(false);
            return ExitIncompatible;
        }
    }

    /// <summary>schemas/ in or above the working directory, else the copy next to the program.</summary>
    public static string? FindSchemasDirectory()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, "schemas");
                if (File.Exists(Path.Combine(candidate, SchemaCatalog.ManifestFileName)))
                {
                    return candidate;
                }
            }
        }

        return null;
    }

    private static SchemaCatalog? LoadCatalog(string? schemasDir, TextWriter error)
    {
        var dir = schemasDir ?? FindSchemasDirectory();
        if (dir is null)
        {
            error.WriteLine("Cannot find schemas/subjects.json in or above the working directory; pass --schemas DIR.");
            return null;
        }

        try
        {
            return SchemaCatalog.Load(dir);
        }
        catch (Exception ex) when (ex is FileNotFoundException or InvalidDataException)
        {
            error.WriteLine(ex.Message);
            return null;
        }
    }

    private static AvroSchemaDocument? ReadSchema(FileInfo file, TextWriter error)
    {
        if (!file.Exists)
        {
            error.WriteLine($"Schema file '{file.FullName}' does not exist.");
            return null;
        }

        try
        {
            return AvroSchemaDocument.Parse(File.ReadAllText(file.FullName));
        }
        catch (InvalidSchemaException ex)
        {
            error.WriteLine($"'{file.FullName}' is not a valid Avro schema: {ex.Message}");
            return null;
        }
    }
}
