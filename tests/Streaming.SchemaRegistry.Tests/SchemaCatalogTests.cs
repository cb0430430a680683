using Confluent.SchemaRegistry;
using static Streaming.SchemaRegistry.Tests.RegistryTestSupport;

namespace Streaming.SchemaRegistry.Tests;

/// <summary>
/// <see cref="SchemaCatalog"/>: reading a subjects manifest and registering every schema with its compatibility level.
/// Uses the test project's own fixtures, not the repository's <c>schemas/</c>.
/// </summary>
public sealed class SchemaCatalogTests
{
    [Fact]
    public void Load_reads_every_subject_with_its_topic_file_and_level()
    {
        var catalog = SchemaCatalog.Load(FixturePath("schemas"));

        Assert.Equal(["tests.invoices.v1-value", "tests.payments.v1-value"], catalog.Entries.Select(e => e.Subject));
        var invoice = catalog.Entries[0];
        Assert.Equal(("tests.invoices.v1", "billing/invoice.avsc", "BACKWARD"), (invoice.Topic, invoice.File, invoice.Compatibility));
        Assert.Contains("\"Invoice\"", invoice.SchemaText, StringComparison.Ordinal);
        Assert.Equal("FULL_TRANSITIVE", catalog.Entries[1].Compatibility);
    }

    [Fact]
    public async Task Register_all_registers_each_subject_and_sets_its_level_idempotently()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        var catalog = SchemaCatalog.Load(FixturePath("schemas"));

        var first = await SchemaCatalog.RegisterAllAsync(client, catalog, Ct);
        var again = await SchemaCatalog.RegisterAllAsync(client, catalog, Ct);

        Assert.Equal([("tests.invoices.v1-value", 1, 1), ("tests.payments.v1-value", 1, 2)], first.Select(r => (r.Subject, r.Version, r.Id)));
        Assert.Equal(first.Select(r => r.Id), again.Select(r => r.Id));
        Assert.Equal(Compatibility.Backward, await client.GetCompatibilityAsync("tests.invoices.v1-value"));
        Assert.Equal(Compatibility.FullTransitive, await client.GetCompatibilityAsync("tests.payments.v1-value"));
    }

    [Fact]
    public async Task Register_all_fails_on_an_invalid_schema_file_naming_the_file()
    {
        await using var registry = await StartRegistryAsync();
        using var client = ClientFor(registry);
        var catalog = SchemaCatalog.Load(FixturePath("broken"));

        var error = await Assert.ThrowsAsync<InvalidDataException>(() => SchemaCatalog.RegisterAllAsync(client, catalog, Ct));

        Assert.Contains("bad.avsc", error.Message, StringComparison.Ordinal);
        Assert.Contains("money", error.Message, StringComparison.Ordinal);
        Assert.Empty(await client.GetAllSubjectsAsync());
    }

    [Fact]
    public void Load_fails_when_a_manifest_entry_names_a_missing_file()
    {
        var dir = Directory.CreateTempSubdirectory("catalog-test-");
        try
        {
            File.WriteAllText(Path.Combine(dir.FullName, "subjects.json"), """{"subjects":[{"subject":"x-value","file":"nope/missing.avsc"}]}""");

            var error = Assert.Throws<FileNotFoundException>(() => SchemaCatalog.Load(dir.FullName));

            Assert.Contains("nope/missing.avsc", error.Message, StringComparison.Ordinal);
            Assert.Contains("x-value", error.Message, StringComparison.Ordinal);
        }
        finally
        {
            dir.Delete(recursive: true);
        }
    }
}
