using Streaming.Codegen;

namespace Streaming.Contracts.Tests;

/// <summary>Paths of the repository the tests run in.</summary>
internal static class Repo
{
    public static string Root { get; } = RepoRoot.FindFrom(AppContext.BaseDirectory)
        ?? throw new InvalidOperationException("Streaming.sln not found above " + AppContext.BaseDirectory);

    public static string SchemasDir => Path.Combine(Root, ContractGenerator.SchemasFolder);

    public static string GeneratedDir => Path.Combine(Root, ContractGenerator.GeneratedFolder);

    public static IReadOnlyList<string> SchemaFiles => ContractGenerator.SchemaFiles(SchemasDir);

    public static string Relative(string path) => Path.GetRelativePath(Root, path).Replace('\\', '/');
}
