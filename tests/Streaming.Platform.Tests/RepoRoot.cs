namespace Streaming.Platform.Tests;

/// <summary>Finds the repository root (the directory holding Streaming.sln) from the test's output folder.</summary>
internal static class RepoRoot
{
    public static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
            {
                return dir.FullName;
            }
        }

        throw new InvalidOperationException($"No Streaming.sln above {AppContext.BaseDirectory}.");
    }
}
