using Streaming.Producers.MasterData;

namespace Streaming.Producers.Tests.MasterData;

/// <summary>A temporary copy of the committed sample dataset that a test may edit; deleted on dispose.</summary>
internal sealed class SampleDirectory : IDisposable
{
    public SampleDirectory(bool copySample = true)
    {
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), "md-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(Path);
        if (copySample)
        {
            foreach (var file in Directory.GetFiles(MasterDataSamples.Directory()))
            {
                System.IO.File.Copy(file, System.IO.Path.Combine(Path, System.IO.Path.GetFileName(file)));
            }
        }
    }

    public string Path { get; }

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public void Write(string name, string text) => System.IO.File.WriteAllText(File(name), text.ReplaceLineEndings("\n"));

    public void Delete(string name) => System.IO.File.Delete(File(name));

    /// <summary>Replaces the first occurrence of <paramref name="from"/> in <paramref name="name"/>; fails if absent, so a test never edits nothing.</summary>
    public void Edit(string name, string from, string to)
    {
        var text = System.IO.File.ReadAllText(File(name));
        var at = text.IndexOf(from, StringComparison.Ordinal);
        Assert.True(at >= 0, $"'{from}' is not in {name}");
        System.IO.File.WriteAllText(File(name), text[..at] + to + text[(at + from.Length)..]);
    }

    public void Dispose() => Directory.Delete(Path, recursive: true);
}
