using Streaming.SchemaRegistry.Evolution;

namespace Streaming.SchemaRegistry.Tests.Evolution;

/// <summary>
/// <see cref="CompatibilityChecker"/>: Confluent's levels over a subject's history, including sequences where only the
/// transitive level fails. Reader/writer rules themselves are in <see cref="AvroResolutionConformanceTests"/>.
/// </summary>
public sealed class CompatibilityLevelTests
{
    private static AvroSchemaDocument V(string fields) =>
        AvroSchemaDocument.Parse($$"""{"type":"record","name":"Order","fields":[{{fields}}]}""");

    private const string A = """{"name":"a","type":"string"}""";
    private const string BDefault = """{"name":"b","type":"int","default":0}""";
    private const string BRequired = """{"name":"b","type":"int"}""";

    private static IReadOnlyList<Incompatibility> Check(string level, AvroSchemaDocument candidate, params AvroSchemaDocument[] previous) =>
        CompatibilityChecker.Check(CompatibilityLevelNames.Parse(level), previous, candidate);

    [Theory]
    [InlineData("BACKWARD", true)]
    [InlineData("FORWARD", true)]
    [InlineData("FULL", true)]
    [InlineData("NONE", true)]
    public void Adding_a_field_with_a_default_is_compatible_at_every_level(string level, bool compatible) =>
        Assert.Equal(compatible, Check(level, V($"{A},{BDefault}"), V(A)).Count == 0);

    [Theory]
    [InlineData("BACKWARD", false)]
    [InlineData("FORWARD", true)]
    [InlineData("FULL", false)]
    [InlineData("NONE", true)]
    public void Adding_a_field_without_a_default_breaks_backward_only(string level, bool compatible) =>
        Assert.Equal(compatible, Check(level, V($"{A},{BRequired}"), V(A)).Count == 0);

    [Theory]
    [InlineData("BACKWARD", true)]
    [InlineData("FORWARD", false)]
    [InlineData("FULL", false)]
    public void Removing_a_field_without_a_default_breaks_forward(string level, bool compatible) =>
        Assert.Equal(compatible, Check(level, V(A), V($"{A},{BRequired}")).Count == 0);

    [Theory]
    [InlineData("FORWARD")]
    [InlineData("FULL")]
    [InlineData("FULL_TRANSITIVE")]
    public void Removing_a_field_that_had_a_default_is_fully_compatible(string level) =>
        Assert.Empty(Check(level, V(A), V($"{A},{BDefault}")));

    [Fact]
    public void Backward_passes_but_backward_transitive_fails_when_only_an_older_version_breaks()
    {
        // v1 {a}; v2 {a, b default 0}; v3 {a, b required}: v3 reads v2 data (b present) but not v1 data (no b).
        AvroSchemaDocument[] history = [V(A), V($"{A},{BDefault}")];
        var v3 = V($"{A},{BRequired}");

        Assert.Empty(Check("BACKWARD", v3, history));
        var issue = Assert.Single(Check("BACKWARD_TRANSITIVE", v3, history));
        Assert.Equal((CompatibilityDirection.Backward, 0, "Order.b"), (issue.Direction, issue.PreviousIndex, issue.Path));
        Assert.Contains("version 1", issue.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Forward_passes_but_forward_transitive_fails_when_only_an_older_reader_breaks()
    {
        // v1 {a, b required}; v2 {a, b default}; v3 {a}: v2 reads v3 data using its default, v1 cannot.
        AvroSchemaDocument[] history = [V($"{A},{BRequired}"), V($"{A},{BDefault}")];
        var v3 = V(A);

        Assert.Empty(Check("FORWARD", v3, history));
        var issue = Assert.Single(Check("FORWARD_TRANSITIVE", v3, history));
        Assert.Equal((CompatibilityDirection.Forward, 0, "Order.b"), (issue.Direction, issue.PreviousIndex, issue.Path));
    }

    [Fact]
    public void Full_passes_but_full_transitive_fails_when_only_an_older_version_breaks()
    {
        AvroSchemaDocument[] history = [V(A), V($"{A},{BDefault}")];
        var v3 = V($"{A},{BRequired}");

        Assert.Empty(Check("FULL", v3, history));
        Assert.Equal([CompatibilityDirection.Backward], Check("FULL_TRANSITIVE", v3, history).Select(i => i.Direction));
    }

    [Fact]
    public void Transitive_enum_history_fails_only_transitively()
    {
        // v1 has symbol X, v2 dropped it with a default, v3 dropped the default: v3 reads v2 data, not v1's X.
        var v1 = AvroSchemaDocument.Parse("""{"type":"enum","name":"S","symbols":["A","X"]}""");
        var v2 = AvroSchemaDocument.Parse("""{"type":"enum","name":"S","symbols":["A"],"default":"A"}""");
        var v3 = AvroSchemaDocument.Parse("""{"type":"enum","name":"S","symbols":["A"]}""");

        Assert.Empty(Check("BACKWARD", v3, v1, v2));
        Assert.Contains("X", Assert.Single(Check("BACKWARD_TRANSITIVE", v3, v1, v2)).Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Full_lists_both_directions()
    {
        var before = AvroSchemaDocument.Parse("""{"type":"record","name":"P","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":18,"scale":4}}]}""");
        var after = AvroSchemaDocument.Parse("""{"type":"record","name":"P","fields":[{"name":"amount","type":{"type":"bytes","logicalType":"decimal","precision":18,"scale":2}}]}""");

        var issues = Check("FULL", after, before);

        Assert.Equal([CompatibilityDirection.Backward, CompatibilityDirection.Forward], issues.Select(i => i.Direction));
        Assert.All(issues, i => Assert.Equal("P.amount", i.Path));
    }

    [Fact]
    public void None_accepts_anything_and_an_empty_history_is_compatible()
    {
        Assert.Empty(Check("NONE", AvroSchemaDocument.Parse("\"string\""), V(A)));
        Assert.Empty(Check("FULL_TRANSITIVE", V($"{A},{BRequired}")));
    }

    [Theory]
    [InlineData("backward", CompatibilityLevel.Backward)]
    [InlineData("FULL_TRANSITIVE", CompatibilityLevel.FullTransitive)]
    [InlineData(" forward_transitive ", CompatibilityLevel.ForwardTransitive)]
    public void Level_names_parse_case_insensitively(string text, CompatibilityLevel expected) =>
        Assert.Equal(expected, CompatibilityLevelNames.Parse(text));

    [Fact]
    public void An_unknown_level_is_rejected_naming_it_and_the_valid_ones()
    {
        var error = Assert.Throws<ArgumentException>(() => CompatibilityLevelNames.Parse("SIDEWAYS"));

        Assert.Contains("SIDEWAYS", error.Message, StringComparison.Ordinal);
        Assert.Contains("FULL_TRANSITIVE", error.Message, StringComparison.Ordinal);
    }
}
