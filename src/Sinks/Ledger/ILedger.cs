using Streaming.Sinks.Journals;

namespace Streaming.Sinks.Ledger;

/// <summary>Outcome of posting one journal.</summary>
public enum PostingStatus
{
    /// <summary>Newly posted.</summary>
    Posted,
    /// <summary>Already posted earlier with the same content: nothing written.</summary>
    Duplicate,
    /// <summary>A journal with this posting key but different content exists: nothing written, needs a person.</summary>
    Conflict,
}

/// <summary>Result of posting one journal.</summary>
public sealed record PostingOutcome(string PostingKey, PostingStatus Status, string ErpDocumentId, string ContentHash, DateTimeOffset PostedAt);

/// <summary>Trial-balance row: one account's totals within an entity and currency.</summary>
public sealed record TrialBalanceRow(string LegalEntityId, string Currency, string Account, decimal Debits, decimal Credits)
{
    /// <summary>Debits minus credits.</summary>
    public decimal Balance => Debits - Credits;
}

/// <summary>An ERP ledger: posts balanced journals idempotently by posting key.</summary>
public interface ILedger : IAsyncDisposable
{
    /// <summary>Human-readable location (file path, connection target), printed at start-up.</summary>
    string Location { get; }

    /// <summary>Creates or upgrades the ledger's tables (versioned migrations).</summary>
    Task MigrateAsync(CancellationToken cancellationToken);

    /// <summary>Posts a batch in one transaction: all of it is durable when this returns, or none of it.</summary>
    Task<IReadOnlyList<PostingOutcome>> PostBatchAsync(IReadOnlyList<Journal> journals, CancellationToken cancellationToken);

    /// <summary>Per entity, currency and account: Σ debits and Σ credits over every posted journal.</summary>
    Task<IReadOnlyList<TrialBalanceRow>> TrialBalanceAsync(CancellationToken cancellationToken);

    /// <summary>Number of posted journals.</summary>
    Task<long> CountJournalsAsync(CancellationToken cancellationToken);

    /// <summary>
    /// The posted journal with this posting key (lines in posting order), or null when none is posted. The sink uses it to build an
    /// invoice void as the exact mirror of the posted issue. A ledger that cannot read journals back keeps this default, which
    /// throws <see cref="NotSupportedException"/>: the sink then builds the void from the void event's own lines.
    /// </summary>
    Task<Journal?> FindJournalAsync(string postingKey, CancellationToken cancellationToken)
        => throw new NotSupportedException($"Ledger {Location} cannot read posted journals back.");
}
