namespace Streaming.Producers.MasterData;

/// <summary>Where the committed sample dataset (<c>samples/masterdata</c>) is: copied next to the program at build, else found above the working directory.</summary>
public static class MasterDataSamples
{
    /// <summary>Path of the sample dataset relative to the repository root (and to the program's folder).</summary>
    public const string RelativePath = "samples/masterdata";

    /// <summary>The sample dataset directory; throws naming where it looked when it is nowhere.</summary>
    public static string Directory()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, System.IO.Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                var candidate = Path.Combine(dir.FullName, RelativePath);
                if (System.IO.Directory.Exists(candidate))
                {
                    return candidate;
                }
            }
        }

        throw new DirectoryNotFoundException($"{RelativePath} is neither next to the program ({AppContext.BaseDirectory}) nor above {System.IO.Directory.GetCurrentDirectory()}.");
    }
}
