using System.Net;
using System.Net.Sockets;
using Microsoft.Data.Sqlite;
using Npgsql;

namespace Streaming.Sinks.Ledger;

/// <summary>
/// A ledger could not take the batch right now, but may later: timeout, database unavailable, an ERP answering 429 or
/// 5xx. The sink keeps the batch, pauses its partitions, retries with exponential backoff and commits nothing past it.
/// Ledger adapters (SQL, ERP REST) throw this (or an exception <see cref="LedgerErrors.IsTransient"/> recognises).
/// </summary>
public class LedgerTransientException : Exception
{
    /// <summary>Creates the exception.</summary>
    public LedgerTransientException(string message, Exception? innerException = null, TimeSpan? retryAfter = null)
        : base(message, innerException) => RetryAfter = retryAfter;

    /// <summary>The earliest the ledger asked to be tried again (e.g. HTTP <c>Retry-After</c>), if it said.</summary>
    public TimeSpan? RetryAfter { get; }
}

/// <summary>
/// The ledger refuses one journal for good (validation, unknown GL account, closed period): retrying cannot help.
/// The sink quarantines that journal with <see cref="ReasonCode"/> and its context, and posts the rest of the batch.
/// A ledger that posts in one transaction must have written none of the batch when it throws this.
/// </summary>
public class LedgerRejectedException(string postingKey, string reasonCode, string message, Exception? innerException = null)
    : Exception($"{postingKey}: {message}", innerException)
{
    /// <summary>The journal the ledger refused.</summary>
    public string PostingKey { get; } = postingKey;

    /// <summary>Machine-readable reason, e.g. <c>UNKNOWN_ACCOUNT</c>, <c>VALIDATION</c>.</summary>
    public string ReasonCode { get; } = reasonCode;
}

/// <summary>One journal a ledger refused for good, with its reason and context for the quarantine record.</summary>
public sealed record LedgerRejection(string PostingKey, string ReasonCode, string Detail, IReadOnlyDictionary<string, string> Context);

/// <summary>
/// A ledger without a batch transaction (a REST ERP) refused some journals of the batch for good and posted the others.
/// <see cref="Rejections"/> name the refused ones; <see cref="Outcomes"/> are the real outcomes of every other journal of the
/// batch, in batch order. The sink quarantines the rejected journals, reports the outcomes and commits; it does not post again.
/// </summary>
public class LedgerPartiallyRejectedException(IReadOnlyList<LedgerRejection> rejections, IReadOnlyList<PostingOutcome> outcomes, string message)
    : Exception(message)
{
    /// <summary>The refused journals (a posting key repeated in the batch may appear once per occurrence).</summary>
    public IReadOnlyList<LedgerRejection> Rejections { get; } = rejections;

    /// <summary>Outcomes of the journals not rejected, in batch order.</summary>
    public IReadOnlyList<PostingOutcome> Outcomes { get; } = outcomes;
}

/// <summary>What a failed ledger call means for the sink.</summary>
public enum LedgerErrorKind
{
    /// <summary>Retry later with backoff; commit nothing past the batch.</summary>
    Transient,
    /// <summary>Journals are refused for good: quarantine them, post (or report) the rest.</summary>
    Rejected,
    /// <summary>Anything else (a bug, a broken schema): the sink stops without committing, so a restart re-reads the batch.</summary>
    Fatal,
}

/// <summary>The transient/permanent classification shared by the sink and every ledger adapter.</summary>
public static class LedgerErrors
{
    /// <summary>Classifies an exception thrown by <see cref="ILedger.PostBatchAsync"/> (or by publishing its results).</summary>
    public static LedgerErrorKind Classify(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        if (exception is LedgerRejectedException or LedgerPartiallyRejectedException)
        {
            return LedgerErrorKind.Rejected;
        }

        return IsTransient(exception) ? LedgerErrorKind.Transient : LedgerErrorKind.Fatal;
    }

    /// <summary>True for errors that go away by waiting: the adapters' own transient type, timeouts, lost or refused connections,
    /// PostgreSQL's transient states, SQLite busy/locked, HTTP 429/5xx, and a non-fatal Kafka error while publishing results.</summary>
    public static bool IsTransient(Exception exception)
    {
        for (var e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case LedgerTransientException:
                case TimeoutException:
                case SocketException:
                case IOException:
                    return true;
                case PostgresException pg:
                    // 08 connection, 40 serialization/deadlock, 53 insufficient resources, 57P0x shutdown/cannot connect now.
                    return pg.IsTransient || pg.SqlState.StartsWith("08", StringComparison.Ordinal) || pg.SqlState.StartsWith("53", StringComparison.Ordinal)
                        || pg.SqlState is "40001" or "40P01" or "57P01" or "57P02" or "57P03";
                case NpgsqlException npg when npg.IsTransient:
                    return true;
                case SqliteException sqlite:
                    // SQLITE_BUSY, SQLITE_LOCKED, SQLITE_IOERR, SQLITE_FULL (disk full clears when space is freed).
                    return sqlite.SqliteErrorCode is 5 or 6 or 10 or 13;
                case HttpRequestException http:
                    return http.StatusCode is null || http.StatusCode == HttpStatusCode.TooManyRequests || (int)http.StatusCode >= 500;
                case Confluent.Kafka.KafkaException kafka:
                    return !kafka.Error.IsFatal;
            }
        }

        return false;
    }
}
