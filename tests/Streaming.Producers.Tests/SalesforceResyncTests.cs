using System.Net;
using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Crm;
using Streaming.Contracts.Ops;
using Streaming.Producers.Connectors;
using Streaming.Producers.Crm;
using Streaming.Producers.Hosting;

namespace Streaming.Producers.Tests;

/// <summary>
/// Whole-entity re-syncs of Salesforce (<c>GAP_OVERFLOW</c>, wildcard record ids) resolved by <see cref="CrmReReadWorker"/> through
/// the REST query API of <see cref="FakeSalesforceServer"/>: every page read (<c>nextRecordsUrl</c> until <c>done</c>), one record per
/// row under the overflow event's id, the checkpoint done only after the last page; an interruption resumes after the last
/// acknowledged page and stores nothing twice.
/// </summary>
public sealed class SalesforceResyncTests
{
    private const string Token = "00DRM000000abcd!AQ0AQresync";
    private const string OverflowKey = "salesforce-resync:Account:/data/ChangeEvents:21";

    private static readonly string[] AccountIds = ["001RM000004UF9aYAG", "001RM000004UF9bYAG", "001RM000004UF9cYAG", "001RM000004UF9dYAG", "001RM000004UF9eYAG"];

    private static async Task<FakeSalesforceServer> SalesforceWithAccountsAsync(CancellationToken ct)
    {
        var fake = await FakeSalesforceServer.StartAsync(ct, Token);
        fake.PageSize = 2;
        for (var i = 0; i < AccountIds.Length; i++)
        {
            // The standard fields of an org with state and country picklists: BillingCountry is the label, BillingCountryCode the code.
            fake.Add("Account", $$"""
                {"Id":"{{AccountIds[i]}}","IsDeleted":false,"Name":"Account {{i}}","Type":"Customer - Direct","ParentId":{{(i == 1 ? $"\"{AccountIds[0]}\"" : "null")}},
                 "BillingStreet":null,"BillingCity":"London","BillingCountry":"United Kingdom","BillingCountryCode":"GB",
                 "BillingAddress":{"city":"London","country":"United Kingdom","countryCode":"GB","geocodeAccuracy":null,"latitude":null,"longitude":null,"postalCode":null,"state":null,"stateCode":null,"street":null},
                 "Industry":"Biotechnology","CreatedDate":"2020-12-15T23:09:18.000+0000","SystemModstamp":"2020-12-15T23:09:18.000+0000"}
                """);
        }

        return fake;
    }

    /// <summary>A runtime (fresh duplicate filter, seeded from the topics like a restarted host) and worker using the REST reader.</summary>
    private sealed class Worker(ConnectorRuntime runtime, CrmReReadWorker worker, HttpClient http) : IDisposable
    {
        public ConnectorRuntime Runtime { get; } = runtime;

        public CrmReReadWorker Pass { get; } = worker;

        public static async Task<Worker> StartAsync(ConnectorTestStack stack, string salesforceUrl, CancellationToken ct)
        {
            var options = new ConnectorOptions();
            options.Salesforce.InstanceUrl = salesforceUrl;
            options.Salesforce.AccessToken = Token;
            var http = new HttpClient();
            var consumer = new ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers };
            var runtime = new ConnectorRuntime(options, new ProducerConfig { BootstrapServers = stack.Cluster.BootstrapServers }, stack.Client,
                NullLoggerFactory.Instance, crmReader: new CrmApiReader(http, options, NullLogger.Instance));
            await runtime.StartAsync(consumer, ct);
            return new Worker(runtime, new CrmReReadWorker(runtime, consumer), http);
        }

