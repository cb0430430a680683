using System.Text.RegularExpressions;
using Streaming.Processors.FinanceMapping;
using Streaming.Sinks.Posting;

namespace Streaming.Cli.Tests;

/// <summary>The Strimzi KafkaUser ACLs in k8s/users.yaml admit the consumer groups and application ids the code actually uses.</summary>
public sealed partial class K8sAclTests
{
    private static string UsersYaml()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "Streaming.sln")))
            {
                return File.ReadAllText(Path.Combine(dir.FullName, "k8s", "users.yaml"));
            }
        }

        throw new FileNotFoundException("Streaming.sln not found above the test directory");
    }

    [GeneratedRegex(@"type:\s*(?<type>group|topic|transactionalId),\s*name:\s*(?<name>[^,\s]+),\s*patternType:\s*prefix")]
    private static partial Regex PrefixAcl();

    private static bool Covered(string type, string id) =>
        PrefixAcl().Matches(UsersYaml()).Any(m => m.Groups["type"].Value == type && id.StartsWith(m.Groups["name"].Value, StringComparison.Ordinal));

    [Fact]
    public void Topology_application_id_is_covered_for_its_group_internal_topics_and_transactions()
    {
        Assert.True(Covered("group", FinanceMappingTopology.ApplicationId), $"no group ACL prefix admits {FinanceMappingTopology.ApplicationId}");
        Assert.True(Covered("topic", FinanceMappingTopology.ApplicationId + "-x-changelog"), "no topic ACL prefix admits the topology's internal topics");
        Assert.True(Covered("transactionalId", FinanceMappingTopology.ApplicationId), "no transactionalId ACL prefix admits the topology");
    }

    [Fact]
    public void Posting_sink_group_is_covered()
        => Assert.True(Covered("group", new ErpPostingSinkOptions().GroupId), $"no group ACL prefix admits {new ErpPostingSinkOptions().GroupId}");
}
