using BenchmarkDotNet.Attributes;
using Confluent.SchemaRegistry;
using Streaming.Bench.Sink;
using Streaming.Contracts;
using Streaming.Contracts.Erp;
using Streaming.Contracts.Finance;
using Streaming.Platform.Serialization;
using Streaming.SchemaRegistry;

namespace Streaming.Bench.Micro;

/// <summary>
/// Per-record Avro cost on the posting sink's hot path: decoding a finance.events.v1 value (the sink benchmark's 3-line invoice)
/// and encoding its erp.postings.v1 result, with Confluent's serdes (baseline, what the sink used before) against
/// <see cref="AvroWireCodec{T}"/> (same bytes, checked in the setup).
/// </summary>
[MemoryDiagnoser]
public class SinkCodecBenchmarks
{
    private EmbeddedSchemaRegistry _registry = null!;
    private CachedSchemaRegistryClient _client = null!;
    private AvroSerdes<FinanceEvent> _confluentEvents = null!;
    private AvroWireCodec<FinanceEvent> _events = null!;
    private AvroSerdes<ErpPostingResult> _confluentResults = null!;
    private AvroWireCodec<ErpPostingResult> _results = null!;
    private byte[] _event = null!;
    private ErpPostingResult _result = null!;

    /// <summary>Starts an embedded registry with both schemas registered and checks that both codecs agree byte for byte.</summary>
    [GlobalSetup]
    public void Setup()
    {
        _registry = EmbeddedSchemaRegistry.StartAsync().GetAwaiter().GetResult();
        _client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = _registry.Url });
        _client.RegisterSchemaAsync(Topics.ValueSubject(Topics.FinanceEvents), new Schema(FinanceEvent._SCHEMA.ToString(), SchemaType.Avro)).GetAwaiter().GetResult();
        _client.RegisterSchemaAsync(Topics.ValueSubject(Topics.ErpPostings), new Schema(ErpPostingResult._SCHEMA.ToString(), SchemaType.Avro)).GetAwaiter().GetResult();
        _confluentEvents = new AvroSerdes<FinanceEvent>(_client);
        _events = new AvroWireCodec<FinanceEvent>(_client);
        _confluentResults = new AvroSerdes<ErpPostingResult>(_client);
        _results = new AvroWireCodec<ErpPostingResult>(_client);
        _event = _confluentEvents.SerializeValue(SinkBenchmark.Invoice(42), Topics.FinanceEvents);
        _result = new ErpPostingResult
        {
            postingKey = "invoice:b42:issued", correlationId = "corr-b42", erpDocumentId = "JE-0000000042", status = PostingStatus.POSTED,
            contentHash = new string('a', 64), legalEntityId = "US01", currency = "USD", totalDebits = Money.ToAvro(153.35m),
            postedAt = new DateTime(2026, 11, 25, 12, 0, 0, DateTimeKind.Utc), ledgerName = "PostgreSQL 127.0.0.1:5432/ledger (user postgres, CopyMerge)",
        };
        if (!_events.SerializeValue(_events.DeserializeValue(_event, Topics.FinanceEvents), Topics.FinanceEvents).AsSpan().SequenceEqual(_event)
            || !_results.SerializeValue(_result, Topics.ErpPostings).AsSpan().SequenceEqual(_confluentResults.SerializeValue(_result, Topics.ErpPostings)))
        {
            throw new InvalidOperationException("AvroWireCodec and Confluent's serdes disagree.");
        }
    }

    /// <summary>Stops the registry.</summary>
    [GlobalCleanup]
    public void Cleanup()
    {
        _client.Dispose();
        _registry.DisposeAsync().AsTask().GetAwaiter().GetResult();
    }

    [Benchmark(Baseline = true)]
    public FinanceEvent Decode_event_Confluent() => _confluentEvents.DeserializeValue(_event, Topics.FinanceEvents);

    [Benchmark]
    public FinanceEvent Decode_event_AvroWireCodec() => _events.DeserializeValue(_event, Topics.FinanceEvents);

    [Benchmark]
    public byte[] Encode_result_Confluent() => _confluentResults.SerializeValue(_result, Topics.ErpPostings);

    [Benchmark]
    public byte[] Encode_result_AvroWireCodec() => _results.SerializeValue(_result, Topics.ErpPostings);
}
