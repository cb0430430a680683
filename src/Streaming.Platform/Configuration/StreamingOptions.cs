using System.ComponentModel.DataAnnotations;

namespace Streaming.Platform.Configuration;

/// <summary>Kafka connection and client settings (section <c>Kafka</c>). Any librdkafka key passes through the dictionaries.</summary>
public sealed class KafkaOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Kafka";

    /// <summary>Bootstrap servers of a real cluster; empty starts the embedded mock cluster. Env: <c>KAFKA_BOOTSTRAP_SERVERS</c>.</summary>
    public string? BootstrapServers { get; set; }

    /// <summary>librdkafka keys applied to every client (e.g. <c>security.protocol</c>, <c>sasl.mechanism</c>).</summary>
    public Dictionary<string, string> Common { get; set; } = new(StringComparer.Ordinal);

    /// <summary>librdkafka keys for producers (override <see cref="Common"/>).</summary>
    public Dictionary<string, string> Producer { get; set; } = new(StringComparer.Ordinal);

    /// <summary>librdkafka keys for consumers (override <see cref="Common"/>).</summary>
    public Dictionary<string, string> Consumer { get; set; } = new(StringComparer.Ordinal);

    /// <summary>librdkafka keys for admin clients (override <see cref="Common"/>).</summary>
    public Dictionary<string, string> Admin { get; set; } = new(StringComparer.Ordinal);

    /// <summary>True when no bootstrap servers are configured and the embedded stack is used.</summary>
    public bool UseEmbedded => string.IsNullOrWhiteSpace(BootstrapServers);

    /// <summary><see cref="Common"/> overlaid with one client kind's keys (<see cref="Producer"/>, <see cref="Consumer"/> or <see cref="Admin"/>).</summary>
    public Dictionary<string, string> With(Dictionary<string, string> specific)
    {
        ArgumentNullException.ThrowIfNull(specific);
        var merged = new Dictionary<string, string>(Common, StringComparer.Ordinal);
        foreach (var (key, value) in specific)
        {
            merged[key] = value;
        }

        return merged;
    }
}

/// <summary>Schema registry endpoint (section <c>SchemaRegistry</c>).</summary>
public sealed class SchemaRegistryOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "SchemaRegistry";

    /// <summary>Registry URL; empty starts the embedded registry. Env: <c>SCHEMA_REGISTRY_URL</c>.</summary>
    public string? Url { get; set; }

    /// <summary>Extra Confluent registry client settings (e.g. <c>schema.registry.basic.auth.user.info</c>).</summary>
    public Dictionary<string, string> Client { get; set; } = new(StringComparer.Ordinal);

    /// <summary>True when no registry URL is configured and the embedded registry is used.</summary>
    public bool UseEmbedded => string.IsNullOrWhiteSpace(Url);
}

/// <summary>The embedded stack (section <c>Embedded</c>), used when no bootstrap servers are configured.</summary>
public sealed class EmbeddedStackOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Embedded";

    /// <summary>Mock broker count.</summary>
    [Range(1, 32)]
    public int Brokers { get; set; } = 3;

    /// <summary>Seconds between checks for data the mock dropped (its 5 MB per-partition cap); 0 disables.</summary>
    [Range(0, 3600)]
    public int WatermarkCheckSeconds { get; set; } = 5;
}

/// <summary>The ERP ledger the sink writes to (section <c>Ledger</c>).</summary>
public sealed class LedgerOptions : IValidatableObject
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Ledger";

    /// <summary>Ledger provider: <c>Sqlite</c>, <c>Postgres</c> or <c>NetSuite</c> (the REST adapter, section <c>NetSuite</c>); empty means Postgres when <see cref="ConnectionString"/> is set, else Sqlite.</summary>
    [RegularExpression("^(Sqlite|Postgres|NetSuite)$", ErrorMessage = "Ledger:Provider must be 'Sqlite', 'Postgres' or 'NetSuite'.")]
    public string? Provider { get; set; }

    /// <summary>SQLite database file; relative paths resolve against the working directory.</summary>
    [Required]
    public string SqlitePath { get; set; } = "state/ledger.db";

    /// <summary>PostgreSQL connection string (Npgsql syntax). Env: <c>LEDGER_CONNECTION_STRING</c>.</summary>
    public string? ConnectionString { get; set; }

    /// <summary>How the PostgreSQL ledger writes a batch: <c>CopyMerge</c> (default: measured faster, BENCHMARKS.md) or <c>BatchedUpsert</c>.</summary>
    [RegularExpression("^(BatchedUpsert|CopyMerge)$", ErrorMessage = "Ledger:PostgresWriteMode must be 'BatchedUpsert' or 'CopyMerge'.")]
    public string PostgresWriteMode { get; set; } = "CopyMerge";

    /// <summary>The provider in effect.</summary>
    public string EffectiveProvider => !string.IsNullOrWhiteSpace(Provider) ? Provider : string.IsNullOrWhiteSpace(ConnectionString) ? "Sqlite" : "Postgres";

    /// <inheritdoc />
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (EffectiveProvider == "Postgres" && string.IsNullOrWhiteSpace(ConnectionString))
        {
            yield return new ValidationResult("Ledger:ConnectionString (or LEDGER_CONNECTION_STRING) must be set when Ledger:Provider is 'Postgres'.", [nameof(ConnectionString)]);
        }
    }
}

