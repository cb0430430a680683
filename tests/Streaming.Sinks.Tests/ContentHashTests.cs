using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Tests;

/// <summary>
/// <see cref="Journal.ContentHash"/> must stay byte-for-byte the hash ledgers already store (duplicates are told from conflicts by it):
/// here against the original string-built definition, over journals with unusual content.
/// </summary>
public sealed class ContentHashTests
{
    /// <summary>The definition the ledgers were written with: UTF-8 of key|entity|currency|day{|account:debit:credit}, SHA-256, lower hex.</summary>
    private static string Reference(Journal j)
    {
        var sb = new StringBuilder();
        sb.Append(j.PostingKey).Append('|').Append(j.LegalEntityId).Append('|').Append(j.Currency).Append('|')
          .Append(j.EffectiveDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        foreach (var line in j.Lines)
        {
            sb.Append('|').Append(line.Account).Append(':').Append(line.Debit.ToString("G29", CultureInfo.InvariantCulture))
              .Append(':').Append(line.Credit.ToString("G29", CultureInfo.InvariantCulture));
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }

    private static Journal J(string key, string entity, string currency, DateTime day, params JournalLine[] lines)
        => new(key, "corr", FinanceEventKind.InvoiceIssued, entity, "c1", currency, day, null, lines, new SourceCoordinates("stripe", "invoice", "in_1", "evt_1"));

    public static TheoryData<int> Cases => [.. Enumerable.Range(0, Journals().Count)];

    private static List<Journal> Journals() =>
    [
        J("invoice:in_1:issued", "US01", "USD", new DateTime(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc),
            new("1100", 108.25m, 0m, "ar"), new("4200", 0m, 100m, "svc"), new("2300-US-CA", 0m, 8.25m, "tax")),
        J("invoice:in_2:issued", "DE01", "EUR", new DateTime(1999, 12, 31, 0, 0, 0, DateTimeKind.Utc), new("1100", 10.5000m, 0m, "m"), new("4000", 0m, 10.50m, "m")),
        J("k:ü€東京", "Zürich-AG", "CHF", new DateTime(2026, 2, 28, 0, 0, 0, DateTimeKind.Utc), new("Konto-Ä", decimal.MaxValue, 0m, "x"), new("Konto-Ö", 0m, decimal.MaxValue, "y")),
        J("p:tiny", "JP01", "JPY", new DateTime(2026, 1, 1, 0, 0, 0, DateTimeKind.Utc), new("1000", 0.0000000000000000000000000001m, 0m, ""), new("1100", 0m, 0.0000000000000000000000000001m, "")),
        J("p:none", "X", "KWD", new DateTime(2026, 6, 30, 0, 0, 0, DateTimeKind.Utc)),
        J(new string('k', 5_000), new string('e', 300), "USD", new DateTime(2026, 11, 26, 0, 0, 0, DateTimeKind.Utc),
            [.. Enumerable.Range(0, 200).Select(i => new JournalLine($"acct-{i}", i * 1.01m, 0m, "memo"))]),
    ];

    [Theory]
    [MemberData(nameof(Cases))]
    public void Matches_the_original_definition(int index)
    {
        var journal = Journals()[index];
        Assert.Equal(Reference(journal), journal.ContentHash());
    }
}
