using System.Text.Json;

namespace Streaming.Contracts.Tests;

/// <summary>
/// schemas/subjects.json declares one value subject per Avro topic of DESIGN.md §2 with a valid Confluent
/// compatibility level, and every schema file is registered. Does not talk to a registry.
/// </summary>
public sealed class SubjectsTests
{
    private static readonly string[] ConfluentLevels =
        ["NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE"];

    private sealed record Entry(string Subject, string Topic, string Schema, string Compatibility);

    private static List<Entry> Entries()
    {
        using var doc = JsonDocument.Parse(File.ReadAllText(Path.Combine(Repo.SchemasDir, "subjects.json")));
        return doc.RootElement.GetProperty("subjects").EnumerateArray()
            .Select(e => new Entry(
                e.GetProperty("subject").GetString()!,
                e.GetProperty("topic").GetString()!,
                e.GetProperty("schema").GetString()!,
                e.GetProperty("compatibility").GetString()!))
            .ToList();
    }

    [Fact]
    public void Every_schema_file_has_exactly_one_subject()
    {
        var declared = Entries().Select(e => "schemas/" + e.Schema).ToList();
        var files = Repo.SchemaFiles.Select(Repo.Relative).ToList();

        Assert.Empty(files.Except(declared, StringComparer.Ordinal));
        Assert.Empty(declared.Except(files, StringComparer.Ordinal));
        Assert.Equal(declared.Count, declared.Distinct(StringComparer.Ordinal).Count());
    }

    [Fact]
    public void Every_avro_topic_has_exactly_one_value_subject()
    {
        var topics = Entries().Select(e => e.Topic).ToList();

        Assert.Equal(Topics.AvroTopics.Order(StringComparer.Ordinal), topics.Order(StringComparer.Ordinal));
        Assert.DoesNotContain(Topics.Schemas, topics);
    }

    [Fact]
    public void Subjects_follow_the_topic_name_strategy()
    {
        Assert.All(Entries(), e => Assert.Equal(Topics.ValueSubject(e.Topic), e.Subject));
    }

    [Fact]
    public void Compatibility_levels_are_valid_confluent_levels()
    {
        Assert.All(Entries(), e => Assert.Contains(e.Compatibility, ConfluentLevels));
    }

    [Fact]
    public void Canonical_finance_topics_are_full_transitive()
    {
        var levels = Entries().ToDictionary(e => e.Topic, e => e.Compatibility, StringComparer.Ordinal);

        Assert.Equal("FULL_TRANSITIVE", levels[Topics.FinanceEvents]);
        Assert.Equal("FULL_TRANSITIVE", levels[Topics.FinanceOrders]);
    }
}
