using Streaming.Producers.Edge;

namespace Streaming.Producers.Tests;

/// <summary>The duplicate filter's memory: bounded, oldest forgotten first.</summary>
public sealed class SeenSetTests
{
    [Fact]
    public void It_remembers_up_to_its_capacity_and_forgets_the_oldest_first()
    {
        var seen = new SeenSet(3);
        Assert.True(seen.Add("evt_1|t|k"));
        Assert.False(seen.Add("evt_1|t|k"));
        seen.Add("evt_2|t|k");
        seen.Add("evt_3|t|k");
        seen.Add("evt_4|t|k");
        Assert.Equal(3, seen.Count);
        Assert.False(seen.Contains("evt_1|t|k"));
        Assert.True(seen.Contains("evt_2|t|k"));
        Assert.True(seen.Contains("evt_4|t|k"));
        Assert.False(seen.Contains("evt_4|t|k2"));
    }
}