        public void Dispose()
        {
            Runtime.Dispose();
            http.Dispose();
        }
    }

    private static async Task PostAsync(ConnectorTestStack stack, string body, CancellationToken ct)
    {
        using var response = await stack.PostSalesforceAsync(body, ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    /// <summary>Keys stored in crm.accounts.v1, sorted (3 partitions: no global order); a duplicate shows twice.</summary>
    private static List<string> Keys(ConnectorTestStack stack) => [.. stack.Read(Topics.CrmAccounts).Select(r => r.Key).Order(StringComparer.Ordinal)];

    private static Dictionary<string, ConnectorCheckpoint> Latest(ConnectorTestStack stack)
        => stack.Read(Topics.ConnectorCheckpoints).Select(stack.Value<ConnectorCheckpoint>)
            .GroupBy(c => c.connectorId).ToDictionary(g => g.Key, g => g.Last());

    [Fact]
    public async Task An_overflow_event_is_resolved_by_reading_every_page_of_the_entity()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await SalesforceWithAccountsAsync(ct);
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        await PostAsync(stack, ConnectorTestStack.Fixture("salesforce/gap-overflow.json"), ct);

        var pending = Latest(stack)[OverflowKey];
        Assert.Equal(("pending", "*", "Account", "GAP_OVERFLOW", "21"), (pending.details["status"], pending.details["recordId"], pending.details["entity"], pending.details["changeType"], pending.cursor));
        Assert.Empty(stack.Read(Topics.CrmAccounts));

        using (var worker = await Worker.StartAsync(stack, fake.BaseUrl, ct))
        {
            Assert.Equal(1, await worker.Pass.RunOnceAsync(ct));
            Assert.Equal(0, await worker.Pass.RunOnceAsync(ct)); // nothing pending any more: no query
        }

        Assert.Equal(["SELECT FIELDS(STANDARD) FROM Account ORDER BY Id", "/services/data/v62.0/query/01gD0000002HU6K000-2", "/services/data/v62.0/query/01gD0000002HU6K000-4"], fake.Queries);
        // The topic has 3 partitions: compare as a sorted list (a duplicate would show twice).
        var accounts = stack.Read(Topics.CrmAccounts).Select(r => (r.Key, Value: stack.Value<CrmAccount>(r))).OrderBy(a => a.Key, StringComparer.Ordinal).ToList();
        Assert.Equal(AccountIds, accounts.Select(a => a.Key));
        Assert.All(accounts, a =>
        {
            Assert.Equal((a.Key, "GB", CrmSourceSystem.SALESFORCE, "/data/ChangeEvents:21", "21", "GAP_OVERFLOW", false),
                (a.Value.accountId, a.Value.billingCountry, a.Value.sourceSystem, a.Value.eventId, a.Value.replayId, a.Value.changeType, a.Value.deleted));
            Assert.Empty(a.Value.changedFields);
            Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1608075000000).UtcDateTime, a.Value.commitTimestamp);
        });
        Assert.Equal(("Account 1", AccountIds[0]), (accounts[1].Value.name, accounts[1].Value.parentAccountId));

        var done = Latest(stack)[OverflowKey];
        Assert.Equal(("done", AccountIds[^1], "5", "/data/ChangeEvents:21"), (done.details["status"], done.details["resyncAfterId"], done.details["resyncRecords"], done.details["resolvedBy"]));
    }

    [Fact]
    public async Task An_interrupted_resync_stays_pending_and_resumes_after_the_last_acknowledged_page_without_duplicates()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await SalesforceWithAccountsAsync(ct);
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        await PostAsync(stack, ConnectorTestStack.Fixture("salesforce/gap-overflow.json"), ct);

        // Pass 1: the first page is stored, the second request fails.
        fake.FailingRequests[2] = true;
        using (var worker = await Worker.StartAsync(stack, fake.BaseUrl, ct))
        {
            Assert.Equal(0, await worker.Pass.RunOnceAsync(ct));
        }

        var progress = Latest(stack)[OverflowKey];
        Assert.Equal(("pending", AccountIds[1], "2"), (progress.details["status"], progress.details["resyncAfterId"], progress.details["resyncRecords"]));
        Assert.Equal(AccountIds[..2], Keys(stack));

        // Pass 2, after a restart: the query resumes after the last stored Id; its second page fails again.
        fake.FailingRequests[4] = true;
        using (var worker = await Worker.StartAsync(stack, fake.BaseUrl, ct))
        {
            Assert.Equal(0, await worker.Pass.RunOnceAsync(ct));
        }

        Assert.Equal($"SELECT FIELDS(STANDARD) FROM Account WHERE Id > '{AccountIds[1]}' ORDER BY Id", fake.Queries.ElementAt(2));
        Assert.Equal(AccountIds[..4], Keys(stack));
        Assert.Equal(AccountIds[3], Latest(stack)[OverflowKey].details["resyncAfterId"]);

        // As if the process had died after Kafka acknowledged page 2 but before its progress was written: the checkpoint still
        // points after page 1, so page 2 is read again and must not be stored twice.
        using (var worker = await Worker.StartAsync(stack, fake.BaseUrl, ct))
        {
            await worker.Runtime.Writer.WriteAsync(new Streaming.Producers.Edge.EdgeBatch([worker.Runtime.Checkpoint(OverflowKey, progress.cursor, "rewind", progress.details)], 0), null, ct);
        }

        using (var worker = await Worker.StartAsync(stack, fake.BaseUrl, ct))
        {
            Assert.Equal(1, await worker.Pass.RunOnceAsync(ct));
        }

        Assert.Equal($"SELECT FIELDS(STANDARD) FROM Account WHERE Id > '{AccountIds[1]}' ORDER BY Id", fake.Queries.ElementAt(4));
        var accounts = stack.Read(Topics.CrmAccounts);
        Assert.Equal(AccountIds, Keys(stack)); // each account exactly once
        Assert.All(accounts, r => Assert.Equal("/data/ChangeEvents:21", stack.Value<CrmAccount>(r).eventId));
        Assert.Equal("done", Latest(stack)[OverflowKey].details["status"]);
    }

    [Fact]
    public async Task Wildcard_ids_resync_their_entity_and_one_query_resolves_every_older_overflow_of_the_same_entity()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await SalesforceWithAccountsAsync(ct);
        fake.PageSize = 2000;
        fake.Add("Opportunity", """{"Id":"006RM000003kTzQYAU","IsDeleted":false,"AccountId":"001RM000004UF9aYAG","Name":"Acme - 1,200 seats","StageName":"Closed Won","IsWon":true,"IsClosed":true,"CloseDate":"2020-12-31","Amount":120000.5,"CurrencyIsoCode":"EUR"}""");
        fake.Add("Opportunity", """{"Id":"006RM000003kTzRYAU","IsDeleted":false,"AccountId":"001RM000004UF9bYAG","Name":"Renewal","StageName":"Prospecting","IsWon":false,"IsClosed":false,"CloseDate":"2021-03-31","Amount":null}""");
        fake.Add("Opportunity", """{"Id":"006RM000003kTzSYAU","IsDeleted":false,"AccountId":null,"Name":"Orphan","StageName":"Prospecting","IsWon":false,"CloseDate":"2021-03-31","Amount":10}""");
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        var overflow = ConnectorTestStack.Fixture("salesforce/gap-overflow.json");
        await PostAsync(stack, overflow, ct);
        await PostAsync(stack, overflow.Replace("\"replayId\": 21", "\"replayId\": 22", StringComparison.Ordinal), ct);
        await PostAsync(stack, """
            {"payload":{"ChangeEventHeader":{"entityName":"Opportunity","recordIds":["006*"],"changeType":"UPDATE","changeOrigin":"",
             "transactionKey":"0002a7e1-11aa-4c9e-9a0e-6f0a3b2c1d00","sequenceNumber":1,"commitTimestamp":1608076000000,"commitNumber":74488073500,
             "commitUser":"005RM000001hv4SYAQ","changedFields":["Amount"]}},"event":{"replayId":23}}
            """, ct);

        using (var worker = await Worker.StartAsync(stack, fake.BaseUrl, ct))
        {
            Assert.Equal(3, await worker.Pass.RunOnceAsync(ct));
        }

        Assert.Equal(["SELECT FIELDS(STANDARD) FROM Account ORDER BY Id", "SELECT FIELDS(STANDARD) FROM Opportunity ORDER BY Id"], fake.Queries);
        var accounts = stack.Read(Topics.CrmAccounts).Select(stack.Value<CrmAccount>).ToList();
        Assert.Equal(AccountIds.Length, accounts.Count);
        Assert.All(accounts, a => Assert.Equal("/data/ChangeEvents:22", a.eventId)); // the newest overflow ran, the older one is covered

        var opportunities = stack.Read(Topics.CrmOpportunities).Select(stack.Value<CrmOpportunity>).OrderBy(o => o.opportunityId, StringComparer.Ordinal).ToList();
        Assert.Equal(2, opportunities.Count); // the row without an account makes no record
        Assert.Equal(("006RM000003kTzQYAU", "001RM000004UF9aYAG", "Closed Won", true, "EUR", 120000.50m, new DateTime(2020, 12, 31)),
            (opportunities[0].opportunityId, opportunities[0].accountId, opportunities[0].stage, opportunities[0].isClosedWon, opportunities[0].currency, Money.ToDecimal(opportunities[0].amount!.Value), opportunities[0].closeDate));
        Assert.Equal(("006RM000003kTzRYAU", false, "USD", true, "/data/ChangeEvents:23"),
            (opportunities[1].opportunityId, opportunities[1].isClosedWon, opportunities[1].currency, opportunities[1].amount is null, opportunities[1].eventId));
        Assert.All(opportunities, o => Assert.Empty(o.changedFields));

        var latest = Latest(stack);
        Assert.Equal(("done", "/data/ChangeEvents:22"), (latest["salesforce-resync:Account:/data/ChangeEvents:21"].details["status"], latest["salesforce-resync:Account:/data/ChangeEvents:21"].details["resolvedBy"]));
        Assert.Equal("done", latest["salesforce-resync:Account:/data/ChangeEvents:22"].details["status"]);
        Assert.Equal("done", latest["salesforce-resync:Opportunity:/data/ChangeEvents:23"].details["status"]);
    }

    [Fact]
    public async Task With_the_API_unreachable_the_resync_stays_pending_without_progress()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        await PostAsync(stack, ConnectorTestStack.Fixture("salesforce/gap-overflow.json"), ct);
        using (var worker = await Worker.StartAsync(stack, "http://127.0.0.1:1", ct))
        {
            Assert.Equal(0, await worker.Pass.RunOnceAsync(ct));
        }

        Assert.Equal("pending", Latest(stack)[OverflowKey].details["status"]);
        Assert.False(Latest(stack)[OverflowKey].details.ContainsKey("resyncAfterId"));
        Assert.Empty(stack.Read(Topics.CrmAccounts));
    }
}
