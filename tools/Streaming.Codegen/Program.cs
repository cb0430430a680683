using Streaming.Codegen;

// dotnet run --project tools/Streaming.Codegen [--check] [--root <repo root>]
var check = args.Contains("--check");
var rootIndex = Array.IndexOf(args, "--root");
var root = rootIndex >= 0 && rootIndex + 1 < args.Length ? Path.GetFullPath(args[rootIndex + 1]) : RepoRoot.Find();
if (root is null)
{
    await Console.Error.WriteLineAsync("Cannot find the repository root (a folder with Streaming.sln); pass --root <dir>.");
    return 2;
}

var schemasDir = Path.Combine(root, ContractGenerator.SchemasFolder);
var generatedDir = Path.Combine(root, ContractGenerator.GeneratedFolder);

IReadOnlyDictionary<string, string> generated;
try
{
    generated = ContractGenerator.Generate(schemasDir);
}
catch (ContractGenerationException ex)
{
    await Console.Error.WriteLineAsync($"error: {ex.Message}");
    return 2;
}

if (check)
{
    var stale = ContractGenerator.FindStale(generated, generatedDir);
    if (stale.Count == 0)
    {
        Console.WriteLine($"{generated.Count} generated files are up to date.");
        return 0;
    }

    await Console.Error.WriteLineAsync($"{stale.Count} generated file(s) are stale; run: {ContractGenerator.RegenerateCommand}");
    foreach (var path in stale)
    {
        await Console.Error.WriteLineAsync($"  {ContractGenerator.GeneratedFolder}/{path}");
    }

    return 1;
}

var changed = ContractGenerator.Write(generated, generatedDir);
Console.WriteLine($"{generated.Count} types from {ContractGenerator.SchemaFiles(schemasDir).Count} schemas; {changed.Count} file(s) written or deleted.");
foreach (var path in changed)
{
    Console.WriteLine($"  {path}");
}

return 0;
