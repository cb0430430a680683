using BenchmarkDotNet.Attributes;
using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry;
using Confluent.SchemaRegistry.Serdes;
using Streaming.Bench.Usage;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Producers.Usage;
using Streaming.SchemaRegistry;

namespace Streaming.Bench.Micro;

/// <summary>
/// Per-record cost of turning a usage event into its billing.usage.v1 value: Confluent's AvroSerializer over the
/// generated UsageEvent (baseline; the contract object is built inside, as a producer holding a UsageRecord would)
/// against the hand-written UsageAvroEncoder (same bytes), and parsing one NDJSON line of the HTTP endpoint.
/// </summary>
[MemoryDiagnoser]
public class UsageEncodingBenchmarks
{
    private EmbeddedSchemaRegistry _registry = null!;
    private CachedSchemaRegistryClient _client = null!;
    private ISerializer<UsageEvent> _confluent = null!;
    private UsageAvroEncoder _encoder = null!;
    private UsageRecord _record;
    private byte[] _line = null!;
    private readonly SerializationContext _context = new(MessageComponentType.Value, Topics.BillingUsage);

    /// <summary>Starts an embedded registry with the usage schema registered.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _registry = EmbeddedSchemaRegistry.StartAsync().GetAwaiter().GetResult();
        _client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url });
        _client.RegisterSchemaAsync(Topics.ValueSubject(Topics.BillingUsage), new Schema(UsageEvent._SCHEMA.ToString(), SchemaType.Avro)).GetAwaiter().GetResult();
        _confluent = new AvroSerializer<UsageEvent>(_client, new AvroSerializerConfig { AutoRegisterSchemas = false }).AsSyncOverAsync();
        _encoder = UsageAvroEncoder.CreateAsync(_client).GetAwaiter().GetResult();
        _record = UsageThroughput.Record(123_456, UsageThroughput.Items(1000), new Dictionary<string, string> { ["region"] = "eu-west-1", ["plan"] = "pro" });
        _line = UsageThroughput.Body(0, 1).AsSpan(0, UsageThroughput.Body(0, 1).Length - 1).ToArray();
        if (!_confluent.Serialize(ToContract(_record), _context).AsSpan().SequenceEqual(_encoder.Encode(_record)))
        {
            throw new InvalidOperationException("The encoder and the Confluent serializer disagree.");
        }
    }

    /// <summary>Stops the registry.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _registry.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    /// <summary>Confluent AvroSerializer (baseline), including building the generated contract object.</summary>
    [Benchmark(Baseline = true)]
    public byte[] Confluent_AvroSerializer() => _confluent.Serialize(ToContract(_record), _context);

    /// <summary>The hand-written encoder.</summary>
    [Benchmark]
    public byte[] UsageAvroEncoder_Encode() => _encoder.Encode(_record);

    /// <summary>One NDJSON line parsed and validated (a fresh parser per call, as per request).</summary>
    [Benchmark]
    public bool NdjsonLine_Parse() => new UsageLineParser(DateTimeOffset.UtcNow, "bench").TryParse(_line, 1, out _, out _);

    private static UsageEvent ToContract(UsageRecord r) => new()
    {
        usageEventId = r.UsageEventId, subscriptionItemId = r.SubscriptionItemId, customerId = r.CustomerId, meter = r.Meter,
        quantity = Money.Quantity(r.Quantity), occurredAt = r.OccurredAt.UtcDateTime, receivedAt = r.ReceivedAt.UtcDateTime, source = r.Source,
        attributes = new Dictionary<string, string>(r.Attributes!),
    };
}
