using System.Globalization;
using System.Security.Cryptography;
using System.Text;

namespace Streaming.Sinks.Journals;

/// <summary>One debit or credit line of a journal; exactly one of the two amounts is non-zero.</summary>
public sealed record JournalLine(string Account, decimal Debit, decimal Credit, string Memo);

/// <summary>A journal entry for one legal entity and one currency, keyed by its posting key.</summary>
public sealed record Journal(
    string PostingKey,
    string CorrelationId,
    FinanceEventKind EventKind,
    string LegalEntityId,
    string CustomerId,
    string Currency,
    DateTime EffectiveDate,
    string? DocumentNumber,
    IReadOnlyList<JournalLine> Lines,
    SourceCoordinates Source)
{
    /// <summary>Σ debits.</summary>
    public decimal TotalDebits => Lines.Sum(l => l.Debit);

    /// <summary>Σ credits.</summary>
    public decimal TotalCredits => Lines.Sum(l => l.Credit);

    /// <summary>Debits minus credits; zero for a journal that may be posted.</summary>
    public decimal Imbalance => TotalDebits - TotalCredits;

    /// <summary>True when debits equal credits exactly.</summary>
    public bool IsBalanced => Imbalance == 0m;

    /// <summary>SHA-256 (hex) of the journal's accounting content, to tell a true duplicate from a conflicting one.</summary>
    public string ContentHash()
    {
        var sb = new StringBuilder();
        sb.Append(PostingKey).Append('|').Append(LegalEntityId).Append('|').Append(Currency).Append('|')
          .Append(EffectiveDate.ToString("yyyy-MM-dd", CultureInfo.InvariantCulture));
        foreach (var line in Lines)
        {
            // G29 drops trailing zeros so 10.5 and 10.5000 hash alike.
            sb.Append('|').Append(line.Account).Append(':').Append(line.Debit.ToString("G29", CultureInfo.InvariantCulture))
              .Append(':').Append(line.Credit.ToString("G29", CultureInfo.InvariantCulture));
        }

        return Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(sb.ToString())));
    }
}
