using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Npgsql;

namespace Streaming.Testing;

/// <summary>
/// A private PostgreSQL cluster for tests and benchmarks: <c>initdb</c> into a temporary folder, started with <c>pg_ctl</c> on a
/// random loopback port, stopped and deleted on dispose. The server refuses to run as root, so as root it runs as the
/// <c>postgres</c> system user Debian's package creates (<c>runuser -u postgres</c>). Binaries come from
/// <c>/usr/lib/postgresql/*/bin</c> (<c>tools/ensure-postgres.sh</c> installs them) or <c>PG_BIN</c>.
/// </summary>
public sealed class ThrowawayPostgres : IAsyncDisposable
{
    private readonly string _root;
    private readonly string _bin;
    private readonly bool _asPostgresUser;
    private bool _stopped;
    private string _settings = "";

    private ThrowawayPostgres(string root, string bin, bool asPostgresUser, int port)
    {
        _root = root;
        _bin = bin;
        _asPostgresUser = asPostgresUser;
        Port = port;
    }

    /// <summary>TCP port on 127.0.0.1.</summary>
    public int Port { get; }

    /// <summary>Connection string of database <paramref name="database"/> (superuser <c>postgres</c>, trust auth on loopback).</summary>
    public string ConnectionString(string database = "postgres")
        => new NpgsqlConnectionStringBuilder { Host = "127.0.0.1", Port = Port, Username = "postgres", Database = database, Pooling = true, MaxPoolSize = 20 }.ToString();

