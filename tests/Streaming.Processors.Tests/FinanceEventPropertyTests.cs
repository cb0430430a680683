using CsCheck;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.MasterData;
using Streaming.Processors.FinanceMapping;
using Streaming.Sinks.Journals;
using FinanceLineKind = Streaming.Contracts.Finance.FinanceLineKind;
using Streaming.Sinks.Posting;

namespace Streaming.Processors.Tests;

/// <summary>
/// Properties over generated invoices (1–5 lines of every kind, 0–3 tax jurisdictions, USD/EUR/JPY/KWD amounts in
/// whole minor units, service periods of 1–800 days from any day): every derived event (issue, each released revenue
/// period, a void after any number of releases, a credit) turns into a balanced journal, every revenue schedule sums
/// exactly to its line in whole minor units, and issue + releases + void leave every account at zero.
/// </summary>
public sealed class FinanceEventPropertyTests
{
    private static readonly AccountLink Link = new()
    {
        canonicalCustomerId = "C-1", billingCustomerId = "cus_1", legalEntityId = "US01", billingCountry = "US", updatedAt = DateTime.UnixEpoch,
    };

    private static readonly SourcePosition Pos = new(Topics.BillingInvoices, 0, 1);

    private static readonly string[] Currencies4 = ["USD", "EUR", "JPY", "KWD"];
    private static readonly string[] Jurisdictions = ["US-CA", "US-NY", "US-TX"];
    private static readonly Gen<string> Currency = Gen.Int[0, 3].Select(i => Currencies4[i]);

    private static Gen<decimal> Amount(string currency) => Gen.Long[0, 50_000_000].Select(minor => minor / (decimal)Math.Pow(10, Currencies.MinorUnits(currency)));

    private static Gen<InvoiceLine> Line(string currency, int index) =>
        Gen.Select(Gen.Int[0, 2], Amount(currency), Gen.Int[0, 3000], Gen.Int[1, 800], (kind, amount, startDay, days) =>
        {
            var start = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc).AddDays(startDay);
            return new InvoiceLine
            {
                lineId = $"il_{index}", kind = (LineKind)kind, productId = "prod", quantity = Money.Quantity(1m), amount = Money.ToAvro(amount),
                servicePeriodStart = kind == 0 ? start : null, servicePeriodEnd = kind == 0 ? start.AddDays(days) : null,
            };
        });

    private static readonly Gen<Invoice> Invoices =
        from currency in Currency
        from generated in Line(currency, 0).Array[1, 5]
        let lines = generated.Select((l, i) => { l.lineId = $"il_{i}"; return l; }).ToArray()
        from taxes in Gen.Select(Gen.Int[0, 2].Select(i => Jurisdictions[i]), Amount(currency), (j, a) => (j, a)).Array[0, 3]
        select new Invoice
        {
            invoiceId = "in_p", number = "P-1", customerId = "cus_1", status = InvoiceStatus.OPEN, eventType = InvoiceEventType.FINALIZED, currency = currency,
            subtotal = Money.ToAvro(lines.Sum(l => Money.ToDecimal(l.amount))),
            tax = Money.ToAvro(taxes.DistinctBy(t => t.j).Sum(t => t.a)),
            total = Money.ToAvro(lines.Sum(l => Money.ToDecimal(l.amount)) + taxes.DistinctBy(t => t.j).Sum(t => t.a)),
            amountPaid = Money.ToAvro(0m), lines = lines.ToList(),
            taxLines = taxes.DistinctBy(t => t.j).Select(t => new TaxLine { jurisdictionCode = t.j, rate = Money.Rate(0.05m), taxableAmount = Money.ToAvro(0m), amount = Money.ToAvro(t.a) }).ToList(),
            issuedAt = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc), correlationId = "c", sourceEventId = "evt", sourceSystem = BillingSourceSystem.STRIPE,
            occurredAt = new DateTime(2025, 1, 1, 0, 0, 0, DateTimeKind.Utc),
        };

    [Fact]
    public void Every_derived_event_balances_and_every_schedule_sums_to_its_line()
    {
        var journals = new JournalBuilder(DefaultChartOfAccounts.Instance);
        Gen.Select(Invoices, Gen.Int[0, 40]).Sample((invoice, releasedPeriods) =>
        {
            var issued = FinanceEventMapper.FromInvoice(invoice, Link, Pos)!;
            var events = new List<FinanceEvent> { issued };
            var recognized = new Dictionary<string, decimal>(StringComparer.Ordinal);
            foreach (var line in invoice.lines.Where(l => l.kind == LineKind.SUBSCRIPTION))
            {
                var amount = Money.ToDecimal(line.amount);
                var schedule = RevenueSchedule.Split(amount, line.servicePeriodStart!.Value, line.servicePeriodEnd!.Value, invoice.currency);
                Assert.Equal(amount, schedule.Sum(p => p.Amount));
                Assert.All(schedule, p => Assert.True(Currencies.IsWholeMinorUnits(p.Amount, invoice.currency), $"{p.Amount} {invoice.currency}"));
                Assert.Equal((line.servicePeriodEnd.Value - line.servicePeriodStart.Value).Days, schedule.Sum(p => p.Days));
                var released = schedule.Take(releasedPeriods).Where(p => p.Amount > 0m).ToList();
                events.AddRange(released.Select(p => FinanceEventMapper.RevenueRecognized(issued, issued.lines.Single(l => l.lineId == line.lineId), p, invoice.invoiceId)));
                recognized[line.lineId] = released.Sum(p => p.Amount);
            }

            invoice.eventType = InvoiceEventType.VOIDED;
            invoice.voidedAt = invoice.issuedAt.AddDays(3);
            events.Add(FinanceEventMapper.FromInvoice(invoice, Link, Pos, recognized)!);

            var posted = events.Select(e => journals.Build(FinanceFactMapper.ToFact(e))).ToList(); // throws when a journal does not balance
            Assert.All(posted, j => Assert.True(j.IsBalanced));
            var net = posted.SelectMany(j => j.Lines).GroupBy(l => l.Account).Select(g => (g.Key, Net: g.Sum(l => l.Debit - l.Credit)));
            Assert.All(net, a => Assert.True(a.Net == 0m, $"account {a.Key} nets {a.Net} after issue, releases and void"));
        }, iter: 300, seed: null);
    }
}
