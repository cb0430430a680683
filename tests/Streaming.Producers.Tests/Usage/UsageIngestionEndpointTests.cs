using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Streaming.Contracts;
using Streaming.Platform.Serialization;
using Streaming.Producers.Usage;

namespace Streaming.Producers.Tests.Usage;

/// <summary>
/// <c>POST /ingest/usage</c> on Kestrel (a minimal host of the test's own) over the embedded broker: the per-line report,
/// exactly-once landing of the accepted lines, and every refusal (415, 413, 400, 429 + Retry-After, 503 + Retry-After)
/// producing nothing. The connector host that serves it in production is not covered here.
/// </summary>
public sealed class UsageIngestionEndpointTests(UsageStack stack) : IClassFixture<UsageStack>
{
    private static string Line(int i, string item = "si_1", string occurredAt = "2026-11-25T10:00:00Z") =>
        $$$"""{"usageEventId":"use_{{{i}}}","subscriptionItemId":"{{{item}}}","customerId":"cus_1","meter":"api_calls","quantity":{{{i}}}.25,"occurredAt":"{{{occurredAt}}}","attributes":{"region":"eu"}}""";

    /// <summary>Several lines, one per id, as one NDJSON body.</summary>
    private static string Lines(params int[] ids) => string.Join("\n", ids.Select(i => Line(i)));

    private sealed class Host(WebApplication app, HttpClient http, UsageIngestor ingestor, string topic) : IAsyncDisposable
    {
        public HttpClient Http => http;

        /// <summary>The test's own usage topic the endpoint produces to.</summary>
        public string Topic => topic;

        /// <summary>POSTs <paramref name="body"/> to the endpoint with the given content type.</summary>
        public Task<HttpResponseMessage> PostAsync(string body, string mediaType = UsageIngestionEndpoint.ContentType)
            => http.PostAsync(UsageIngestionEndpoint.Route, Ndjson(body, mediaType), TestContext.Current.CancellationToken);

        public UsageIngestor Ingestor => ingestor;

        public async ValueTask DisposeAsync()
        {
            http.Dispose();
            await app.StopAsync();
            await app.DisposeAsync();
            ingestor.Dispose();
        }
    }

    /// <summary>A fresh topic of <paramref name="partitions"/> and the endpoint on Kestrel producing to it.</summary>
    private async Task<Host> StartAsync(int partitions = 1, Action<ProducerConfig>? producer = null, UsageEndpointOptions? options = null, CapturingLogger? log = null,
        Action<UsageEndpointOptions>? configure = null)
    {
        var topic = await stack.NewTopicAsync(partitions);
        var config = stack.ProducerConfig();
        producer?.Invoke(config);
        using var loggerFactory = log is null ? null : LoggerFactory.Create(b => b.AddProvider(log).SetMinimumLevel(LogLevel.Trace));
        var ingestor = await UsageIngestor.CreateAsync(config, stack.Client, new UsageIngestorOptions { Topic = topic }, loggerFactory, TestContext.Current.CancellationToken);
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        if (log is not null)
        {
            builder.Logging.AddProvider(log).SetMinimumLevel(LogLevel.Trace);
        }

        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddSingleton(ingestor);
        if (options is not null)
        {
            builder.Services.AddSingleton(options);
        }

        if (configure is not null)
        {
            builder.Services.Configure(configure);
        }

        var app = builder.Build();
        app.MapUsageIngestion();
        await app.StartAsync(TestContext.Current.CancellationToken);
        var url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new Host(app, new HttpClient { BaseAddress = new Uri(url) }, ingestor, topic);
    }

    private static HttpContent Ndjson(string body, string mediaType = UsageIngestionEndpoint.ContentType)
    {
        var content = new StringContent(body, Encoding.UTF8);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse(mediaType);
        return content;
    }

