using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Sinks.Journals;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Posting;

namespace Streaming.Sinks.Tests;

/// <summary>Through the sink: a void posts the mirror of the posted issue (not its own lines); a void with no posted issue is quarantined.</summary>
public sealed class SinkVoidTests
{
    [Fact]
    public async Task A_void_posts_the_mirror_of_the_posted_issue_and_a_void_without_issue_is_quarantined()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(1, ct);
        var issued = SinkTestStack.Invoice("in_v", "US01", "USD", 100m, 40m, 11.55m, "US-CA");
        FinanceEvent Void(FinanceEvent from, string id)
        {
            var v = SinkTestStack.Invoice(id, "US01", "USD", 100m, 40m, 11.55m, "US-CA");
            v.eventType = FinanceEventType.INVOICE_VOIDED;
            v.postingKey = $"invoice:{id}:voided";
            v.eventId = $"fe_{id}_void";
            // The void event carries one services line for the whole amount: only the posted issue says how to reverse it.
            v.lines = [new FinanceEventLine { lineId = $"{id}:all", kind = Contracts.Finance.FinanceLineKind.SERVICES, amount = from.totalAmount }];
            return v;
        }

        stack.Produce(0, issued);
        stack.Produce(0, Void(issued, "in_v"));
        stack.Produce(0, Void(issued, "in_never_issued"));
        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(20)));
        var ends = await stack.EndOffsetsAsync();

        var path = Path.Combine(Path.GetTempPath(), $"void-{Guid.NewGuid():N}.db");
        await using (var ledger = await SqliteLedger.OpenAsync(path, ct))
        {
            var sink = new ErpPostingSink(new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers }, stack.Producer, stack.Client, ledger,
                DefaultChartOfAccounts.Instance, new ErpPostingSinkOptions { GroupId = "void-test", MaxBatchSize = 1 }, NullLogger<ErpPostingSink>.Instance);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            var run = Task.Run(() => sink.RunAsync(stop.Token), ct);
            var committed = await stack.WaitCommittedAsync("void-test", c => c.GetValueOrDefault(0) == ends[0], TimeSpan.FromSeconds(60), run, ct);
            await stop.CancelAsync();
            await run;
            Assert.Equal(ends, committed);

            var posted = await ledger.FindJournalAsync("invoice:in_v:issued", ct);
            var reversal = await ledger.FindJournalAsync("invoice:in_v:voided", ct);
            Assert.NotNull(posted);
            Assert.NotNull(reversal);
            Assert.Equal(posted.Lines.Select(l => (l.Account, l.Debit, l.Credit)), reversal.Lines.Select(l => (l.Account, l.Credit, l.Debit)));
            Assert.Contains(reversal.Lines, l => l.Account == "2300-US-CA" && l.Debit == 11.55m);
            Assert.All((await ledger.TrialBalanceAsync(ct)), r => Assert.Equal(0m, r.Balance));
        }

        var q = Assert.Single(stack.Read<QuarantineRecord>(Topics.Quarantine));
        Assert.Equal(("VOID_WITHOUT_ISSUE", "invoice:in_never_issued:voided"), (q.reasonCode, q.postingKey));
        File.Delete(path);
    }
}
