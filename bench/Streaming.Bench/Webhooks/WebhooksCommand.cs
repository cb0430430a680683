using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Platform.Embedded;
using Streaming.Producers.Connectors;
using Streaming.Producers.Hosting;
using Streaming.Producers.Webhooks;
using Streaming.SchemaRegistry;

namespace Streaming.Bench.Webhooks;

/// <summary>Options of <c>webhooks</c>.</summary>
public sealed record WebhooksOptions(int Rate, int Seconds, int WarmupSeconds)
{
    /// <summary>Usage line.</summary>
    public const string Usage = "webhooks [--rate 500] [--seconds 20] [--warmup-seconds 3]   Stripe webhook latency at a fixed request rate (embedded broker)";

    /// <summary>Parses the arguments.</summary>
    public static WebhooksOptions Parse(IReadOnlyList<string> args)
    {
        var options = new WebhooksOptions(500, 20, 3);
        for (var i = 0; i < args.Count; i++)
        {
            var value = i + 1 < args.Count ? args[i + 1] : throw new ArgumentException($"{args[i]} needs a value");
            var number = int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0 ? n : throw new ArgumentException($"{args[i]} needs a positive integer, not '{value}'");
            options = args[i] switch
            {
                "--rate" => options with { Rate = number },
                "--seconds" => options with { Seconds = number },
                "--warmup-seconds" => options with { WarmupSeconds = number },
                _ => throw new ArgumentException($"Unknown option '{args[i]}'."),
            };
            i++;
        }

        return options;
    }
}

/// <summary>
/// Stripe webhook p50/p99 latency at a fixed request rate (open loop: each request is timed from its scheduled send time, so
/// a slow answer delays no later request and hides no queueing), on the embedded broker with the embedded registry, every
/// request a distinct signed <c>customer.updated</c> event answered only after Kafka acknowledged it. In the same run and at
/// the same rate, the baseline: a raw idempotent <c>acks=all</c> produce of a byte record of the same size, timed to its
/// delivery report. The two alternate in one-second blocks so the machine's background load hits both alike. Reports both
/// and their ratio; fails when any request is not answered 200 or any event is not stored once.
/// </summary>
public static class WebhooksCommand
{
    private const string Secret = "whsec_bench_0123456789";

