using System.Diagnostics;
using System.Text;
using Npgsql;
using Streaming.Contracts;
using Streaming.Contracts.Finance;
using Streaming.Sinks.Ledger;

namespace Streaming.Sinks.Tests;

/// <summary>
/// The sink as a separate process (<c>streaming sink</c>) killed with SIGKILL at random points, at least 20 times, across
/// 100,000 finance events (1,000 of them delivered twice) on the embedded broker hosted by this test process (the child reaches
/// it over TCP), posting into PostgreSQL. Afterwards: exactly one posting per posting key, none missing, every journal
/// balanced, trial balance zero per entity and currency, and the posted amounts equal the produced ones.
/// </summary>
public sealed class SinkCrashTests(PostgresFixture postgres)
{
    private const int Distinct = 99_000;
    private const int Redelivered = 1_000;
    private const int Partitions = 12;
    private const int Kills = 20;

    [Fact]
    public async Task Killing_the_sink_process_at_random_points_loses_nothing_and_posts_nothing_twice()
    {
        var ct = TestContext.Current.CancellationToken;
        var cli = CliPath();
        await using var stack = await SinkTestStack.StartAsync(Partitions, ct);
        // The mock's 3 s initial rebalance delay exceeds the short session timeout the children use: no delay.
        stack.Cluster.SetGroupInitialRebalanceDelay(TimeSpan.Zero);
        var connectionString = await postgres.NewDatabaseAsync();
        await (await PostgresLedger.OpenAsync(connectionString, PostgresWriteMode.BatchedUpsert, ct)).DisposeAsync(); // tables exist before polling them

        var random = new Random(20261125);
        var expectedPaymentTotals = new Dictionary<(string Entity, string Currency), decimal>();
        var events = new List<FinanceEvent>(Distinct);
        (string Entity, string Currency)[] books = [("US01", "USD"), ("DE01", "EUR"), ("JP01", "JPY"), ("GB01", "GBP")];
        for (var i = 0; i < Distinct; i++)
        {
            var (entity, currency) = books[i % books.Length];
            var whole = currency == "JPY";
            decimal Amount(int max) => whole ? random.Next(1, max) : random.Next(100, max * 100) / 100m;
            FinanceEvent e = (i % 3) switch
            {
                0 => SinkTestStack.Payment($"p{i}", entity, currency, Amount(5000), fee: whole ? 0m : 0.25m),
                _ => SinkTestStack.Invoice($"i{i}", entity, currency, Amount(900), Amount(400), Amount(90), entity[..2] + "-X"),
            };
            if (e.eventType == FinanceEventType.PAYMENT_APPLIED)
            {
                expectedPaymentTotals[(entity, currency)] = expectedPaymentTotals.GetValueOrDefault((entity, currency)) + Money.ToDecimal(e.totalAmount);
            }

            events.Add(e);
        }

        foreach (var (e, i) in events.Select((e, i) => (e, i)))
        {
            stack.Produce(i % Partitions, e);
        }

        // The same facts delivered a second time, later in their partitions.
        for (var i = 0; i < Redelivered; i++)
        {
            var index = i * (Distinct / Redelivered);
            stack.Produce(index % Partitions, events[index]);
        }

        Assert.Equal(0, stack.Producer.Flush(TimeSpan.FromSeconds(60)));
        var ends = await stack.EndOffsetsAsync();
        Assert.Equal(Distinct + Redelivered, ends.Values.Sum());

        var kills = 0;
        var stopwatch = Stopwatch.StartNew();
        var log = new StringBuilder();
        await using var db = new NpgsqlConnection(connectionString);
        await db.OpenAsync(ct);
        var posted = 0L;
        while (kills < Kills)
        {
            using var running = StartSink(cli, stack, connectionString, log);
            var child = running.Process;
            // Wait until this process is posting (the ledger grows), then kill it at a random point of its work:
            // mid-batch, between the ledger commit and the offset commit, or while publishing results.
            var deadline = DateTime.UtcNow.AddSeconds(60);
            while (!child.HasExited && DateTime.UtcNow < deadline && await CountAsync(db, ct) <= posted)
            {
                await Task.Delay(20, ct);
            }

            await Task.Delay(random.Next(0, 400), ct);
            if (child.HasExited)
            {
                Assert.Fail($"sink exited on its own with {child.ExitCode} before kill {kills + 1}:\n{log}");
            }

            child.Kill(); // SIGKILL on Unix: no shutdown hook, no final commit
            await child.WaitForExitAsync(ct);
            kills++;
            var now = await CountAsync(db, ct);
            Assert.True(now > posted, $"kill {kills}: the process was killed before it posted anything\n{log}");
            posted = now;
        }

        // The kills landed while batches were being posted: some, not all, of the work was done by the killed processes.
        long postedByKilled;
        await using (var probe = await PostgresLedger.OpenAsync(connectionString, PostgresWriteMode.BatchedUpsert, ct))
        {
            postedByKilled = await probe.CountJournalsAsync(ct);
        }

        Assert.InRange(postedByKilled, 1, Distinct - 1);

        // A last run, undisturbed, until every partition is committed to its end.
        using (var finalRun = StartSink(cli, stack, connectionString, log))
        {
            var final = finalRun.Process;
            var committed = await stack.WaitCommittedAsync("streaming-sink-erp-posting", c => ends.All(e => c.GetValueOrDefault(e.Key) == e.Value),
                TimeSpan.FromSeconds(120), null, ct);
            final.Kill();
            await final.WaitForExitAsync(ct);
            Assert.True(ends.All(e => committed.GetValueOrDefault(e.Key) == e.Value), $"not caught up: {string.Join(",", committed)} vs {string.Join(",", ends)}\n{log}");
        }

        TestContext.Current.SendDiagnosticMessage($"crash test: {kills} SIGKILLs, {postedByKilled} journals posted before the final run, {stopwatch.Elapsed.TotalSeconds:F0} s");
        await using var ledger = await PostgresLedger.OpenAsync(connectionString, PostgresWriteMode.BatchedUpsert, ct);
        Assert.Equal(Distinct, await ledger.CountJournalsAsync(ct));

        var keys = new HashSet<string>(StringComparer.Ordinal);
        await using (var cmd = new NpgsqlCommand("SELECT posting_key FROM postings", db))
        await using (var reader = await cmd.ExecuteReaderAsync(ct))
        {
            while (await reader.ReadAsync(ct))
            {
                Assert.True(keys.Add(reader.GetString(0)));
            }
        }

        Assert.Empty(events.Select(e => e.postingKey).Where(k => !keys.Contains(k)).Take(5));
        Assert.Equal(0L, await ScalarAsync(db, "SELECT count(*) FROM (SELECT posting_key FROM journal_lines GROUP BY posting_key HAVING sum(debit) <> sum(credit)) x", ct));
        Assert.Equal(0L, await ScalarAsync(db, "SELECT count(*) FROM journal_entries e WHERE NOT EXISTS (SELECT 1 FROM journal_lines l WHERE l.posting_key = e.posting_key)", ct));
        Assert.Equal((long)Distinct, await ScalarAsync(db, "SELECT count(DISTINCT erp_document_id) FROM postings", ct));

        var trial = await ledger.TrialBalanceAsync(ct);
        Assert.All(trial.GroupBy(r => (r.LegalEntityId, r.Currency)), g => Assert.Equal(0m, g.Sum(r => r.Balance)));
        foreach (var ((entity, currency), total) in expectedPaymentTotals)
        {
            // AR credits of payments: each payment credits 1100 with its amount; invoices debit it.
            var cash = trial.Single(r => r.LegalEntityId == entity && r.Currency == currency && r.Account == "1000").Debits
                + (trial.SingleOrDefault(r => r.LegalEntityId == entity && r.Currency == currency && r.Account == "6100")?.Debits ?? 0m);
            Assert.Equal(total, cash);
        }
    }

