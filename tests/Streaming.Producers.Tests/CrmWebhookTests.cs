using System.Net;
using System.Text.Json;
using Streaming.Contracts;
using Streaming.Contracts.Crm;
using Streaming.Contracts.Ops;
using Streaming.Producers.Crm;

namespace Streaming.Producers.Tests;

/// <summary>
/// HubSpot (signature v3) and Salesforce CDC (bearer-authenticated relay) over HTTP on the embedded broker, with the published
/// example payloads: field-by-field mapping, re-reads through <see cref="ICrmRecordReader"/>, pending re-reads recorded as
/// checkpoints when nothing can read, replay id checkpointed, transaction order. Stripe is covered by <see cref="WebhookEndpointTests"/>.
/// </summary>
public sealed class CrmWebhookTests
{
    /// <summary>A reader that answers from a fixed set of records and counts its calls.</summary>
    private sealed class FakeReader(Dictionary<string, string> records) : ICrmRecordReader
    {
        public List<(CrmSourceSystem, string, string[])> Calls { get; } = [];

        public Task<IReadOnlyDictionary<string, JsonElement>?> ReadAsync(CrmSourceSystem system, string objectType, IReadOnlyList<string> ids, CancellationToken ct)
        {
            lock (Calls)
            {
                Calls.Add((system, objectType, ids.ToArray()));
            }

            var found = ids.Where(records.ContainsKey).ToDictionary(id => id, id => JsonDocument.Parse(records[id]).RootElement.Clone());
            return Task.FromResult<IReadOnlyDictionary<string, JsonElement>?>(found);
        }
    }

    [Fact]
    public async Task Salesforce_create_maps_directly_and_the_replay_id_is_checkpointed()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        using var response = await stack.PostSalesforceAsync(ConnectorTestStack.Fixture("salesforce/account-create.json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var stored = Assert.Single(stack.Read(Topics.CrmAccounts));
        var account = stack.Value<CrmAccount>(stored);
        Assert.Equal("001RM000004UF9tYAG", stored.Key);
        Assert.Equal(("001RM000004UF9tYAG", "Acme", "001RM000004UF9sYAG", "US"), (account.accountId, account.name, account.parentAccountId, account.billingCountry));
        Assert.Equal((CrmSourceSystem.SALESFORCE, "/data/ChangeEvents:11", "11", "CREATE", false), (account.sourceSystem, account.eventId, account.replayId, account.changeType, account.deleted));
        Assert.Empty(account.changedFields);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1608073700000).UtcDateTime, account.commitTimestamp);

        var checkpoint = stack.Value<ConnectorCheckpoint>(Assert.Single(stack.Read(Topics.ConnectorCheckpoints)));
        Assert.Equal(("salesforce-cdc:/data/ChangeEvents", "11"), (checkpoint.connectorId, checkpoint.cursor));