/// <summary>How the stream-processing topologies run (section <c>Processors</c>).</summary>
public sealed class ProcessorsOptions
{
    /// <summary>Configuration section name.</summary>
    public const string Section = "Processors";

    /// <summary>
    /// Streamiz <c>processing.guarantee</c>: <c>AtLeastOnce</c> (default; outputs are deduplicated downstream by posting key) or
    /// <c>ExactlyOnce</c> (Kafka transactions; readers of the outputs should use read_committed).
    /// </summary>
    [RegularExpression("^(AtLeastOnce|ExactlyOnce)$", ErrorMessage = "Processors:ProcessingGuarantee must be 'AtLeastOnce' or 'ExactlyOnce'.")]
    public string ProcessingGuarantee { get; set; } = "AtLeastOnce";

    /// <summary>True when <see cref="ProcessingGuarantee"/> is <c>ExactlyOnce</c>.</summary>
    public bool ExactlyOnce => ProcessingGuarantee == "ExactlyOnce";

    /// <summary>
    /// Streamiz <c>commit.interval.ms</c> under <c>AtLeastOnce</c>: each commit flushes the producer (waits for every
    /// delivery report) on the stream thread, so a short interval means more of those waits. <c>ExactlyOnce</c> keeps 100 ms
    /// (a transaction per commit; readers see nothing before it).
    /// </summary>
    [Range(10, 60_000, ErrorMessage = "Processors:CommitIntervalMs must be between 10 and 60000.")]
    public int CommitIntervalMs { get; set; } = 1000;

    /// <summary>Streamiz <c>max.poll.records</c>: records a stream thread takes from its consumer per poll loop.</summary>
    [Range(1, 100_000, ErrorMessage = "Processors:MaxPollRecords must be between 1 and 100000.")]
    public int MaxPollRecords { get; set; } = 500;

    /// <summary>
    /// librdkafka <c>fetch.queue.backoff.ms</c> of the topology's main consumer. librdkafka's default (1000) makes a
    /// partition whose local queue is full wait a second before its next fetch, which idles a fast stream thread.
    /// </summary>
    [Range(0, 300_000, ErrorMessage = "Processors:FetchQueueBackoffMs must be between 0 and 300000.")]
    public int FetchQueueBackoffMs { get; set; } = 100;

    /// <summary>
    /// librdkafka <c>linger.ms</c> of the topology's producer: how long it gathers records into a batch per partition.
    /// librdkafka's default (5) sends a produce request per handful of records when the output has many partitions,
    /// and each request costs the producer and the broker CPU; under <c>AtLeastOnce</c> every commit flushes the producer
    /// anyway, and under <c>ExactlyOnce</c> every 100 ms transaction does.
    /// </summary>
    [Range(0, 1_000, ErrorMessage = "Processors:ProducerLingerMs must be between 0 and 1000.")]
    public int ProducerLingerMs { get; set; } = 50;

    /// <summary>
    /// Streamiz <c>poll.ms</c>: how long a stream thread waits in one poll for records that have not arrived yet.
    /// Streamiz's default (100) left the thread waiting after its partitions were assigned and restored while the
    /// first fetches were on their way; records already fetched are taken at once whatever this is.
    /// </summary>
    [Range(1, 1_000, ErrorMessage = "Processors:PollMs must be between 1 and 1000.")]
    public int PollMs { get; set; } = 10;
}
