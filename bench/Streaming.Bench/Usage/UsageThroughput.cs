using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Confluent.Kafka;
using Confluent.SchemaRegistry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Streaming.Bench.Raw;
using Streaming.Producers.Usage;

namespace Streaming.Bench.Usage;

/// <summary>Memory seen while a phase ran (sampled every 100 ms).</summary>
public sealed record MemorySample(double PeakManagedMb, double PeakWorkingSetMb, double EndManagedMb, double EndWorkingSetMb, int Gen2Collections);

/// <summary>One timed usage phase: records/s plus the memory seen meanwhile.</summary>
/// <param name="CpuMicrosPerRecord">
/// Process CPU time (every thread: caller, librdkafka, Kestrel, the in-process embedded broker) over the timed interval,
/// per record. Other load on the machine changes it far less than records/s.
/// </param>
public sealed record UsagePhase(string Phase, long Records, TimeSpan Elapsed, MemorySample Memory, double CpuMicrosPerRecord)
{
    /// <summary>Records acknowledged per second.</summary>
    public double RecordsPerSecond => Records / Elapsed.TotalSeconds;
}

/// <summary>
/// Usage ingestion throughput through the library API (<see cref="UsageIngestor"/>) and through <c>POST /ingest/usage</c>
/// (Kestrel on loopback, in the same process), each timed until Kafka acknowledged every record.
/// </summary>
public static class UsageThroughput
{
    private static readonly DateTimeOffset Start = new(2026, 11, 1, 0, 0, 0, TimeSpan.Zero);

    /// <summary>Producer settings shared by both paths: those of the raw baseline (idempotent, acks=all, linger 5 ms, 1 MB batches).</summary>
    public static ProducerConfig ProducerConfig(string bootstrapServers, RawProducerSettings raw, string clientId) => new()
    {
        BootstrapServers = bootstrapServers,
        ClientId = clientId,
        Acks = Acks.All,
        EnableIdempotence = true,
        MaxInFlight = 5,
        LingerMs = raw.LingerMs,
        BatchSize = raw.BatchSizeBytes,
        CompressionType = raw.Compression,
        QueueBufferingMaxMessages = 1_000_000,
    };

    /// <summary>A usage record as an in-process producer would make it: unique event id, 1,000 subscription items, two attributes.</summary>
    public static UsageRecord Record(long i, string[] items, IReadOnlyDictionary<string, string> attributes) => new(
        "use_" + i.ToString(CultureInfo.InvariantCulture), items[i % items.Length], "cus_" + (i % items.Length).ToString(CultureInfo.InvariantCulture), "api_calls",
        1 + (i % 1000), Start.AddMilliseconds(i), Start.AddMilliseconds(i + 1500), "bench-gateway", attributes);

    /// <summary>CPU time used so far by every thread of this process.</summary>
    public static TimeSpan ProcessCpu()
    {
        using var process = Process.GetCurrentProcess();
        return process.TotalProcessorTime;
    }

    /// <summary>Subscription item ids used as keys.</summary>
    public static string[] Items(int count) => Enumerable.Range(0, count).Select(i => $"si_{i:D5}").ToArray();

