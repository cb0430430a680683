using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;
using Avro;

namespace Streaming.Codegen;

/// <summary>Generates the C# contract classes in src/Streaming.Contracts/Generated from the Avro schemas in schemas/.</summary>
public static partial class ContractGenerator
{
    /// <summary>Folder (relative to the repository root) that holds the generated classes.</summary>
    public const string GeneratedFolder = "src/Streaming.Contracts/Generated";

    /// <summary>Folder (relative to the repository root) that holds the .avsc files.</summary>
    public const string SchemasFolder = "schemas";

    /// <summary>The command that regenerates the contracts.</summary>
    public const string RegenerateCommand = "dotnet run --project tools/Streaming.Codegen";

    private const string AvroRoot = "streaming";
    private const string CSharpRoot = "Streaming.Contracts";

    // Explicit spellings where simple capitalisation would read badly.
    private static readonly Dictionary<string, string> AreaNames = new(StringComparer.Ordinal)
    {
        ["crm"] = "Crm",
        ["billing"] = "Billing",
        ["masterdata"] = "MasterData",
        ["finance"] = "Finance",
        ["erp"] = "Erp",
        ["ops"] = "Ops",
    };

    /// <summary>
    /// Generates one C# file per named Avro type found in <paramref name="schemasDir"/>.
    /// Keys are paths relative to the Generated folder using '/', ordered ordinally; values are file contents with LF line ends.
    /// A type defined in several schema files (shared enums, SourceRef) must be defined identically in each.
    /// </summary>
    /// <exception cref="ContractGenerationException">A schema does not parse, or a type is defined differently in two files.</exception>
    public static IReadOnlyDictionary<string, string> Generate(string schemasDir)
    {
        ArgumentNullException.ThrowIfNull(schemasDir);
        var types = new SortedDictionary<string, GeneratedType>(StringComparer.Ordinal);

        foreach (var file in SchemaFiles(schemasDir))
        {
            var relativeSchema = SchemasFolder + "/" + Path.GetRelativePath(schemasDir, file).Replace('\\', '/');
            foreach (var (path, body) in GenerateFile(file, relativeSchema))
            {
                if (types.TryGetValue(path, out var existing))
                {
                    if (existing.Body != body)
                    {
                        throw new ContractGenerationException(relativeSchema,
                            $"type {path} is also defined in {existing.Sources[0]} with a different definition; shared types must be identical in every file");
                    }

                    existing.Sources.Add(relativeSchema);
                }
                else
                {
                    types.Add(path, new GeneratedType(body, [relativeSchema]));
                }
            }
        }

        var result = new SortedDictionary<string, string>(StringComparer.Ordinal);
        foreach (var (path, type) in types)
        {
            result.Add(path, Header(type.Sources) + type.Body);
        }

        return result;
    }

    /// <summary>
    /// The schema as it travels and is registered: the file's schema with Avro namespaces mapped to the C# ones
    /// (streaming.billing.Invoice becomes Streaming.Contracts.Billing.Invoice). Apache.Avro's specific reader finds classes by
    /// Avro full name, so the generated classes carry exactly this schema, and the serializer registers it.
    /// </summary>
    /// <exception cref="ContractGenerationException">The schema does not parse.</exception>
    public static Schema ToWireSchema(string schemaText, string schemaFile = "<schema>")
    {
        ArgumentNullException.ThrowIfNull(schemaText);
        try
        {
            var codeGen = new CodeGen();
            codeGen.AddSchema(schemaText, NamespaceMapping(Schema.Parse(schemaText)));
            return codeGen.Schemas[0];
        }
        catch (Exception ex) when (ex is AvroException or ArgumentException or Newtonsoft.Json.JsonException)
        {
            throw new ContractGenerationException(schemaFile, ex.Message, ex);
        }
    }

    /// <summary>All .avsc files under <paramref name="schemasDir"/>, in ordinal order.</summary>
    public static IReadOnlyList<string> SchemaFiles(string schemasDir) =>
        Directory.EnumerateFiles(schemasDir, "*.avsc", SearchOption.AllDirectories)
            .OrderBy(f => f.Replace('\\', '/'), StringComparer.Ordinal)
            .ToList();