    private static async Task<JsonElement> Json(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken)).RootElement;

    [Fact]
    public async Task Valid_lines_are_accepted_once_each_and_bad_lines_are_reported_with_line_field_and_reason()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await StartAsync(3);
        var body = string.Join("\n",
            Line(1, "si_a"), "{broken", Line(3, "si_b"), Line(4).Replace("\"quantity\":4.25", "\"quantity\":-4", StringComparison.Ordinal), "",
            Line(6, "si_a"), Line(3, "si_c")) + "\n";
        using var request = new HttpRequestMessage(HttpMethod.Post, UsageIngestionEndpoint.Route) { Content = Ndjson(body) };
        request.Headers.Add(UsageIngestionEndpoint.CorrelationHeader, "batch-42");
        request.Headers.Add("traceparent", "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01");

        using var response = await host.Http.SendAsync(request, ct);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("batch-42", response.Headers.GetValues(UsageIngestionEndpoint.CorrelationHeader).Single());
        var report = await Json(response);
        Assert.Equal(3, report.GetProperty("accepted").GetInt32());
        Assert.Equal(3, report.GetProperty("rejected").GetInt32());
        var errors = report.GetProperty("errors").EnumerateArray().Select(e => (e.GetProperty("line").GetInt32(), e.GetProperty("field").GetString(), e.GetProperty("reason").GetString())).ToList();
        Assert.Equal(
            [(2, null, "not valid JSON (byte 1 of the line)"), (4, "quantity", "must not be negative"), (7, "usageEventId", "repeats the usageEventId of line 3 in this batch")],
            errors);

        var read = stack.ReadAll(host.Topic, 3, ct);
        Assert.Equal(["use_1", "use_3", "use_6"], read.Select(r => r.Value.usageEventId).Order(StringComparer.Ordinal));
        Assert.All(read, r => Assert.Equal(r.Value.subscriptionItemId, r.Key));
        Assert.All(read, r => Assert.Equal("batch-42", TracingHeaders.Get(r.Headers, TracingHeaders.CorrelationId)));
        Assert.All(read, r => Assert.Equal("00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01", TracingHeaders.Get(r.Headers, TracingHeaders.TraceParent)));
        var six = read.Single(r => r.Value.usageEventId == "use_6").Value;
        Assert.Equal(("si_a", "cus_1", "api_calls", 6.25m, "ingest-http"), (six.subscriptionItemId, six.customerId, six.meter, Money.ToDecimal(six.quantity), six.source));
        Assert.Equal(new DateTime(2026, 11, 25, 10, 0, 0, DateTimeKind.Utc), six.occurredAt);
        Assert.Equal("eu", six.attributes["region"]);
        Assert.Equal(3, stack.CountInLog(host.Topic));
    }

    [Fact]
    public async Task Nothing_of_the_submitted_lines_reaches_the_logs()
    {
        var ct = TestContext.Current.CancellationToken;
        var log = new CapturingLogger();
        await using (var host = await StartAsync(producer: c => c.MessageTimeoutMs = 1500, log: log))
        {
            const string pii = "jane.doe@example.com";
            var good = Line(1).Replace("cus_1", pii, StringComparison.Ordinal).Replace("\"eu\"", $"\"{pii}\"", StringComparison.Ordinal);
            var bad = Line(2).Replace("\"quantity\":2.25", $"\"quantity\":\"{pii}\"", StringComparison.Ordinal);
            using var accepted = await host.PostAsync(good + "\n" + bad);
            // Every produce request now fails with a permanent error, so the next batch is not acknowledged.
            stack.Cluster.PushRequestErrors(0, Enumerable.Repeat(ErrorCode.TopicAuthorizationFailed, 20).ToArray());
            HttpResponseMessage failed;
            try
            {
                failed = await host.PostAsync(Line(3).Replace("cus_1", pii, StringComparison.Ordinal));
            }
            finally
            {
                stack.Cluster.ClearRequestErrors(0);
            }

            Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.DoesNotContain(pii, await failed.Content.ReadAsStringAsync(ct), StringComparison.Ordinal);
            Assert.Contains(log.Lines, l => l.Contains("not acknowledged", StringComparison.Ordinal)); // the outage itself is logged
            Assert.DoesNotContain(log.Lines, l => l.Contains(pii, StringComparison.Ordinal));
            failed.Dispose();
        }
    }

    [Fact]
    public async Task A_wrong_content_type_or_a_compressed_body_gets_415_and_produces_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await StartAsync();

        using var response = await host.PostAsync(Line(1), "application/json");
        var gzipped = Ndjson(Line(2));
        gzipped.Headers.ContentEncoding.Add("gzip");
        using var compressed = await host.Http.PostAsync(UsageIngestionEndpoint.Route, gzipped, ct);
        using var withCharset = await host.PostAsync(Line(3), "application/x-ndjson; charset=utf-8");

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Contains("application/x-ndjson", (await Json(response)).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, compressed.StatusCode);
        Assert.Equal(HttpStatusCode.OK, withCharset.StatusCode);
        Assert.Equal(1, host.Ingestor.Enqueued);
    }

    [Fact]
    public async Task A_body_over_the_limit_gets_413_with_or_without_content_length_and_produces_nothing()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var host = await StartAsync(options: new UsageEndpointOptions { MaxBodyBytes = 1000 });
        var body = string.Join("\n", Enumerable.Range(0, 10).Select(i => Line(i)));

        using var sized = await host.PostAsync(body);
        var chunkedContent = new StreamContent(new MemoryStream(Encoding.UTF8.GetBytes(body)));
        chunkedContent.Headers.ContentType = new MediaTypeHeaderValue(UsageIngestionEndpoint.ContentType);
        using var chunkedRequest = new HttpRequestMessage(HttpMethod.Post, UsageIngestionEndpoint.Route) { Content = chunkedContent };
        chunkedRequest.Headers.TransferEncodingChunked = true;
        using var chunked = await host.Http.SendAsync(chunkedRequest, ct);
        using var small = await host.PostAsync(Line(1));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, sized.StatusCode);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, chunked.StatusCode);
        Assert.Equal(HttpStatusCode.OK, small.StatusCode);
        Assert.Equal(1, host.Ingestor.Enqueued);
    }

    [Fact]
    public async Task Options_configured_through_the_options_pattern_apply()
    {
        await using var host = await StartAsync(configure: o => o.MaxBodyBytes = 100);

        using var response = await host.PostAsync(Line(1));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("larger than 100 bytes", (await Json(response)).GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_batch_without_one_valid_line_gets_400_with_the_report()
    {
        await using var host = await StartAsync();

        using var bad = await host.PostAsync("[]\n" + Line(2).Replace("\"meter\":\"api_calls\",", "", StringComparison.Ordinal));
        using var empty = await host.PostAsync("\n\n");

        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var report = await Json(bad);
        Assert.Equal((0, 2), (report.GetProperty("accepted").GetInt32(), report.GetProperty("rejected").GetInt32()));
        Assert.Equal("meter", report.GetProperty("errors")[1].GetProperty("field").GetString());
        Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
        Assert.Equal(0, host.Ingestor.Enqueued);
    }

    [Fact]
    public async Task A_full_producer_queue_gets_429_with_Retry_After_and_nothing_of_that_batch_is_produced()
    {
        var ct = TestContext.Current.CancellationToken;
        // A tiny librdkafka queue (4 messages) caps the ingestor; slow brokers keep the first batch unacknowledged.
        await using var host = await StartAsync(producer: c => c.QueueBufferingMaxMessages = 4);
        Assert.Equal(4, host.Ingestor.Capacity);
        // Connected first (metadata, producer id), so the delay below holds back only the produce requests.
        using (var warm = await host.PostAsync(Line(0)))
        {
            Assert.Equal(HttpStatusCode.OK, warm.StatusCode);
        }

        stack.SetRoundTripTime(TimeSpan.FromSeconds(3));
        Task<HttpResponseMessage> first;
        try
        {
            first = host.PostAsync(Lines(1, 2, 3));
            var deadline = DateTime.UtcNow.AddSeconds(10);
            while (host.Ingestor.InFlight < 3 && DateTime.UtcNow < deadline)
            {
                await Task.Delay(10, ct);
            }

            using var refused = await host.PostAsync(Lines(4, 5));

            Assert.Equal((HttpStatusCode)429, refused.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(1), refused.Headers.RetryAfter?.Delta);
            Assert.Equal(4, host.Ingestor.Enqueued);
            Assert.False(first.IsCompleted); // answered only after Kafka acknowledges
        }
        finally
        {
            stack.SetRoundTripTime(TimeSpan.Zero);
        }

        using var accepted = await first;
        Assert.Equal(HttpStatusCode.OK, accepted.StatusCode);
        using var retried = await host.PostAsync(Lines(4, 5));
        Assert.Equal(HttpStatusCode.OK, retried.StatusCode);
        Assert.Equal(["use_0", "use_1", "use_2", "use_3", "use_4", "use_5"], stack.ReadAll(host.Topic, 6, ct).Select(r => r.Value.usageEventId).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task More_valid_lines_than_the_queue_can_ever_hold_get_413()
    {
        await using var host = await StartAsync(producer: c => c.QueueBufferingMaxMessages = 2);

        using var response = await host.PostAsync(Lines(1, 2, 3));

        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, response.StatusCode);
        Assert.Contains("at most 2", (await Json(response)).GetProperty("error").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, host.Ingestor.Enqueued);
    }

    [Fact]
    public async Task Lines_Kafka_does_not_acknowledge_get_503_with_Retry_After_not_200()
    {
        await using var host = await StartAsync(producer: c => c.MessageTimeoutMs = 2000);
        stack.Cluster.SetTopicError(host.Topic, ErrorCode.TopicAuthorizationFailed);

        using var response = await host.PostAsync(Lines(1, 2));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
        var report = await Json(response);
        Assert.Equal(0, report.GetProperty("accepted").GetInt32());
        Assert.Contains("2 of 2 valid lines were not acknowledged", report.GetProperty("message").GetString(), StringComparison.Ordinal);
    }

    /// <summary>Keeps every formatted log line (with exception text) of every category.</summary>
    private sealed class CapturingLogger : ILoggerProvider, ILogger
    {
        private readonly List<string> _lines = [];

        public IReadOnlyList<string> Lines { get { lock (_lines) { return _lines.ToList(); } } }

        public ILogger CreateLogger(string categoryName) => this;

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            lock (_lines)
            {
                _lines.Add(formatter(state, exception) + " " + exception);
            }
        }

        public void Dispose()
        {
        }
    }
}
