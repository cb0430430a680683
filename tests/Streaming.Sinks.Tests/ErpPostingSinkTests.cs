using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Sinks.Journals;
using FinanceLineKind = Streaming.Contracts.Finance.FinanceLineKind;
using Streaming.Sinks.Ledger;
using Streaming.Sinks.Posting;

namespace Streaming.Sinks.Tests;

/// <summary>
/// The posting sink on the embedded broker with bad input mixed in: a duplicate delivery posts once, an undeserializable
/// record and a tombstone go to the DLQ with their bytes and coordinates, an unbalanced fact goes to quarantine with the
/// difference, and the committed offsets still reach the end of every partition. Crash/kill recovery is not covered here.
/// </summary>
public sealed class ErpPostingSinkTests
{
    private static FinanceEvent Payment(string id, decimal amount, decimal? feeLine = null, decimal? cashLine = null) => new()
    {
        eventId = $"fe_{id}", eventType = FinanceEventType.PAYMENT_APPLIED, postingKey = $"payment:{id}:applied", correlationId = $"corr-{id}",
        legalEntityId = "US01", customerId = "C-1", currency = "USD", totalAmount = Money.ToAvro(amount), taxAmount = Money.ToAvro(0m),
        effectiveDate = new DateTime(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc), documentNumber = "INV-1",
        lines = new List<FinanceEventLine> { new() { lineId = $"{id}:cash", kind = FinanceLineKind.CASH, amount = Money.ToAvro(cashLine ?? amount) } }
            .Concat(feeLine is { } f ? [new FinanceEventLine { lineId = $"{id}:fee", kind = FinanceLineKind.FEE, amount = Money.ToAvro(f) }] : []).ToList(),
        source = new SourceRef { system = "stripe", objectType = "payment", objectId = id, eventId = $"evt_{id}" },
        createdAt = new DateTime(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc),
    };

    private static FinanceEvent UnbalancedInvoice() => new()
    {
        eventId = "fe_bad", eventType = FinanceEventType.INVOICE_ISSUED, postingKey = "invoice:in_bad:issued", correlationId = "corr-bad",
        legalEntityId = "US01", customerId = "C-1", currency = "USD", totalAmount = Money.ToAvro(100.01m), taxAmount = Money.ToAvro(0m),
        effectiveDate = new DateTime(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc), documentNumber = "INV-BAD",
        lines = [new FinanceEventLine { lineId = "l1", kind = FinanceLineKind.SERVICES, amount = Money.ToAvro(100m) }],
        source = new SourceRef { system = "stripe", objectType = "invoice", objectId = "in_bad", eventId = "evt_bad" },
        createdAt = new DateTime(2026, 11, 10, 0, 0, 0, DateTimeKind.Utc),
    };

    [Fact]
    public async Task Bad_records_are_set_aside_and_the_partition_still_moves_to_its_end()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await SinkTestStack.StartAsync(2, ct);
        var client = stack.Client;
        var garbage = new byte[] { 0, 0, 0, 0, 99, 1, 2, 3 };
        var producer = stack.Producer;
        var p1 = stack.Events.SerializeValue(Payment("pi_1", 119m, feeLine: 3.75m), Topics.FinanceEvents);
        foreach (var (key, value) in new (string, byte[]?)[]
                 {
                     ("C-1", p1), ("C-1", garbage), ("C-1", null), ("C-1", p1),
                     ("C-2", stack.Events.SerializeValue(UnbalancedInvoice(), Topics.FinanceEvents)),
                     ("C-2", stack.Events.SerializeValue(Payment("pi_2", 50m), Topics.FinanceEvents)),
                 })
        {
            // Customers on separate partitions, so both partitions' commits are checked.
            producer.Produce(new TopicPartition(Topics.FinanceEvents, key == "C-1" ? 0 : 1), new Message<string, byte[]> { Key = key, Value = value! });
        }

        Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(20)));

        var path = Path.Combine(Path.GetTempPath(), $"sink-{Guid.NewGuid():N}.db");
        await using var ledger = await SqliteLedger.OpenAsync(path, ct);
        var sink = new ErpPostingSink(new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers }, producer, client, ledger,
            DefaultChartOfAccounts.Instance, new ErpPostingSinkOptions { GroupId = "sink-test" }, NullLogger<ErpPostingSink>.Instance);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        var run = Task.Run(() => sink.RunAsync(stop.Token), ct);

        var ends = await stack.EndOffsetsAsync();
        var committed = await stack.WaitCommittedAsync("sink-test", c => ends.All(e => c.GetValueOrDefault(e.Key) == e.Value), TimeSpan.FromSeconds(60), run, ct);
        await stop.CancelAsync();
        await run; // a sink that died on bad input would surface its exception here

        Assert.Equal(ends, committed);
        Assert.Equal(6, ends.Values.Sum());
        Assert.Equal((2L, 1L, 2L, 1L), (sink.PostedCount, sink.DuplicateCount, sink.DeadLetteredCount, sink.QuarantinedCount));
        Assert.Equal(2, await ledger.CountJournalsAsync(ct));

        var dlq = stack.Read<DeadLetterRecord>(Topics.DeadLetters);
        Assert.Equal(2, dlq.Count);
        Assert.Contains(dlq, d => d.originalValue is not null && d.originalValue.SequenceEqual(garbage) && d.originalTopic == Topics.FinanceEvents && d.consumerGroup == "sink-test");
        Assert.Contains(dlq, d => d.originalValue is null && d.errorMessage.Contains("tombstone", StringComparison.Ordinal));

        var quarantined = Assert.Single(stack.Read<QuarantineRecord>(Topics.Quarantine));
        Assert.Equal(("UNBALANCED_JOURNAL", "invoice:in_bad:issued", 0.01m),
            (quarantined.reasonCode, quarantined.postingKey, decimal.Parse(quarantined.businessContext["imbalance"], System.Globalization.CultureInfo.InvariantCulture)));
        Assert.Equal(Topics.FinanceEvents, quarantined.sourceTopic);

        var results = stack.Read<Contracts.Erp.ErpPostingResult>(Topics.ErpPostings);
        Assert.Equal(["payment:pi_1:applied", "payment:pi_1:applied", "payment:pi_2:applied"], results.Select(r => r.postingKey).Order());
        Assert.Single(results.Select(r => r.erpDocumentId).Where((_, i) => results[i].postingKey == "payment:pi_1:applied").Distinct());
        File.Delete(path);
    }
}
