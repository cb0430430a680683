using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Tests;

/// <summary>The DOMAIN.md journal templates on the default chart: exact lines and amounts, and rejection of what would not balance.</summary>
public sealed class JournalBuilderTests
{
    private static readonly JournalBuilder Builder = new(DefaultChartOfAccounts.Instance);
    private static readonly SourceCoordinates Src = new("stripe", "invoice", "in_1", "evt_1");

    private static FinanceFact Fact(FinanceEventKind kind, decimal total, params FinanceLine[] lines)
        => new("e1", kind, $"test:{kind}", "corr-1", "US01", "cust-1", "USD", total, lines.Where(l => l.Kind == FinanceLineKind.Tax).Sum(l => l.Amount),
            new DateTime(2026, 11, 3, 10, 0, 0, DateTimeKind.Utc), "INV-1", lines, Src);

    [Fact]
    public void Invoice_with_deferred_subscription_services_usage_and_two_tax_jurisdictions_posts_the_template()
    {
        var journal = Builder.Build(Fact(FinanceEventKind.InvoiceIssued, 1398.75m,
            new("l1", FinanceLineKind.Subscription, 1000m, HasServicePeriod: true),
            new("l2", FinanceLineKind.Services, 250m),
            new("l3", FinanceLineKind.Usage, 40.50m),
            new("t1", FinanceLineKind.Tax, 72.50m, TaxJurisdiction: "US-CA"),
            new("t2", FinanceLineKind.Tax, 35.75m, TaxJurisdiction: "US-CA-SF")));

        Assert.Equal(
        [
            new JournalLine("1100", 1398.75m, 0m, "invoice receivable"),
            new JournalLine("2400", 0m, 1000m, "subscription deferred"),
            new JournalLine("4200", 0m, 250m, "services revenue"),
            new JournalLine("1150", 0m, 40.50m, "usage billed: relieves accrual"),
            new JournalLine("2300-US-CA", 0m, 72.50m, "sales tax US-CA"),
            new JournalLine("2300-US-CA-SF", 0m, 35.75m, "sales tax US-CA-SF"),
        ], journal.Lines);
        Assert.True(journal.IsBalanced);
    }

    [Fact]
    public void Voided_invoice_mirrors_the_issued_journal()
    {
        var lines = new FinanceLine[] { new("l1", FinanceLineKind.Services, 100m), new("t1", FinanceLineKind.Tax, 19m, TaxJurisdiction: "DE") };
        var issued = Builder.Build(Fact(FinanceEventKind.InvoiceIssued, 119m, lines));
        var voided = Builder.Build(Fact(FinanceEventKind.InvoiceVoided, 119m, lines));
        Assert.Equal(issued.Lines.Select(l => (l.Account, l.Credit, l.Debit)), voided.Lines.Select(l => (l.Account, l.Debit, l.Credit)));
    }

    [Fact]
    public void Payment_splits_cash_and_fee_against_the_full_receivable()
    {
        var journal = Builder.Build(Fact(FinanceEventKind.PaymentApplied, 119m, new FinanceLine("f", FinanceLineKind.Fee, 3.75m)));
        Assert.Equal([new("1000", 115.25m, 0m, "cash received (net of fee)"), new("6100", 3.75m, 0m, "payment processing fee"), new("1100", 0m, 119m, "receivable settled")], journal.Lines);
    }

    [Fact]
    public void Payment_without_a_fee_has_no_zero_fee_line()
    {
        var journal = Builder.Build(Fact(FinanceEventKind.PaymentApplied, 50m));
        Assert.Equal(["1000", "1100"], journal.Lines.Select(l => l.Account));
    }

    [Fact]
    public void Usage_accrual_debits_unbilled_and_credits_usage_revenue()
    {
        var journal = Builder.Build(Fact(FinanceEventKind.UsageAccrued, 12.35m));
        Assert.Equal([new("1150", 12.35m, 0m, "usage accrued"), new("4100", 0m, 12.35m, "usage revenue")], journal.Lines);
    }

    [Fact]
    public void Invoice_whose_lines_do_not_add_up_to_the_total_is_rejected_with_the_difference()
    {
        var ex = Assert.Throws<JournalRejectedException>(() => Builder.Build(Fact(FinanceEventKind.InvoiceIssued, 100.01m, new FinanceLine("l1", FinanceLineKind.Services, 100m))));
        Assert.Equal("UNBALANCED_JOURNAL", ex.ReasonCode);
        Assert.Equal(0.01m, ex.Imbalance);
        Assert.Equal("test:InvoiceIssued", ex.PostingKey);
    }

    [Fact]
    public void Tax_line_without_jurisdiction_is_rejected_as_unknown_account()
    {
        var ex = Assert.Throws<JournalRejectedException>(() => Builder.Build(Fact(FinanceEventKind.InvoiceIssued, 10m, new FinanceLine("t", FinanceLineKind.Tax, 10m))));
        Assert.Equal("UNKNOWN_ACCOUNT", ex.ReasonCode);
    }

    [Fact]
    public void Content_hash_ignores_trailing_zeros_but_not_amounts()
    {
        var a = Builder.Build(Fact(FinanceEventKind.UsageAccrued, 10.5m));
        var b = Builder.Build(Fact(FinanceEventKind.UsageAccrued, 10.5000m));
        var c = Builder.Build(Fact(FinanceEventKind.UsageAccrued, 10.51m));
        Assert.Equal(a.ContentHash(), b.ContentHash());
        Assert.NotEqual(a.ContentHash(), c.ContentHash());
    }

    [Theory]
    [InlineData("JPY", "1500", true)]
    [InlineData("JPY", "0.5", false)]
    [InlineData("USD", "10.01", true)]
    [InlineData("USD", "10.001", false)]
    [InlineData("KWD", "1.235", true)]
    public void Amounts_must_be_whole_minor_units_of_their_currency(string currency, string amount, bool postable)
    {
        var value = decimal.Parse(amount, System.Globalization.CultureInfo.InvariantCulture);
        var fact = Fact(FinanceEventKind.UsageAccrued, value) with { Currency = currency };
        if (postable)
        {
            Assert.Equal(value, Builder.Build(fact).TotalDebits);
        }
        else
        {
            var ex = Assert.Throws<JournalRejectedException>(() => Builder.Build(fact));
            Assert.Equal("INVALID_FACT", ex.ReasonCode);
            Assert.Contains($"more decimals than {currency} allows", ex.Message, StringComparison.Ordinal);
        }
    }
}
