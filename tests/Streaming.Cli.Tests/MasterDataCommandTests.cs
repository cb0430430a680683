using Microsoft.Extensions.Configuration;
using Streaming.Cli.Commands;
using Streaming.Producers.MasterData;

namespace Streaming.Cli.Tests;

/// <summary>
/// <c>streaming masterdata load</c>: invalid data exits 2 naming file and row before anything starts; --dry-run checks
/// only; a real load goes through the same stack start-up as <c>up</c> (here: the embedded one).
/// </summary>
public sealed class MasterDataCommandTests
{
    private static readonly IConfiguration Embedded = new ConfigurationBuilder().AddInMemoryCollection().Build();

    [Fact]
    public async Task A_referential_failure_exits_2_naming_file_row_and_reason_and_produces_nothing()
    {
        var dir = Path.Combine(Path.GetTempPath(), "md-cli-" + Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dir);
        try
        {
            foreach (var file in Directory.GetFiles(MasterDataSamples.Directory()))
            {
                File.Copy(file, Path.Combine(dir, Path.GetFileName(file)));
            }

            var links = Path.Combine(dir, "account-links.csv");
            File.WriteAllText(links, File.ReadAllText(links).Replace("cus_initech,ERP-C-2001,DE01", "cus_initech,ERP-C-2001,FR01", StringComparison.Ordinal));
            var output = new StringWriter();
            var error = new StringWriter();

            // Bad Kafka settings would fail with exit 2 as well, but later: the data is checked before any configuration is read.
            var exit = await MasterDataCommand.LoadAsync(dir, dryRun: false, 10, output, error, TestContext.Current.CancellationToken,
                new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["Kafka:BootstrapServers"] = "not-reachable:1" }).Build());

            Assert.Equal(MasterDataCommand.ExitInvalid, exit);
            Assert.Contains("account-links.csv, row 4, legalEntityId: legal entity FR01 is not in legal-entities", error.ToString(), StringComparison.Ordinal);
            Assert.Contains("nothing was produced", error.ToString(), StringComparison.Ordinal);
            Assert.Equal("", output.ToString());
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Dry_run_checks_the_sample_and_produces_nothing()
    {
        var output = new StringWriter();
        var exit = await MasterDataCommand.LoadAsync(MasterDataSamples.Directory(), dryRun: true, 10, output, new StringWriter(), TestContext.Current.CancellationToken, Embedded);

        Assert.Equal(MasterDataCommand.ExitOk, exit);
        Assert.Contains("2 legal entities, 4 products (8 prices), 3 tax rules, 19 GL mappings, 4 account links; checks passed", output.ToString(), StringComparison.Ordinal);
        Assert.Contains("Dry run: nothing produced.", output.ToString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Kafka:", output.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Load_produces_the_sample_through_the_same_stack_start_up_as_up()
    {
        var output = new StringWriter();
        var error = new StringWriter();

        var exit = await MasterDataCommand.LoadAsync(MasterDataSamples.Directory(), dryRun: false, 30, output, error, TestContext.Current.CancellationToken, Embedded);

        Assert.True(exit == MasterDataCommand.ExitOk, error.ToString());
        var text = output.ToString();
        Assert.Contains("Kafka: embedded librdkafka mock cluster", text, StringComparison.Ordinal);
        Assert.Matches(@"md\.account-links\.v1\s+8\r?\n", text);
        Assert.Contains("Loaded: 36 records acknowledged by Kafka.", text, StringComparison.Ordinal);
    }

    [Fact]
    public void The_command_is_registered_as_masterdata_load()
    {
        var load = MasterDataCommand.Create().Subcommands.Single();
        Assert.Equal("load", load.Name);
        Assert.Contains(load.Options, o => o.Name == "--dry-run");
    }
}
