using Confluent.Kafka;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Producers.Connectors;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Tests;

/// <summary>
/// The connector host's extension points: extra endpoints are served, extra readiness checks turn <c>/health/ready</c> to 503
/// with their reason, and resources are disposed in order after the server stopped (also when start-up fails).
/// </summary>
public sealed class ConnectorHostExtensionTests
{
    private sealed class Resource(string name, List<string> log, Func<Task>? onDispose = null) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            if (onDispose is not null)
            {
                await onDispose();
            }

            lock (log)
            {
                log.Add(name);
            }
        }
    }

    private static ConnectorHostSettings Settings(ConnectorTestStack stack) => new()
    {
        Urls = "http://127.0.0.1:0",
        Options = new ConnectorOptions(),
        Producer = new ProducerConfig { BootstrapServers = stack.Cluster.BootstrapServers, LingerMs = 1 },
        Consumer = new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers },
        Registry = stack.Client,
        LoggerFactory = NullLoggerFactory.Instance,
    };

    [Fact]
    public async Task Extra_endpoints_readiness_and_resources_follow_the_host()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, startHost: false);
        string? notReady = "extra not warmed up";
        var disposed = new List<string>();
        bool? serverStoppedFirst = null;
        string? url = null;
        var host = await ConnectorHost.StartAsync(Settings(stack) with
        {
            Endpoints = [routes => routes.MapGet("/extra", () => "extra\n")],
            ReadinessChecks = [() => null, () => notReady],
            Resources =
            [
                new Resource("first", disposed, async () =>
                {
                    try
                    {
                        using var probe = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
                        await probe.GetAsync(url + "/health/live", ct);
                        serverStoppedFirst = false;
                    }
                    catch (HttpRequestException)
                    {
                        serverStoppedFirst = true;
                    }
                }),
                new Resource("second", disposed),
            ],
        }, ct);
        url = host.Urls[0].TrimEnd('/');

        Assert.Equal("extra\n", await stack.Http.GetStringAsync(url + "/extra", ct));
        using (var response = await stack.Http.GetAsync(url + "/health/ready", ct))
        {
            Assert.Equal(StatusCodes.Status503ServiceUnavailable, (int)response.StatusCode);
            Assert.Equal("not ready: extra not warmed up\n", await response.Content.ReadAsStringAsync(ct));
        }

        notReady = null;
        Assert.Equal("ready\n", await stack.Http.GetStringAsync(url + "/health/ready", ct));
        Assert.Empty(disposed);

        await host.DisposeAsync();

        Assert.Equal(["first", "second"], disposed);
        Assert.True(serverStoppedFirst);
    }

    [Fact]
    public async Task Resources_are_disposed_when_start_up_fails()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct, startHost: false);
        var disposed = new List<string>();

        var ex = await Assert.ThrowsAsync<ArgumentException>(() => ConnectorHost.StartAsync(Settings(stack) with
        {
            Endpoints = [_ => throw new ArgumentException("bad extra endpoint")],
            Resources = [new Resource("only", disposed)],
        }, ct));

        Assert.Equal("bad extra endpoint", ex.Message);
        Assert.Equal(["only"], disposed);
    }
}
