namespace Streaming.Sinks.Journals;

/// <summary>
/// Hands out the chart of accounts to build journals with. <see cref="Current"/> is an immutable chart: a caller takes it
/// once and builds a whole batch with it, so one journal never mixes accounts from before and after a mapping change.
/// </summary>
public interface IChartOfAccountsProvider
{
    /// <summary>The chart as it is now (never changes afterwards).</summary>
    IChartOfAccounts Current { get; }
}