    /// <summary>Finds the server binaries, or explains how to get them.</summary>
    public static string FindBinaries()
    {
        if (Environment.GetEnvironmentVariable("PG_BIN") is { Length: > 0 } pgBin && File.Exists(Path.Combine(pgBin, "initdb")))
        {
            return pgBin;
        }

        var candidates = Directory.Exists("/usr/lib/postgresql")
            ? Directory.GetDirectories("/usr/lib/postgresql").Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "initdb")))
                .OrderByDescending(d => int.TryParse(Path.GetFileName(Path.GetDirectoryName(d)), out var v) ? v : 0).ToList()
            : [];
        return candidates.FirstOrDefault() ?? throw new InvalidOperationException(
            "PostgreSQL server binaries not found (no initdb under /usr/lib/postgresql/*/bin and PG_BIN not set). "
            + "Run tools/ensure-postgres.sh as root (test.sh does), or `apt-get install -y postgresql`, or set PG_BIN.");
    }

    /// <summary>Creates and starts a cluster. <paramref name="durable"/> false turns fsync off (tests: the server is never killed).</summary>
    public static async Task<ThrowawayPostgres> StartAsync(bool durable = false, CancellationToken cancellationToken = default)
    {
        var bin = FindBinaries();
        var root = Path.Combine(Path.GetTempPath(), "streaming-pg-" + Guid.NewGuid().ToString("N")[..12]);
        Directory.CreateDirectory(root);
        var asPostgres = Environment.UserName == "root" || Environment.GetEnvironmentVariable("USER") == "root" || geteuid() == 0;
        if (asPostgres)
        {
            await RunAsync("chown", ["postgres:postgres", root], cancellationToken).ConfigureAwait(false);
        }

        var data = Path.Combine(root, "data");
        var cluster = new ThrowawayPostgres(root, bin, asPostgres, FreePort());
        try
        {
            await cluster.PgAsync("initdb", ["-D", data, "-U", "postgres", "-A", "trust", "-E", "UTF8", "--no-sync", "--locale=C"], cancellationToken).ConfigureAwait(false);
            var settings = $"-p {cluster.Port} -k {root} -c listen_addresses=127.0.0.1 -c max_connections=100 -c shared_buffers=128MB"
                + (durable ? "" : " -c fsync=off -c full_page_writes=off");
            cluster._settings = settings;
            await cluster.RestartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await cluster.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        return cluster;
    }

    /// <summary>
    /// CPU time the server has used so far (user + system): the postmaster, its live children (backends, WAL writer, checkpointer…)
    /// and the children it has already reaped, from <c>/proc</c>. For CPU-per-record figures in benchmarks; null when unreadable.
    /// </summary>
    public TimeSpan? ServerCpuTime()
    {
        try
        {
            var postmaster = int.Parse(File.ReadLines(Path.Combine(_root, "data", "postmaster.pid")).First(), System.Globalization.CultureInfo.InvariantCulture);
            long ticks = 0;
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid))
                {
                    continue;
                }

                string stat;
                try
                {
                    stat = File.ReadAllText(Path.Combine(dir, "stat"));
                }
                catch (IOException)
                {
                    continue; // exited meanwhile
                }

                // Fields after "(comm)": state ppid … utime(14) stime(15) cutime(16) cstime(17), numbered from 1 over the whole line.
                var f = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                var ppid = int.Parse(f[1], System.Globalization.CultureInfo.InvariantCulture);
                if (pid != postmaster && ppid != postmaster)
                {
                    continue;
                }

                ticks += long.Parse(f[11], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(f[12], System.Globalization.CultureInfo.InvariantCulture);
                if (pid == postmaster)
                {
                    ticks += long.Parse(f[13], System.Globalization.CultureInfo.InvariantCulture) + long.Parse(f[14], System.Globalization.CultureInfo.InvariantCulture);
                }
            }

            return TimeSpan.FromSeconds(ticks / (double)ClockTicksPerSecond);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or FormatException or InvalidOperationException)
        {
            return null;
        }
    }

    private static readonly long ClockTicksPerSecond = Math.Max((long)sysconf(2), 1); // _SC_CLK_TCK

    /// <summary>Creates an empty database and returns its connection string.</summary>
    public async Task<string> CreateDatabaseAsync(string name, CancellationToken cancellationToken = default)
    {
        await using var connection = new NpgsqlConnection(ConnectionString());
        await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using var cmd = new NpgsqlCommand($"CREATE DATABASE \"{name}\";", connection);
        await cmd.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        return ConnectionString(name);
    }

    /// <summary>Stops the server at once (clients see the database go away); <see cref="RestartAsync"/> brings it back on the same port.</summary>
    public Task StopAsync(CancellationToken cancellationToken = default)
        => PgAsync("pg_ctl", ["-D", Path.Combine(_root, "data"), "-m", "immediate", "-w", "-t", "30", "stop"], cancellationToken);

    /// <summary>Starts a stopped server again with the same settings.</summary>
    public Task RestartAsync(CancellationToken cancellationToken = default)
        => PgAsync("pg_ctl", ["-D", Path.Combine(_root, "data"), "-l", Path.Combine(_root, "server.log"), "-o", _settings, "-w", "-t", "60", "start"], cancellationToken);

    /// <summary>Stops the server (fast) and deletes its folder.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopped)
        {
            return;
        }

        _stopped = true;
        var data = Path.Combine(_root, "data");
        if (File.Exists(Path.Combine(data, "postmaster.pid")))
        {
            try
            {
                await PgAsync("pg_ctl", ["-D", data, "-m", "immediate", "-w", "-t", "30", "stop"], CancellationToken.None).ConfigureAwait(false);
            }
            catch (InvalidOperationException)
            {
                // Already down; the folder goes anyway.
            }
        }

        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }

    private Task PgAsync(string tool, string[] args, CancellationToken ct)
        => _asPostgresUser
            ? RunAsync("runuser", ["-u", "postgres", "--", Path.Combine(_bin, tool), .. args], ct)
            : RunAsync(Path.Combine(_bin, tool), args, ct);

    private static async Task RunAsync(string file, string[] args, CancellationToken ct)
    {
        var psi = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = "/" };
        foreach (var a in args)
        {
            psi.ArgumentList.Add(a);
        }

        using var process = Process.Start(psi) ?? throw new InvalidOperationException($"Cannot start {file}.");
        var stdout = process.StandardOutput.ReadToEndAsync(ct);
        var stderr = process.StandardError.ReadToEndAsync(ct);
        await process.WaitForExitAsync(ct).ConfigureAwait(false);
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', args)} exited with {process.ExitCode}: {await stderr.ConfigureAwait(false)}{await stdout.ConfigureAwait(false)}");
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    private static extern uint geteuid();

    [System.Runtime.InteropServices.DllImport("libc", SetLastError = false)]
    private static extern nint sysconf(int name);
}