    private static Task<long> CountAsync(NpgsqlConnection db, CancellationToken ct) => ScalarAsync(db, "SELECT count(*) FROM postings", ct);

    private static async Task<long> ScalarAsync(NpgsqlConnection db, string sql, CancellationToken ct)
    {
        await using var cmd = new NpgsqlCommand(sql, db);
        return Convert.ToInt64(await cmd.ExecuteScalarAsync(ct), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>A child process that is killed when disposed, so a failing assertion never leaves a sink running.</summary>
    private sealed class ChildProcess(Process process) : IDisposable
    {
        public Process Process { get; } = process;

        public void Dispose()
        {
            try
            {
                if (!Process.HasExited)
                {
                    Process.Kill();
                    Process.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // already gone
            }

            Process.Dispose();
        }
    }

    private static ChildProcess StartSink(string cli, SinkTestStack stack, string connectionString, StringBuilder log)
    {
        var psi = new ProcessStartInfo("dotnet") { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in new[] { cli, "sink", "--batch-size", "1000", "--batch-wait-ms", "100" })
        {
            psi.ArgumentList.Add(a);
        }

        psi.Environment["KAFKA_BOOTSTRAP_SERVERS"] = stack.Cluster.BootstrapServers;
        psi.Environment["SCHEMA_REGISTRY_URL"] = stack.Registry.Url;
        psi.Environment["LEDGER_CONNECTION_STRING"] = connectionString;
        // A killed member leaves the group only by its session timeout: keep it short so the next process gets the partitions soon.
        psi.Environment["STREAMING_Kafka__Consumer__session.timeout.ms"] = "1500";
        psi.Environment["STREAMING_Kafka__Consumer__heartbeat.interval.ms"] = "300";
        psi.Environment["STREAMING_Kafka__Producer__compression.type"] = "lz4";
        psi.Environment["DOTNET_gcServer"] = "0";
        var process = Process.Start(psi) ?? throw new InvalidOperationException("cannot start the sink process");
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (log) { log.AppendLine("ERR " + e.Data); } } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ChildProcess(process);
    }

    /// <summary>The CLI built next to this test build (same configuration): src/Streaming.Cli/bin/{Configuration}/{tfm}/streaming.dll.</summary>
    private static string CliPath()
    {
        var baseDir = new DirectoryInfo(AppContext.BaseDirectory.TrimEnd(Path.DirectorySeparatorChar));
        var tfm = baseDir.Name;
        var configuration = baseDir.Parent!.Name;
        for (var dir = baseDir; dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "src", "Streaming.Cli", "bin", configuration, tfm, "streaming.dll");
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        throw new InvalidOperationException($"streaming.dll ({configuration}/{tfm}) not found above {AppContext.BaseDirectory}: build src/Streaming.Cli first.");
    }
}
