using Streamiz.Kafka.Net;
using Streamiz.Kafka.Net.Processors.Public;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Processors.FinanceMapping;

namespace Streaming.Processors.Usage;

/// <summary>
/// Usage events → <c>USAGE_ACCRUED</c> finance events, rated per subscription item and meter in tumbling windows by
/// <see cref="UsageWindowProcessor"/> (keyed by subscription item, the key of <c>billing.usage.v1</c>, so no repartition).
/// </summary>
public static class UsageAccrualTopology
{
    /// <summary>State store of the usage windows and of usage parked by the readiness gate.</summary>
    public const string WindowStore = "usage-windows";

    /// <summary>Stage named in the quarantine records this topology writes.</summary>
    public const string Stage = "usage-accrual";

    /// <summary>Adds the usage slice to a builder whose master data is declared in <paramref name="masterData"/>.</summary>
    public static void ConfigureTopology(StreamBuilder builder, FinanceSerdes serdes, MasterDataTables masterData, FinanceMappingOptions options)
    {
        ArgumentNullException.ThrowIfNull(builder);
        ArgumentNullException.ThrowIfNull(serdes);
        ArgumentNullException.ThrowIfNull(masterData);
        ArgumentNullException.ThrowIfNull(options);
        var usage = Hosting.StreamizDeadLetters.SplitTombstones(builder.Stream(Topics.BillingUsage, serdes.Key, serdes.Source<UsageEvent>()),
            serdes, FinanceMappingTopology.ApplicationId, "usage");
        var outputs = usage.Transform(
            TransformerBuilder.New<string, UsageEvent, string, FinanceOutput>()
                .Transformer<UsageWindowProcessor>(new GateSettings(WindowStore, Stage, serdes, options))
                .StateStore(FinanceMappingTopology.StoreBuilder(WindowStore, options))
                .Build(),
            "usage-windows");
        FinanceMappingTopology.Sinks(outputs, serdes, "usage");
    }
}
