using System.Net.Http.Headers;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Platform.Embedded;
using Streaming.Platform.Serialization;
using Streaming.Producers.Connectors;
using Streaming.Producers.Crm;
using Streaming.Producers.Edge;
using Streaming.Producers.Hosting;
using Streaming.Producers.Webhooks;
using Streaming.SchemaRegistry;

namespace Streaming.Producers.Tests;

/// <summary>An embedded cluster + registry with the connector topics and every schema, and a connector host on a free port.</summary>
internal sealed class ConnectorTestStack : IAsyncDisposable
{
    public const string StripeSecret = "whsec_test_current_0123456789abcdef";
    public const string StripeOldSecret = "whsec_test_previous_fedcba9876543210";
    public const string HubSpotSecret = "hubspot-client-secret-1234";
    public const string RelayToken = "relay-token-abcdef";

    private ConnectorTestStack(EmbeddedKafkaCluster cluster, EmbeddedSchemaRegistry registry, CachedSchemaRegistryClient client)
    {
        Cluster = cluster;
        Registry = registry;
        Client = client;
        Http = new HttpClient { Timeout = TimeSpan.FromSeconds(60) };
    }

    public EmbeddedKafkaCluster Cluster { get; }

    public EmbeddedSchemaRegistry Registry { get; }

    public CachedSchemaRegistryClient Client { get; }

    public HttpClient Http { get; }

    public ConnectorHost? Host { get; private set; }

    public string BaseUrl => Host!.Urls[0].TrimEnd('/');

    public static async Task<ConnectorTestStack> StartAsync(CancellationToken ct, Action<ConnectorOptions>? configure = null, ICrmRecordReader? reader = null, bool startHost = true)
    {
        var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { WatermarkCheckInterval = TimeSpan.Zero });
        var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        foreach (var topic in ConnectorRuntime.ConnectorTopics)
        {
            cluster.CreateTopic(topic, 3, 3);
        }

        await SchemaCatalog.RegisterAllAsync(client, SchemaCatalog.Load(SchemasDir()), ct);
        var stack = new ConnectorTestStack(cluster, registry, client);
        if (startHost)
        {
            await stack.StartHostAsync(ct, configure, reader);
        }