        // The relay asks where to resume after its own restart, and so does a restarted host.
        await stack.StopHostAsync();
        await stack.StartHostAsync(ct);
        using var request = new HttpRequestMessage(HttpMethod.Get, stack.BaseUrl + "/webhooks/salesforce/replay-id");
        request.Headers.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Bearer", ConnectorTestStack.RelayToken);
        using var resume = await stack.Http.SendAsync(request, ct);
        Assert.Equal(HttpStatusCode.OK, resume.StatusCode);
        using var answer = JsonDocument.Parse(await resume.Content.ReadAsStringAsync(ct));
        Assert.Equal(("/data/ChangeEvents", "11"), (answer.RootElement.GetProperty("channel").GetString(), answer.RootElement.GetProperty("replayId").GetString()));
        using var anonymous = await stack.Http.GetAsync(stack.BaseUrl + "/webhooks/salesforce/replay-id", ct);
        Assert.Equal(HttpStatusCode.Unauthorized, anonymous.StatusCode);
    }

    [Fact]
    public async Task Salesforce_opportunity_create_keeps_stage_amount_and_currency()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        using var response = await stack.PostSalesforceAsync(ConnectorTestStack.Fixture("salesforce/opportunity-create.json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var opportunity = stack.Value<CrmOpportunity>(Assert.Single(stack.Read(Topics.CrmOpportunities)));
        Assert.Equal(("006RM000003kTzQYAU", "001RM000004UF9tYAG", "Acme - 1,200 seats", "Closed Won", true), (opportunity.opportunityId, opportunity.accountId, opportunity.name, opportunity.stage, opportunity.isClosedWon));
        Assert.Equal((new DateTime(2020, 12, 31), "EUR", 120000.50m), (opportunity.closeDate, opportunity.currency, Money.ToDecimal(opportunity.amount!.Value)));
        Assert.Empty(opportunity.lineItems);
    }

    [Fact]
    public async Task Salesforce_update_and_gap_events_are_re_read_or_recorded_as_pending_re_reads()
    {
        var ct = TestContext.Current.CancellationToken;
        await using (var stack = await ConnectorTestStack.StartAsync(ct))
        {
            // No reader: the UPDATE (only changed fields) and the GAP event (ids only) become pending re-reads, nothing is lost.
            using (var update = await stack.PostSalesforceAsync(ConnectorTestStack.Fixture("salesforce/account-update-enriched.json"), ct))
            {
                Assert.Equal(HttpStatusCode.OK, update.StatusCode);
            }

            using (var gap = await stack.PostSalesforceAsync(ConnectorTestStack.Fixture("salesforce/gap-update.json"), ct))
            {
                Assert.Equal(HttpStatusCode.OK, gap.StatusCode);
            }

            Assert.Empty(stack.Read(Topics.CrmAccounts));
            var checkpoints = stack.Read(Topics.ConnectorCheckpoints).Select(stack.Value<ConnectorCheckpoint>).ToList();
            var pending = checkpoints.Where(c => c.connectorId.StartsWith("salesforce-reread:", StringComparison.Ordinal)).ToList();
            Assert.Equal(2, pending.Count);
            Assert.All(pending, p => Assert.Equal(("salesforce-reread:Account:001RM000004UF9sYAG", "pending"), (p.connectorId, p.details["status"])));
            Assert.Equal(["UPDATE", "GAP_UPDATE"], pending.Select(p => p.details["changeType"]).OrderByDescending(x => x.Length == 6).ToArray());
            Assert.Contains(checkpoints, c => c.connectorId == "salesforce-cdc:/data/ChangeEvents" && c.cursor == "15");
        }

        var reader = new FakeReader(new() { ["001RM000004UF9sYAG"] = """{"Name":"Edge Communications","ParentId":null,"BillingCountryCode":"GB"}""" });
        await using (var stack = await ConnectorTestStack.StartAsync(ct, reader: reader))
        {
            using var gap = await stack.PostSalesforceAsync(ConnectorTestStack.Fixture("salesforce/gap-update.json"), ct);
            Assert.Equal(HttpStatusCode.OK, gap.StatusCode);
            var account = stack.Value<CrmAccount>(Assert.Single(stack.Read(Topics.CrmAccounts)));
            Assert.Equal(("001RM000004UF9sYAG", "Edge Communications", "GB", "GAP_UPDATE", "15"), (account.accountId, account.name, account.billingCountry, account.changeType, account.replayId));
            var call = Assert.Single(reader.Calls);
            Assert.Equal((CrmSourceSystem.SALESFORCE, "Account", "001RM000004UF9sYAG"), (call.Item1, call.Item2, Assert.Single(call.Item3)));
        }
    }

    [Fact]
    public async Task Salesforce_events_of_one_transaction_are_applied_in_sequence_order_with_every_record_id()
    {
        var ct = TestContext.Current.CancellationToken;
        var reader = new FakeReader(new()
        {
            ["001RM000004UF9uYAG"] = """{"Name":"Global Media","BillingAddress":{"Country":"DE"}}""",
            ["001RM000004UF9vYAG"] = """{"Name":"United Oil","BillingAddress":{"Country":"US"}}""",
        });
        await using var stack = await ConnectorTestStack.StartAsync(ct, reader: reader);
        using var response = await stack.PostSalesforceAsync(ConnectorTestStack.Fixture("salesforce/multi-record-update.json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var accounts = stack.Read(Topics.CrmAccounts).Select(stack.Value<CrmAccount>).ToList();
        var globalMedia = accounts.Where(a => a.accountId == "001RM000004UF9uYAG").Select(a => a.changeType).ToList();
        Assert.Equal(["CREATE", "UPDATE"], globalMedia); // sequenceNumber 1 before 2, although delivered the other way round
        var unitedOil = accounts.Where(a => a.accountId == "001RM000004UF9vYAG").ToList();
        Assert.Equal(["UPDATE", "DELETE"], unitedOil.Select(a => a.changeType).ToList());
        Assert.True(unitedOil[^1].deleted);
        Assert.Equal(["Industry"], unitedOil[0].changedFields);
        var checkpoint = stack.Read(Topics.ConnectorCheckpoints).Select(stack.Value<ConnectorCheckpoint>).Single(c => c.connectorId.StartsWith("salesforce-cdc:", StringComparison.Ordinal));
        Assert.Equal("18", checkpoint.cursor);
    }

    [Fact]
    public async Task Salesforce_deliveries_without_the_relay_token_are_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        var body = ConnectorTestStack.Fixture("salesforce/account-create.json");
        foreach (var token in new string?[] { null, "", "wrong", ConnectorTestStack.RelayToken + "x", ConnectorTestStack.RelayToken[..^1] })
        {
            using var response = await stack.PostSalesforceAsync(body, ct, token);
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal(0, stack.StoredRecords());
    }

    [Fact]
    public async Task HubSpot_events_are_verified_re_read_and_mapped_deletions_kept()
    {
        var ct = TestContext.Current.CancellationToken;
        var reader = new FakeReader(new()
        {
            ["1246965"] = """{"email":"bh@hubspot.com","firstname":"Brian","lastname":"Halligan","lifecyclestage":"subscriber","associatedcompanyid":"1246978"}""",
            ["1246978"] = """{"name":"Biglytics","country":"US","hs_parent_company_id":null}""",
            ["5503207"] = """{"dealname":"Biglytics renewal","dealstage":"closedwon","amount":"2500.50","closedate":"1462216308120","deal_currency_code":"usd","associatedcompanyid":"1246978"}""",
        });
        await using var stack = await ConnectorTestStack.StartAsync(ct, reader: reader);
        using var response = await stack.PostHubSpotAsync(ConnectorTestStack.Fixture("hubspot/webhook-batch.json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        Assert.Equal((4, 4, 0), (answer.RootElement.GetProperty("events").GetInt32(), answer.RootElement.GetProperty("produced").GetInt32(), answer.RootElement.GetProperty("ignored").GetInt32()));

        var stored = Assert.Single(stack.Read(Topics.CrmContacts));
        var contact = stack.Value<CrmContact>(stored);
        Assert.Equal("1246965", stored.Key);
        Assert.Equal(("1246965", "bh@hubspot.com", "Brian", "Halligan", "1246978", "subscriber"), (contact.contactId, contact.email, contact.firstName, contact.lastName, contact.accountId, contact.lifecycleStage));
        Assert.Equal((CrmSourceSystem.HUBSPOT, "3816279340", "contact.propertyChange", false), (contact.sourceSystem, contact.eventId, contact.changeType, contact.deleted));
        Assert.Equal(["lifecyclestage"], contact.changedFields);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1462216307945).UtcDateTime, contact.commitTimestamp);
        Assert.Contains(reader.Calls, c => c.Item2 == "contacts" && c.Item3.SequenceEqual(["1246965"]));

        var accounts = stack.Read(Topics.CrmAccounts).Select(stack.Value<CrmAccount>).OrderBy(a => a.accountId).ToList();
        Assert.Equal(2, accounts.Count);
        Assert.Equal(("1246978", "Biglytics", "US", CrmSourceSystem.HUBSPOT, "3816279480", "company.creation", false),
            (accounts[0].accountId, accounts[0].name, accounts[0].billingCountry, accounts[0].sourceSystem, accounts[0].eventId, accounts[0].changeType, accounts[0].deleted));
        Assert.Equal(("1246979", true, "3816279622"), (accounts[1].accountId, accounts[1].deleted, accounts[1].eventId));

        var deal = stack.Value<CrmOpportunity>(Assert.Single(stack.Read(Topics.CrmOpportunities)));
        Assert.Equal(("5503207", "1246978", "Biglytics renewal", "closedwon", true, "USD"), (deal.opportunityId, deal.accountId, deal.name, deal.stage, deal.isClosedWon, deal.currency));
        Assert.Equal(2500.50m, Money.ToDecimal(deal.amount!.Value));
        Assert.Equal(["dealstage"], deal.changedFields);
        Assert.Equal(DateTimeOffset.FromUnixTimeMilliseconds(1462216308120).UtcDateTime, deal.commitTimestamp);
    }

    [Fact]
    public async Task HubSpot_without_a_reader_records_pending_re_reads()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        using var response = await stack.PostHubSpotAsync(ConnectorTestStack.Fixture("hubspot/webhook-batch.json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var pending = stack.Read(Topics.ConnectorCheckpoints).Select(stack.Value<ConnectorCheckpoint>).Select(c => c.connectorId).Order().ToList();
        Assert.Equal(["hubspot-reread:companies:1246978", "hubspot-reread:contacts:1246965", "hubspot-reread:deals:5503207"], pending);
    }

    [Fact]
    public async Task HubSpot_bad_signatures_expired_timestamps_and_missing_headers_are_refused()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        var body = ConnectorTestStack.Fixture("hubspot/webhook-batch.json");
        var old = DateTimeOffset.UtcNow.AddMinutes(-6).ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture);
        var oldSigned = Streaming.Producers.Webhooks.HubSpotSignatureVerifier.Sign(ConnectorTestStack.HubSpotSecret, "POST", stack.BaseUrl + "/webhooks/hubspot", System.Text.Encoding.UTF8.GetBytes(body), old);
        var cases = new List<Func<Task<HttpResponseMessage>>>
        {
            () => stack.PostHubSpotAsync(body, ct, omit: true),
            () => stack.PostHubSpotAsync(body, ct, signature: "AAAA"),
            () => stack.PostHubSpotAsync(body, ct, signature: Convert.ToBase64String(new byte[32])),
            () => stack.PostHubSpotAsync(body, ct, signature: oldSigned, timestamp: old),
            () => stack.PostHubSpotAsync(body, ct, timestamp: "yesterday"),
        };
        var wrongSecret = Streaming.Producers.Webhooks.HubSpotSignatureVerifier.Sign("other", "POST", stack.BaseUrl + "/webhooks/hubspot", System.Text.Encoding.UTF8.GetBytes(body),
            DateTimeOffset.UtcNow.ToUnixTimeMilliseconds().ToString(System.Globalization.CultureInfo.InvariantCulture));
        cases.Add(() => stack.PostHubSpotAsync(body, ct, signature: wrongSecret));
        foreach (var send in cases)
        {
            using var response = await send();
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal(0, stack.StoredRecords());
    }

    [Fact]
    public async Task Authentic_deliveries_that_cannot_be_mapped_are_dead_lettered_whole_not_retried_forever()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        const string salesforce = """{"payload":{"ChangeEventHeader":{"entityName":"Account","recordIds":[42],"changeType":"CREATE"}},"event":{"replayId":99}}""";
        using (var response = await stack.PostSalesforceAsync(salesforce, ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        using (var response = await stack.PostHubSpotAsync("""{"not":"an array"}""", ct))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var dead = stack.Read(Topics.DeadLetters).Select(stack.Value<DeadLetterRecord>).OrderBy(d => d.originalTopic).ToList();
        Assert.Equal(["webhook:hubspot", "webhook:salesforce"], dead.Select(d => d.originalTopic).ToList());
        Assert.Equal(salesforce, System.Text.Encoding.UTF8.GetString(dead[1].originalValue));
        Assert.Empty(stack.Read(Topics.CrmAccounts));
    }

    [Fact]
    public async Task Pending_re_reads_are_resolved_by_the_worker_once_the_crm_can_be_read()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var stack = await ConnectorTestStack.StartAsync(ct);
        using (var gap = await stack.PostSalesforceAsync(ConnectorTestStack.Fixture("salesforce/gap-update.json"), ct))
        {
            Assert.Equal(HttpStatusCode.OK, gap.StatusCode);
        }

        using (var hubspot = await stack.PostHubSpotAsync(ConnectorTestStack.Fixture("hubspot/webhook-batch.json"), ct))
        {
            Assert.Equal(HttpStatusCode.OK, hubspot.StatusCode);
        }

        Assert.DoesNotContain(stack.Read(Topics.CrmAccounts), r => r.Key != "1246979"); // only HubSpot's deletion so far

        var reader = new FakeReader(new()
        {
            ["001RM000004UF9sYAG"] = """{"Name":"Edge Communications","BillingCountryCode":"GB"}""",
            ["1246978"] = """{"name":"Biglytics","country":"US"}""",
        });
        var consumer = new Confluent.Kafka.ConsumerConfig { BootstrapServers = stack.Cluster.BootstrapServers };
        using var runtime = new Streaming.Producers.Hosting.ConnectorRuntime(new Streaming.Producers.Connectors.ConnectorOptions(),
            new Confluent.Kafka.ProducerConfig { BootstrapServers = stack.Cluster.BootstrapServers }, stack.Client,
            Microsoft.Extensions.Logging.Abstractions.NullLoggerFactory.Instance, crmReader: reader);
        await runtime.StartAsync(consumer, ct);
        var worker = new CrmReReadWorker(runtime, consumer);

        Assert.Equal(4, await worker.RunOnceAsync(ct)); // the account, the company; the deal and the contact are gone (the reader does not know them)
        Assert.Equal(0, await worker.RunOnceAsync(ct));

        var accounts = stack.Read(Topics.CrmAccounts).Select(stack.Value<CrmAccount>).ToList();
        var edge = Assert.Single(accounts, a => a.accountId == "001RM000004UF9sYAG");
        Assert.Equal(("Edge Communications", "GB", "GAP_UPDATE", "15", "/data/ChangeEvents:15"), (edge.name, edge.billingCountry, edge.changeType, edge.replayId, edge.eventId));
        Assert.Equal("Biglytics", Assert.Single(accounts, a => a.accountId == "1246978").name);
        var statuses = stack.Read(Topics.ConnectorCheckpoints).Select(stack.Value<ConnectorCheckpoint>)
            .Where(c => c.connectorId.Contains("-reread:", StringComparison.Ordinal))
            .GroupBy(c => c.connectorId).ToDictionary(g => g.Key, g => g.Last().details["status"]);
        Assert.Equal(new Dictionary<string, string>
        {
            ["salesforce-reread:Account:001RM000004UF9sYAG"] = "done",
            ["hubspot-reread:companies:1246978"] = "done",
            ["hubspot-reread:deals:5503207"] = "gone",
            ["hubspot-reread:contacts:1246965"] = "gone",
        }, statuses);
    }
}
