using System.Data.Common;
using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Reconciliation;

/// <summary>The journal query both SQL ledger readers run, and the mapping of its rows (one row per line) to <see cref="LedgerJournal"/>s.</summary>
internal static class LedgerJournalRows
{
    /// <summary>
    /// Journals with their lines for <c>from</c> ≤ effective date &lt; <c>to</c> and an optional <c>entity</c>; parameters are
    /// named with <paramref name="prefix"/> (<c>@</c> or <c>$</c>), and <paramref name="textCast"/> types the entity where the
    /// server needs it.
    /// </summary>
    public static string Sql(char prefix, string textCast) => $"""
        SELECT e.posting_key, e.event_type, e.legal_entity_id, e.currency, e.effective_date, e.source_object, e.erp_document_id,
               l.account, l.debit, l.credit, l.memo
        FROM journal_entries e JOIN journal_lines l ON l.posting_key = e.posting_key
        WHERE e.effective_date >= {prefix}from AND e.effective_date < {prefix}to AND ({prefix}entity{textCast} IS NULL OR e.legal_entity_id = {prefix}entity{textCast})
        ORDER BY e.posting_key, l.line_no;
        """;

    /// <summary>Groups the ordered rows of <see cref="Sql"/> into journals; the ledger's own column types are read by <paramref name="date"/> and <paramref name="amount"/>.</summary>
    public static async Task<IReadOnlyList<LedgerJournal>> ReadAsync(DbDataReader reader, Func<DbDataReader, int, DateTime> date, Func<DbDataReader, int, decimal> amount,
        CancellationToken cancellationToken)
    {
        var journals = new List<LedgerJournal>();
        List<JournalLine>? lines = null;
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            var key = reader.GetString(0);
            if (journals.Count == 0 || journals[^1].PostingKey != key)
            {
                lines = [];
                journals.Add(new LedgerJournal(key, Enum.Parse<FinanceEventKind>(reader.GetString(1)), reader.GetString(2), reader.GetString(3),
                    date(reader, 4), reader.GetString(5), reader.GetString(6), lines));
            }

            lines!.Add(new JournalLine(reader.GetString(7), amount(reader, 8), amount(reader, 9), reader.GetString(10)));
        }

        return journals;
    }
}
