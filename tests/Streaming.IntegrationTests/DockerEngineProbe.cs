using System.Net.Http;
using System.Net.Sockets;
using System.Text;

namespace Streaming.IntegrationTests;

/// <summary>What asking a Docker engine for <c>/_ping</c> found.</summary>
/// <param name="Reachable">The engine answered 200 OK.</param>
/// <param name="Endpoint">The endpoint asked (socket path or URL).</param>
/// <param name="Detail">Why it is not reachable, or what answered.</param>
public sealed record DockerProbeResult(bool Reachable, string Endpoint, string Detail)
{
    /// <inheritdoc />
    public override string ToString() => Reachable ? $"Docker engine at {Endpoint} answered ({Detail})" : $"Docker engine not reachable at {Endpoint}: {Detail}";
}

/// <summary>
/// Asks the Docker engine named by <c>DOCKER_HOST</c> (or <c>/var/run/docker.sock</c>) for <c>GET /_ping</c> with a short
/// timeout, so a machine with a docker client but no engine falls through to the embedded stack in about a second instead
/// of waiting on Testcontainers' own, much longer, connection attempts.
/// </summary>
public static class DockerEngineProbe
{
    /// <summary>The socket used when <c>DOCKER_HOST</c> is not set.</summary>
    public const string DefaultSocket = "/var/run/docker.sock";

    /// <summary>Probes the engine <paramref name="dockerHost"/> names (a <c>DOCKER_HOST</c> value; null means the default socket).</summary>
    public static DockerProbeResult Probe(string? dockerHost, TimeSpan timeout)
    {
        var host = string.IsNullOrWhiteSpace(dockerHost) ? "unix://" + DefaultSocket : dockerHost.Trim();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            if (host.StartsWith("unix://", StringComparison.OrdinalIgnoreCase))
            {
                return ProbeUnixSocket(host["unix://".Length..], cts.Token);
            }

            if (host.StartsWith("tcp://", StringComparison.OrdinalIgnoreCase) || host.StartsWith("http://", StringComparison.OrdinalIgnoreCase)
                || host.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
            {
                return ProbeHttp(host, cts.Token);
            }

            return new DockerProbeResult(false, host, "DOCKER_HOST scheme is not one this probe speaks (unix://, tcp://)");
        }
        catch (OperationCanceledException)
        {
            return new DockerProbeResult(false, host, $"no answer to GET /_ping within {timeout.TotalSeconds:0.#} s");
        }
#pragma warning disable CA1031 // any failure to reach the engine means "no Docker"; the reason is reported, not hidden
        catch (Exception ex)
#pragma warning restore CA1031
        {
            return new DockerProbeResult(false, host, $"{ex.GetType().Name}: {ex.Message}");
        }
    }

    private static DockerProbeResult ProbeUnixSocket(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path))
        {
            return new DockerProbeResult(false, path, "socket file does not exist");
        }

        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.ConnectAsync(new UnixDomainSocketEndPoint(path), cancellationToken).AsTask().GetAwaiter().GetResult();
        var request = Encoding.ASCII.GetBytes("GET /_ping HTTP/1.1\r\nHost: docker\r\nConnection: close\r\n\r\n");
        socket.SendAsync(request, SocketFlags.None, cancellationToken).AsTask().GetAwaiter().GetResult();
        var buffer = new byte[512];
        var read = socket.ReceiveAsync(buffer, SocketFlags.None, cancellationToken).AsTask().GetAwaiter().GetResult();
        var statusLine = Encoding.ASCII.GetString(buffer, 0, read).Split("\r\n", 2)[0];
        return statusLine.StartsWith("HTTP/1.", StringComparison.Ordinal) && statusLine.Contains(" 200", StringComparison.Ordinal)
            ? new DockerProbeResult(true, path, statusLine)
            : new DockerProbeResult(false, path, $"unexpected answer to GET /_ping: '{statusLine}'");
    }

    private static DockerProbeResult ProbeHttp(string host, CancellationToken cancellationToken)
    {
        var uri = new UriBuilder(host) { Path = "/_ping" };
        if (uri.Scheme == "tcp")
        {
            uri.Scheme = Environment.GetEnvironmentVariable("DOCKER_TLS_VERIFY") is { Length: > 0 } ? "https" : "http";
        }

        using var http = new HttpClient();
        using var response = http.GetAsync(uri.Uri, cancellationToken).GetAwaiter().GetResult();
        return response.IsSuccessStatusCode
            ? new DockerProbeResult(true, uri.Uri.ToString(), $"HTTP {(int)response.StatusCode}")
            : new DockerProbeResult(false, uri.Uri.ToString(), $"HTTP {(int)response.StatusCode} from GET /_ping");
    }
}
