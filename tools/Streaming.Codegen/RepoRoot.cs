namespace Streaming.Codegen;

/// <summary>Finds the repository root by walking up to the folder that holds Streaming.sln.</summary>
public static class RepoRoot
{
    /// <summary>The repository root above the current directory or, failing that, above the running assembly; null when neither has one.</summary>
    public static string? Find() =>
        FindFrom(Directory.GetCurrentDirectory()) ?? FindFrom(AppContext.BaseDirectory);

    /// <summary>The nearest folder at or above <paramref name="start"/> that contains Streaming.sln.</summary>
    public static string? FindFrom(string start)
    {
        for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
            {
                return dir.FullName;
            }
        }

        return null;
    }
}