    /// <summary>Maps an Avro namespace (streaming.billing) to its C# namespace (Streaming.Contracts.Billing).</summary>
    public static string MapNamespace(string avroNamespace)
    {
        ArgumentNullException.ThrowIfNull(avroNamespace);
        // The .avsc files already use the C# namespaces (Streaming.Contracts.Billing): the schema registered, the schema
        // on the wire and the schema inside each generated class are then one and the same text.
        if (avroNamespace.StartsWith(CSharpRoot + ".", StringComparison.Ordinal))
        {
            return avroNamespace;
        }

        var parts = avroNamespace.Split('.');
        if (parts.Length < 2 || parts[0] != AvroRoot)
        {
            throw new ArgumentException($"Avro namespace '{avroNamespace}' must start with '{AvroRoot}.'", nameof(avroNamespace));
        }

        return CSharpRoot + "." + string.Join('.', parts.Skip(1).Select(Area));
    }

    /// <summary>
    /// Compares generated files with the Generated folder on disk and lists the stale ones
    /// (missing, different, or no longer generated), as paths relative to the Generated folder.
    /// </summary>
    public static IReadOnlyList<string> FindStale(IReadOnlyDictionary<string, string> generated, string generatedDir)
    {
        ArgumentNullException.ThrowIfNull(generated);
        var stale = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var (path, content) in generated)
        {
            var full = Path.Combine(generatedDir, path);
            // A checkout with CRLF line ends is not stale.
            if (!File.Exists(full) || File.ReadAllText(full).Replace("\r\n", "\n", StringComparison.Ordinal) != content)
            {
                stale.Add(path);
            }
        }

        foreach (var path in ExistingFiles(generatedDir))
        {
            if (!generated.ContainsKey(path))
            {
                stale.Add(path);
            }
        }