    /// <summary>The library path: one thread calls <see cref="UsageIngestor.EnqueueAsync"/>-equivalent (TryEnqueue, waiting when full); timed until every record is acknowledged.</summary>
    public static async Task<UsagePhase> MeasureLibraryAsync(string bootstrapServers, ISchemaRegistryClient registry, string topic, long records,
        RawProducerSettings settings, int capacity, CancellationToken ct)
    {
        using var ingestor = await UsageIngestor.CreateAsync(ProducerConfig(bootstrapServers, settings, "streaming-bench-usage-lib"), registry,
            new UsageIngestorOptions { Topic = topic, Capacity = capacity }, cancellationToken: ct).ConfigureAwait(false);
        var items = Items(1000);
        var attributes = new Dictionary<string, string> { ["region"] = "eu-west-1", ["plan"] = "pro" };
        var context = UsageContext.Create("bench-usage-lib");
        using var memory = new MemoryProbe();
        var cpu = ProcessCpu();
        var clock = Stopwatch.StartNew();
        await Task.Factory.StartNew(() =>
        {
            for (long i = 0; i < records; i++)
            {
                var record = Record(i, items, attributes);
                while (!ingestor.TryEnqueue(record, context))
                {
                    // At capacity: the bounded wait EnqueueAsync does, without an await per record on this hot loop.
                    Thread.Sleep(1);
                    ct.ThrowIfCancellationRequested();
                }
            }
        }, ct, TaskCreationOptions.LongRunning, TaskScheduler.Default).ConfigureAwait(false);
        await ingestor.FlushAsync(TimeSpan.FromSeconds(120), ct).ConfigureAwait(false);
        clock.Stop();
        var cpuPerRecord = (ProcessCpu() - cpu).TotalMicroseconds / records;
        if (ingestor.Delivered != records || ingestor.Failed != 0)
        {
            throw new InvalidOperationException($"Library path: {ingestor.Delivered:N0} delivered, {ingestor.Failed:N0} failed of {records:N0}.");
        }

        return new UsagePhase("library", records, clock.Elapsed, memory.Stop(), cpuPerRecord);
    }