        return stack;
    }

    public async Task StartHostAsync(CancellationToken ct, Action<ConnectorOptions>? configure = null, ICrmRecordReader? reader = null)
    {
        var options = new ConnectorOptions { ProduceTimeoutMs = 3000 };
        options.Stripe.WebhookSecrets = [StripeSecret, StripeOldSecret];
        options.HubSpot.ClientSecret = HubSpotSecret;
        options.Salesforce.RelayToken = RelayToken;
        configure?.Invoke(options);
        Host = await ConnectorHost.StartAsync(new ConnectorHostSettings
        {
            Urls = "http://127.0.0.1:0",
            Options = options,
            Producer = new ProducerConfig { BootstrapServers = Cluster.BootstrapServers, LingerMs = 1 },
            Consumer = new ConsumerConfig { BootstrapServers = Cluster.BootstrapServers },
            Registry = Client,
            LoggerFactory = NullLoggerFactory.Instance,
            CrmReader = reader,
        }, ct);
    }

    public async Task StopHostAsync()
    {
        if (Host is not null)
        {
            await Host.DisposeAsync();
            Host = null;
        }
    }

    public static string SchemasDir()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "schemas", "subjects.json")))
            {
                return Path.Combine(dir.FullName, "schemas");
            }
        }

        throw new InvalidOperationException("schemas/subjects.json not found above " + AppContext.BaseDirectory);
    }

    public static string Fixture(string relative) => File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", relative));

    public static string SignStripe(string body, long? timestamp = null, string secret = StripeSecret)
    {
        var t = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        return $"t={t},v1={StripeSignatureVerifier.Sign(secret, t, Encoding.UTF8.GetBytes(body))}";
    }

    public async Task<HttpResponseMessage> PostStripeAsync(byte[] body, string? signature, CancellationToken ct)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseUrl + "/webhooks/stripe") { Content = new ByteArrayContent(body) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("application/json");
        if (signature is not null)
        {
            request.Headers.TryAddWithoutValidation("Stripe-Signature", signature);
        }

        return await Http.SendAsync(request, ct);
    }

    public Task<HttpResponseMessage> PostStripeAsync(string body, CancellationToken ct) => PostStripeAsync(Encoding.UTF8.GetBytes(body), SignStripe(body), ct);

    public async Task<HttpResponseMessage> PostHubSpotAsync(string body, CancellationToken ct, string? signature = null, string? timestamp = null, bool omit = false)
    {
        var url = BaseUrl + "/webhooks/hubspot";
        var ts = timestamp ?? DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (!omit)
        {
            request.Headers.TryAddWithoutValidation("X-HubSpot-Signature-v3", signature ?? HubSpotSignatureVerifier.Sign(HubSpotSecret, "POST", url, Encoding.UTF8.GetBytes(body), ts));
            request.Headers.TryAddWithoutValidation("X-HubSpot-Request-Timestamp", ts);
        }

        return await Http.SendAsync(request, ct);
    }

    public async Task<HttpResponseMessage> PostSalesforceAsync(string body, CancellationToken ct, string? token = RelayToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, BaseUrl + "/webhooks/salesforce") { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        if (token is not null)
        {
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
        }

        return await Http.SendAsync(request, ct);
    }

    /// <summary>Sum of high watermarks over the connector topics: how many records were ever stored.</summary>
    public long StoredRecords()
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = Cluster.BootstrapServers, GroupId = "count" }).Build();
        long total = 0;
        foreach (var topic in ConnectorRuntime.ConnectorTopics)
        {
            for (var p = 0; p < 3; p++)
            {
                total += consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value;
            }
        }

        return total;
    }

    /// <summary>Every record of <paramref name="topic"/>: key, event id header, correlation id, traceparent, value bytes.</summary>
    public List<StoredRecord> Read(string topic)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = Cluster.BootstrapServers, GroupId = "read", EnablePartitionEof = true }).Build();
        var ends = new Dictionary<int, long>();
        for (var p = 0; p < 3; p++)
        {
            ends[p] = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)).High.Value;
        }

        var result = new List<StoredRecord>();
        var next = ends.Keys.ToDictionary(p => p, _ => 0L);
        consumer.Assign(ends.Where(e => e.Value > 0).Select(e => new TopicPartitionOffset(topic, e.Key, 0)));
        var deadline = DateTime.UtcNow.AddSeconds(30);
        while (next.Any(n => n.Value < ends[n.Key]) && DateTime.UtcNow < deadline)
        {
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null || r.IsPartitionEOF)
            {
                continue;
            }

            result.Add(Stored(r));
            next[r.Partition.Value] = r.Offset.Value + 1;
        }

        return result;
    }

    public T Value<T>(StoredRecord record) where T : class, Avro.Specific.ISpecificRecord
        => new AvroSerdes<T>(Client).DeserializeValue(record.Value, record.Topic);

    private static StoredRecord Stored(ConsumeResult<string, byte[]> r) => new(r.Topic, r.Message.Key,
        TracingHeaders.Get(r.Message.Headers, ConnectorRecordWriter.EventIdHeader), TracingHeaders.Get(r.Message.Headers, TracingHeaders.CorrelationId),
        TracingHeaders.Get(r.Message.Headers, TracingHeaders.TraceParent), r.Message.Value);

    public async ValueTask DisposeAsync()
    {
        Http.Dispose();
        await StopHostAsync();
        Client.Dispose();
        await Registry.DisposeAsync();
        await Cluster.DisposeAsync();
    }
}

internal sealed record StoredRecord(string Topic, string Key, string? EventId, string? CorrelationId, string? TraceParent, byte[] Value);
