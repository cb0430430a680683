using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Contracts.Ops;
using Streaming.Producers.Connectors;
using Streaming.Producers.Crm;
using Streaming.Producers.Edge;
using Streaming.Producers.Webhooks;

namespace Streaming.Producers.Hosting;

/// <summary>Everything the connector endpoints share: options, verifiers, the record writer, metrics, the clock.</summary>
public sealed class ConnectorRuntime : IDisposable
{
    /// <summary>Topics the connectors write; the duplicate filter is seeded from them.</summary>
    public static readonly IReadOnlyList<string> ConnectorTopics =
    [
        Topics.BillingCustomers, Topics.BillingSubscriptions, Topics.BillingInvoices, Topics.BillingPayments, Topics.BillingCreditNotes,
        Topics.CrmAccounts, Topics.CrmOpportunities, Topics.ConnectorCheckpoints, Topics.DeadLetters, Topics.CrmContacts,
    ];

    private readonly IProducer<string, byte[]> _producer;
    private volatile bool _ready;

    /// <summary>Creates the runtime and its webhook producer (idempotent, acks=all, <c>message.timeout.ms</c> = <see cref="ConnectorOptions.ProduceTimeoutMs"/>).</summary>
    public ConnectorRuntime(ConnectorOptions options, ProducerConfig producerConfig, ISchemaRegistryClient registry, ILoggerFactory loggerFactory,
        TimeProvider? clock = null, ICrmRecordReader? crmReader = null, ConnectorMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(producerConfig);
        Options = options;
        Clock = clock ?? TimeProvider.System;
        LoggerFactory = loggerFactory;
        Metrics = metrics ?? new ConnectorMetrics();
        CrmReader = crmReader ?? NoCrmRecordReader.Instance;
        var config = new ProducerConfig(producerConfig.ToDictionary(k => k.Key, v => v.Value))
        {
            EnableIdempotence = true,
            Acks = Acks.All,
            MessageTimeoutMs = options.ProduceTimeoutMs,
        };
        var log = loggerFactory.CreateLogger("Streaming.Producers.Connectors");
        _producer = new ProducerBuilder<string, byte[]>(config)
            .SetLogHandler((_, m) => log.Log(m.Level >= SyslogLevel.Warning ? LogLevel.Information : LogLevel.Warning, "librdkafka {Facility}: {Message}", m.Facility, m.Message))
            .SetErrorHandler((_, e) =>
            {
                if (e.IsFatal)
                {
                    // An idempotent producer in a fatal state stores nothing again: liveness fails so the orchestrator restarts us.
                    FatalError = $"{e.Code}: {e.Reason}";
                    log.LogCritical("Webhook producer failed fatally ({Code}: {Reason}); /health/live now answers 503", e.Code, e.Reason);
                }
                else
                {
                    log.LogWarning("Webhook producer: {Code}: {Reason}", e.Code, e.Reason);
                }
            })
            .Build();
        Registry = registry;
        Writer = new ConnectorRecordWriter(_producer, registry, options.DedupeCapacity, log);
        Stripe = new StripeSignatureVerifier(options.Stripe.WebhookSecrets, TimeSpan.FromSeconds(options.Stripe.ToleranceSeconds), Clock);
        HubSpot = new HubSpotSignatureVerifier(options.HubSpot.ClientSecret, TimeSpan.FromSeconds(options.HubSpot.ToleranceSeconds), Clock);
    }

    /// <summary>Connector options in force.</summary>
    public ConnectorOptions Options { get; }

    /// <summary>Clock used for signature tolerances and record times.</summary>
    public TimeProvider Clock { get; }

    /// <summary>Loggers.</summary>
    public ILoggerFactory LoggerFactory { get; }

    /// <summary>Metrics served at <c>/metrics</c>.</summary>
    public ConnectorMetrics Metrics { get; }

    /// <summary>Registry client shared by the serializers.</summary>
    public ISchemaRegistryClient Registry { get; }

    /// <summary>The acknowledging, de-duplicating writer.</summary>
    public ConnectorRecordWriter Writer { get; }

    /// <summary>Stripe signature verifier.</summary>
    public StripeSignatureVerifier Stripe { get; }

    /// <summary>HubSpot signature verifier.</summary>
    public HubSpotSignatureVerifier HubSpot { get; }

    /// <summary>Reads full CRM records when an event carries only ids (Salesforce GAP events, HubSpot notifications).</summary>
    public ICrmRecordReader CrmReader { get; }

    /// <summary>Consumer settings given to <see cref="StartAsync"/> (for reading checkpoints back).</summary>
    public ConsumerConfig? ConsumerConfig { get; private set; }

    /// <summary>The producer's fatal error, if it had one (liveness fails).</summary>
    public string? FatalError { get; private set; }

    /// <summary>True once the duplicate filter is seeded and Kafka is not failing.</summary>
    public bool Ready => _ready && !Writer.Failing;

    /// <summary>Seeds the duplicate filter from the connector topics, then reports ready.</summary>
    public async Task StartAsync(ConsumerConfig consumerConfig, CancellationToken ct)
    {
        ConsumerConfig = consumerConfig;
        var added = await Writer.SeedAsync(consumerConfig, [.. ConnectorTopics], Options.DedupeSeedPerPartition, TimeSpan.FromSeconds(30), ct).ConfigureAwait(false);
        LoggerFactory.CreateLogger<ConnectorRuntime>().LogInformation("Duplicate filter seeded with {Count} stored (event, record) pairs", added);
        _ready = true;
    }

    /// <summary>An authentic vendor event that could not be mapped, kept whole in <c>ops.dlq.v1</c> (key = event id).</summary>
    public EdgeRecord DeadLetter(string source, string eventId, ReadOnlyMemory<byte> body, Exception error) => new(
        Topics.DeadLetters, eventId,
        OpsRecords.DeadLetter(new FailedRecord($"webhook:{source}", -1, -1, FailedRecord.KeyBytes(eventId), body.ToArray(), new Dictionary<string, byte[]>()),
            Clock.GetUtcNow().UtcDateTime, error.GetType().Name, error.Message, $"connector:{source}", Clock.GetUtcNow().UtcDateTime),
        $"{source}:{eventId}", eventId);

    /// <summary>A checkpoint record for <c>connect.checkpoints.v1</c> (key = connector id).</summary>
    public EdgeRecord Checkpoint(string connectorId, string cursor, string eventId, IDictionary<string, string> details) => new(
        Topics.ConnectorCheckpoints, connectorId,
        new ConnectorCheckpoint { connectorId = connectorId, cursor = cursor, updatedAt = Clock.GetUtcNow().UtcDateTime, details = details },
        connectorId, eventId);

    /// <inheritdoc />
    public void Dispose()
    {
        try
        {
            _producer.Flush(TimeSpan.FromSeconds(5));
        }
        finally
        {
            _producer.Dispose();
        }
    }
}