    /// <summary>Runs the benchmark.</summary>
    public static async Task<int> RunAsync(WebhooksOptions options, CancellationToken ct)
    {
        ArgumentNullException.ThrowIfNull(options);
        using var cluster = EmbeddedKafkaCluster.Start(new EmbeddedKafkaOptions { Brokers = 3, WatermarkCheckInterval = TimeSpan.Zero });
        await using var registry = await EmbeddedSchemaRegistry.StartAsync(cancellationToken: ct);
        using var client = new CachedSchemaRegistryClient(new SchemaRegistryConfig { Url = registry.Url });
        foreach (var topic in ConnectorRuntime.ConnectorTopics)
        {
            cluster.CreateTopic(topic, 6, 3);
        }

        cluster.CreateTopic("bench.raw.webhook-baseline", 6, 3);
        await SchemaCatalog.RegisterAllAsync(client, SchemaCatalog.Load(FindSchemas()), ct);
        var connectorOptions = new ConnectorOptions();
        connectorOptions.Stripe.WebhookSecrets = [Secret];
        var producerConfig = new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 1 };
        await using var host = await ConnectorHost.StartAsync(new ConnectorHostSettings
        {
            Urls = "http://127.0.0.1:0",
            Options = connectorOptions,
            Producer = producerConfig,
            Consumer = new ConsumerConfig { BootstrapServers = cluster.BootstrapServers },
            Registry = client,
            LoggerFactory = NullLoggerFactory.Instance,
        }, ct);
        var url = host.Urls[0].TrimEnd('/') + "/webhooks/stripe";
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 512, PooledConnectionLifetime = TimeSpan.FromMinutes(10) });
        var sampleSize = Encoding.UTF8.GetByteCount(Event(0));

        Console.WriteLine($"webhooks: {options.Rate} requests/s for {options.Seconds} s after {options.WarmupSeconds} s warm-up; embedded librdkafka mock cluster (3 brokers), embedded registry; body ~{sampleSize} bytes");
        var sequence = 0;
        using var raw = new ProducerBuilder<string, byte[]>(new ProducerConfig { BootstrapServers = cluster.BootstrapServers, LingerMs = 1, EnableIdempotence = true, Acks = Acks.All }).Build();
        var payload = new byte[sampleSize];
        var rawSequence = 0;
        Task Webhook() => PostAsync(http, url, Interlocked.Increment(ref sequence), ct);
        Task Raw() => RawAsync(raw, payload, Interlocked.Increment(ref rawSequence));
        await OpenLoopAsync(options.Rate, options.WarmupSeconds, Webhook, ct);
        await OpenLoopAsync(options.Rate, options.WarmupSeconds, Raw, ct);

        // The two paths alternate in one-second blocks, so background load on the machine hits both alike.
        var webhook = new Run([], 0);
        var baseline = new Run([], 0);
        for (var block = 0; block < options.Seconds; block++)
        {
            webhook = webhook.Add(await OpenLoopAsync(options.Rate, 1, Webhook, ct));
            baseline = baseline.Add(await OpenLoopAsync(options.Rate, 1, Raw, ct));
        }

        var stored = StoredCustomers(cluster.BootstrapServers);
        if (stored != sequence)
        {
            throw new InvalidOperationException($"{sequence} webhook events were accepted but {stored} customer records are stored.");
        }

        Console.WriteLine();
        Console.WriteLine("| path | requests | achieved/s | p50 ms | p90 ms | p99 ms | p99.9 ms | max ms |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|---:|---:|");
        Print("Stripe webhook (verify + map + Avro + produce, 200 after ack)", webhook);
        Print("raw produce, acks=all, to delivery report (baseline)", baseline);
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"ratio webhook/raw: p50 {webhook.P(0.50) / baseline.P(0.50):0.00}×, p99 {webhook.P(0.99) / baseline.P(0.99):0.00}×; all {webhook.Count} webhook answers 200; {stored} records stored, one per event"));
        return 0;
    }

    private sealed record Run(List<double> LatenciesMs, double Seconds)
    {
        public int Count => LatenciesMs.Count;

        public Run Add(Run other) => new([.. LatenciesMs, .. other.LatenciesMs], Seconds + other.Seconds);

        public double P(double q)
        {
            var sorted = LatenciesMs.Order().ToList();
            return sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(q * sorted.Count) - 1)];
        }
    }

    private static void Print(string name, Run run) => Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
        $"| {name} | {run.Count} | {run.Count / run.Seconds:0} | {run.P(0.5):0.00} | {run.P(0.9):0.00} | {run.P(0.99):0.00} | {run.P(0.999):0.00} | {run.LatenciesMs.Max():0.00} |"));

    /// <summary>Fires <paramref name="send"/> at <paramref name="rate"/> per second, each timed from its scheduled start.</summary>
    private static async Task<Run> OpenLoopAsync(int rate, int seconds, Func<Task> send, CancellationToken ct)
    {
        var total = rate * seconds;
        var latencies = new double[total];
        var tasks = new Task[total];
        var clock = Stopwatch.StartNew();
        for (var i = 0; i < total; i++)
        {
            var due = TimeSpan.FromSeconds((double)i / rate);
            var wait = due - clock.Elapsed;
            if (wait > TimeSpan.FromMilliseconds(1))
            {
                await Task.Delay(wait, ct);
            }

            var index = i;
            tasks[i] = Task.Run(async () =>
            {
                await send();
                latencies[index] = (clock.Elapsed - due).TotalMilliseconds;
            }, ct);
        }

        await Task.WhenAll(tasks);
        return new Run([.. latencies], clock.Elapsed.TotalSeconds);
    }

    private static async Task PostAsync(HttpClient http, string url, int n, CancellationToken ct)
    {
        var body = Event(n);
        var t = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        using var request = new HttpRequestMessage(HttpMethod.Post, url) { Content = new StringContent(body, Encoding.UTF8, "application/json") };
        request.Headers.TryAddWithoutValidation("Stripe-Signature", $"t={t},v1={StripeSignatureVerifier.Sign(Secret, t, Encoding.UTF8.GetBytes(body))}");
        using var response = await http.SendAsync(request, ct);
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"request {n} was answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct)}");
        }
    }

    private static async Task RawAsync(IProducer<string, byte[]> producer, byte[] payload, int n)
        => await producer.ProduceAsync("bench.raw.webhook-baseline", new Message<string, byte[]> { Key = n.ToString(CultureInfo.InvariantCulture), Value = payload });

    private const string EventTemplate = """{"id":"evt_bench_#N#","object":"event","api_version":"2024-11-20.acacia","created":1680893993,"type":"customer.updated","data":{"object":{"id":"cus_bench_#C#","object":"customer","created":1680893993,"email":null,"name":"Bench customer #C#","currency":"usd","address":{"country":"US"},"metadata":{"crm_account_id":"001BENCH#C#"}}},"livemode":false,"pending_webhooks":1,"request":{"id":null,"idempotency_key":null}}""";

    private static string Event(int n) => EventTemplate
        .Replace("#N#", n.ToString("D9", CultureInfo.InvariantCulture), StringComparison.Ordinal)
        .Replace("#C#", (n % 5000).ToString("D6", CultureInfo.InvariantCulture), StringComparison.Ordinal);

    private static long StoredCustomers(string bootstrap)
    {
        using var consumer = new ConsumerBuilder<string, byte[]>(new ConsumerConfig { BootstrapServers = bootstrap, GroupId = "bench-count" }).Build();
        long total = 0;
        for (var p = 0; p < 6; p++)
        {
            total += consumer.QueryWatermarkOffsets(new TopicPartition(Topics.BillingCustomers, p), TimeSpan.FromSeconds(10)).High.Value;
        }

        return total;
    }

    private static string FindSchemas()
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Directory.GetCurrentDirectory() })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "schemas", "subjects.json")))
                {
                    return Path.Combine(dir.FullName, "schemas");
                }
            }
        }

        throw new InvalidOperationException("schemas/subjects.json not found above the working directory.");
    }
}
