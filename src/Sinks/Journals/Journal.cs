using System.Buffers;
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
    public decimal TotalDebits => Sum(debits: true);

    /// <summary>Σ credits.</summary>
    public decimal TotalCredits => Sum(debits: false);

    /// <summary>Debits minus credits; zero for a journal that may be posted.</summary>
    public decimal Imbalance => TotalDebits - TotalCredits;

    /// <summary>True when debits equal credits exactly.</summary>
    public bool IsBalanced => Imbalance == 0m;

    private decimal Sum(bool debits)
    {
        var sum = 0m;
        for (var i = 0; i < Lines.Count; i++)
        {
            sum += debits ? Lines[i].Debit : Lines[i].Credit;
        }

        return sum;
    }

    /// <summary>
    /// SHA-256 (lower-case hex) of the journal's accounting content, to tell a true duplicate from a conflicting one: the UTF-8 of
    /// <c>{key}|{entity}|{currency}|{yyyy-MM-dd}</c> followed by <c>|{account}:{debit}:{credit}</c> per line, amounts in "G29"
    /// (trailing zeros dropped, so 10.5 and 10.5000 hash alike). Built in a pooled buffer, without intermediate strings.
    /// </summary>
    public string ContentHash()
    {
        const int DecimalChars = 32; // "G29": at most 29 digits, a sign and a point
        var capacity = PostingKey.Length + LegalEntityId.Length + Currency.Length + 3 + 10;
        for (var i = 0; i < Lines.Count; i++)
        {
            capacity += Lines[i].Account.Length + 3 + (2 * DecimalChars);
        }

        var chars = ArrayPool<char>.Shared.Rent(capacity);
        try
        {
            var n = 0;
            Append(chars, ref n, PostingKey);
            chars[n++] = '|';
            Append(chars, ref n, LegalEntityId);
            chars[n++] = '|';
            Append(chars, ref n, Currency);
            chars[n++] = '|';
            n += Format(EffectiveDate.TryFormat(chars.AsSpan(n), out var w, "yyyy-MM-dd", CultureInfo.InvariantCulture), w);
            for (var i = 0; i < Lines.Count; i++)
            {
                var line = Lines[i];
                chars[n++] = '|';
                Append(chars, ref n, line.Account);
                chars[n++] = ':';
                n += Format(line.Debit.TryFormat(chars.AsSpan(n), out w, "G29", CultureInfo.InvariantCulture), w);
                chars[n++] = ':';
                n += Format(line.Credit.TryFormat(chars.AsSpan(n), out w, "G29", CultureInfo.InvariantCulture), w);
            }

            var text = chars.AsSpan(0, n);
            var bytes = ArrayPool<byte>.Shared.Rent(Encoding.UTF8.GetMaxByteCount(n));
            try
            {
                Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
                SHA256.HashData(bytes.AsSpan(0, Encoding.UTF8.GetBytes(text, bytes)), hash);
                return Convert.ToHexStringLower(hash);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(bytes);
            }
        }
        finally
        {
            ArrayPool<char>.Shared.Return(chars);
        }

        static void Append(char[] buffer, ref int at, string value)
        {
            value.CopyTo(buffer.AsSpan(at));
            at += value.Length;
        }

        static int Format(bool ok, int written) => ok ? written : throw new InvalidOperationException("content hash buffer too small");
    }
}