        return stale.ToList();
    }

    /// <summary>Writes changed files and deletes stale ones; returns the paths written or deleted.</summary>
    public static IReadOnlyList<string> Write(IReadOnlyDictionary<string, string> generated, string generatedDir)
    {
        ArgumentNullException.ThrowIfNull(generated);
        var changed = FindStale(generated, generatedDir);
        foreach (var path in changed)
        {
            var full = Path.Combine(generatedDir, path);
            if (generated.TryGetValue(path, out var content))
            {
                Directory.CreateDirectory(Path.GetDirectoryName(full)!);
                File.WriteAllText(full, content, new UTF8Encoding(encoderShouldEmitUTF8Identifier: false));
            }
            else
            {
                File.Delete(full);
            }
        }

        if (Directory.Exists(generatedDir))
        {
            foreach (var dir in Directory.EnumerateDirectories(generatedDir, "*", SearchOption.AllDirectories)
                         .OrderByDescending(d => d.Length))
            {
                if (!Directory.EnumerateFileSystemEntries(dir).Any())
                {
                    Directory.Delete(dir);
                }
            }
        }

        return changed;
    }

    private static IEnumerable<string> ExistingFiles(string generatedDir) =>
        Directory.Exists(generatedDir)
            ? Directory.EnumerateFiles(generatedDir, "*.cs", SearchOption.AllDirectories)
                .Select(f => Path.GetRelativePath(generatedDir, f).Replace('\\', '/'))
            : [];

    private static IEnumerable<(string Path, string Body)> GenerateFile(string file, string relativeSchema)
    {
        var text = File.ReadAllText(file);
        Schema parsed;
        var codeGen = new CodeGen();
        try
        {
            // Parse once unmapped so we know the Avro namespaces (and report errors against the file as written).
            parsed = Schema.Parse(text);
            codeGen.AddSchema(text, NamespaceMapping(parsed));
            codeGen.GenerateCode();
        }
        catch (Exception ex) when (ex is AvroException or ArgumentException or Newtonsoft.Json.JsonException)
        {
            throw new ContractGenerationException(relativeSchema, ex.Message, ex);
        }

        var namespaceByName = NamedSchemas(parsed)
            .GroupBy(s => s.Name, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.Select(s => s.Namespace).Distinct(StringComparer.Ordinal).ToList(), StringComparer.Ordinal);

        foreach (var (name, code) in codeGen.GetTypes())
        {
            if (!namespaceByName.TryGetValue(name, out var namespaces) || namespaces.Count != 1)
            {
                throw new ContractGenerationException(relativeSchema, $"type name '{name}' is used in more than one namespace; names must be unique per file");
            }

            var folder = MapNamespace(namespaces[0])[(CSharpRoot.Length + 1)..].Replace('.', '/');
            yield return ($"{folder}/{name}.cs", Normalize(code));
        }
    }

    private static List<KeyValuePair<string, string>> NamespaceMapping(Schema parsed) =>
        NamedSchemas(parsed)
            .Select(s => s.Namespace)
            .Distinct(StringComparer.Ordinal)
            .Select(ns => new KeyValuePair<string, string>(ns, MapNamespace(ns)))
            .ToList();

    private static List<NamedSchema> NamedSchemas(Schema root)
    {
        var found = new List<NamedSchema>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        Visit(root);
        return found;

        void Visit(Schema schema)
        {
            switch (schema)
            {
                case RecordSchema record:
                    if (seen.Add(record.Fullname))
                    {
                        found.Add(record);
                        foreach (var field in record.Fields)
                        {
                            Visit(field.Schema);
                        }
                    }

                    break;
                case NamedSchema named:
                    if (seen.Add(named.Fullname))
                    {
                        found.Add(named);
                    }

                    break;
                case ArraySchema array:
                    Visit(array.ItemSchema);
                    break;
                case MapSchema map:
                    Visit(map.ValueSchema);
                    break;
                case UnionSchema union:
                    foreach (var branch in union.Schemas)
                    {
                        Visit(branch);
                    }

                    break;
                case LogicalSchema logical:
                    Visit(logical.BaseSchema);
                    break;
            }
        }
    }

    private static string Area(string segment) =>
        AreaNames.TryGetValue(segment, out var name)
            ? name
            : char.ToUpperInvariant(segment[0]) + segment[1..];

    private static string Header(IEnumerable<string> sources)
    {
        var sb = new StringBuilder();
        sb.Append("// <auto-generated>\n");
        sb.Append("// Generated by tools/Streaming.Codegen from ")
            .Append(string.Join(", ", sources.Order(StringComparer.Ordinal)))
            .Append("; do not edit.\n");
        sb.Append("// Regenerate with: ").Append(RegenerateCommand).Append('\n');
        sb.Append("// </auto-generated>\n");
        sb.Append("#pragma warning disable\n");
        sb.Append("#nullable disable\n");
        return sb.ToString();
    }

    private static string Normalize(string code)
    {
        var text = code.Replace("\r\n", "\n", StringComparison.Ordinal);
        // Avro's own banner carries no information beyond ours; drop it so only one header remains.
        text = AvroBanner().Replace(text, string.Empty, 1);
        // Avro stamps the entry assembly's name into [GeneratedCode]; pin it so the tool and the tests produce identical files.
        text = GeneratedCodeAttribute().Replace(text, $"GeneratedCodeAttribute(\"Streaming.Codegen\", \"Apache.Avro {AvroVersion}\")");
        // CodeDom indents with tabs; the repository uses four spaces.
        var lines = text.Split('\n').Select(line =>
        {
            var tabs = 0;
            while (tabs < line.Length && line[tabs] == '\t')
            {
                tabs++;
            }

            var rest = line[tabs..].TrimEnd();
            return rest.Length == 0 ? string.Empty : new string(' ', tabs * 4) + rest;
        });
        return string.Join('\n', lines).TrimEnd('\n') + "\n";
    }

    private static string AvroVersion =>
        (System.Reflection.CustomAttributeExtensions.GetCustomAttribute<System.Reflection.AssemblyInformationalVersionAttribute>(typeof(Schema).Assembly)?.InformationalVersion ?? "unknown")
            .Split('+')[0];

    [GeneratedRegex(@"GeneratedCodeAttribute\(""[^""]*"", ""[^""]*""\)", RegexOptions.CultureInvariant)]
    private static partial Regex GeneratedCodeAttribute();

    [GeneratedRegex(@"\A// -+\n// <auto-generated>.*?// </auto-generated>\n// -+\n", RegexOptions.Singleline | RegexOptions.CultureInvariant)]
    private static partial Regex AvroBanner();

    private sealed record GeneratedType(string Body, List<string> Sources);
}

/// <summary>A schema file could not be turned into C#; names the file and the cause.</summary>
public sealed class ContractGenerationException : Exception
{
    /// <summary>Creates the exception for a schema file.</summary>
    public ContractGenerationException(string schemaFile, string message, Exception? inner = null)
        : base($"{schemaFile}: {message}", inner)
    {
        SchemaFile = schemaFile;
    }

    /// <summary>The schema file (relative to the repository root) that failed.</summary>
    public string SchemaFile { get; }
}