    /// <summary>
    /// The HTTP path: <paramref name="concurrency"/> clients post NDJSON batches of <paramref name="linesPerRequest"/> lines to
    /// <c>POST /ingest/usage</c> on Kestrel (loopback, same process); each answer comes after Kafka acknowledged its lines.
    /// Bodies are built before the clock starts (distinct event ids within a body).
    /// </summary>
    public static async Task<UsagePhase> MeasureHttpAsync(string bootstrapServers, ISchemaRegistryClient registry, string topic, long records,
        RawProducerSettings settings, int capacity, int linesPerRequest, int concurrency, CancellationToken ct)
    {
        using var ingestor = await UsageIngestor.CreateAsync(ProducerConfig(bootstrapServers, settings, "streaming-bench-usage-http"), registry,
            new UsageIngestorOptions { Topic = topic, Capacity = capacity }, cancellationToken: ct).ConfigureAwait(false);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(ingestor);
        builder.Services.AddSingleton(new UsageEndpointOptions { MaxConcurrentRequests = Math.Max(32, concurrency * 2) });
        await using var app = builder.Build();
        app.MapUsageIngestion();
        await app.StartAsync(ct).ConfigureAwait(false);
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();

        var requests = (int)((records + linesPerRequest - 1) / linesPerRequest);
        var bodies = Enumerable.Range(0, Math.Min(requests, 64)).Select(b => Body(b, linesPerRequest)).ToArray();
        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = concurrency, UseProxy = false }) { BaseAddress = new Uri(url), Timeout = TimeSpan.FromMinutes(2) };
        long accepted = 0;
        long throttled = 0;
        var next = -1;
        using var memory = new MemoryProbe();
        var cpu = ProcessCpu();
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(_ => Task.Run(async () =>
        {
            int r;
            while ((r = Interlocked.Increment(ref next)) < requests)
            {
                var lines = (int)Math.Min(linesPerRequest, records - ((long)r * linesPerRequest));
                var body = lines == linesPerRequest ? bodies[r % bodies.Length] : Body(r, lines);
                while (true)
                {
                    using var content = new ByteArrayContent(body);
                    content.Headers.ContentType = new MediaTypeHeaderValue(UsageIngestionEndpoint.ContentType);
                    using var response = await http.PostAsync(UsageIngestionEndpoint.Route, content, ct).ConfigureAwait(false);
                    if (response.StatusCode == HttpStatusCode.TooManyRequests)
                    {
                        // Backpressure as a client should take it: wait, then resend the same batch (nothing of it was stored).
                        Interlocked.Increment(ref throttled);
                        await Task.Delay(50, ct).ConfigureAwait(false);
                        continue;
                    }

                    if (response.StatusCode != HttpStatusCode.OK)
                    {
                        throw new InvalidOperationException($"POST /ingest/usage answered {(int)response.StatusCode}: {await response.Content.ReadAsStringAsync(ct).ConfigureAwait(false)}");
                    }

                    Interlocked.Add(ref accepted, lines);
                    break;
                }
            }
        }, ct))).ConfigureAwait(false);
        clock.Stop();
        var cpuPerRecord = (ProcessCpu() - cpu).TotalMicroseconds / records;
        var sample = memory.Stop();
        await app.StopAsync(ct).ConfigureAwait(false);
        if (accepted != records || ingestor.Delivered != records)
        {
            throw new InvalidOperationException($"HTTP path: {accepted:N0} lines accepted, {ingestor.Delivered:N0} delivered of {records:N0}.");
        }

        if (throttled > 0)
        {
            Console.Error.WriteLine($"  ... http: {throttled:N0} request(s) got 429 and were resent");
        }

        return new UsagePhase("http", records, clock.Elapsed, sample, cpuPerRecord);
    }

    /// <summary>One NDJSON body of <paramref name="lines"/> lines with event ids unique within it.</summary>
    public static byte[] Body(int batch, int lines)
    {
        var sb = new StringBuilder(lines * 220);
        for (var i = 0; i < lines; i++)
        {
            var n = ((long)batch * lines) + i;
            sb.Append(CultureInfo.InvariantCulture,
                $$$"""{"usageEventId":"use_{{{n}}}","subscriptionItemId":"si_{{{n % 1000:D5}}}","customerId":"cus_{{{n % 1000}}}","meter":"api_calls","quantity":{{{1 + (n % 1000)}}},"occurredAt":"{{{Start.AddMilliseconds(n):yyyy-MM-ddTHH:mm:ss.fffZ}}}","source":"bench-gateway","attributes":{"region":"eu-west-1","plan":"pro"}}""");
            sb.Append('\n');
        }

        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    /// <summary>Records the log of <paramref name="topic"/> holds (high minus low watermarks over every partition).</summary>
    public static long CountInLog(string bootstrapServers, string topic, int partitions)
    {
        using var consumer = new ConsumerBuilder<Ignore, Ignore>(new ConsumerConfig { BootstrapServers = bootstrapServers, GroupId = "bench-count" }).Build();
        return Enumerable.Range(0, partitions)
            .Select(p => consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), TimeSpan.FromSeconds(10)))
            .Sum(w => w.High.Value - w.Low.Value);
    }

    private sealed class MemoryProbe : IDisposable
    {
        private readonly Timer _timer;
        private readonly int _gen2 = GC.CollectionCount(2);
        private long _peakManaged;
        private long _peakWorkingSet;

        public MemoryProbe() => _timer = new Timer(_ => Sample(), null, TimeSpan.Zero, TimeSpan.FromMilliseconds(100));

        private void Sample()
        {
            var managed = GC.GetTotalMemory(false);
            var ws = Environment.WorkingSet;
            InterlockedMax(ref _peakManaged, managed);
            InterlockedMax(ref _peakWorkingSet, ws);
        }

        public MemorySample Stop()
        {
            _timer.Dispose();
            Sample();
            return new MemorySample(_peakManaged / 1e6, _peakWorkingSet / 1e6, GC.GetTotalMemory(false) / 1e6, Environment.WorkingSet / 1e6, GC.CollectionCount(2) - _gen2);
        }

        public void Dispose() => _timer.Dispose();

        private static void InterlockedMax(ref long target, long value)
        {
            var current = Interlocked.Read(ref target);
            while (value > current)
            {
                var seen = Interlocked.CompareExchange(ref target, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }
    }
}
