using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Streaming.Contracts;
using Streaming.Contracts.Crm;
using Streaming.Producers.Connectors;
using Streaming.Producers.Crm;

namespace Streaming.Producers.Tests;

/// <summary>
/// The REST re-reader against a local server answering in the documented shapes of HubSpot CRM v3 objects
/// (<c>{"id","properties","associations":{"companies":{"results":[{"id","type"}]}}}</c>) and Salesforce sObject rows; and the
/// HubSpot webhook using it end to end. Unreachable or throttled APIs give null (pending re-read), 404 a deleted record.
/// </summary>
public sealed class CrmApiReaderTests
{
    private sealed class FakeCrm : IAsyncDisposable
    {
        private readonly WebApplication _app;

        private FakeCrm(WebApplication app) => _app = app;

        public string BaseUrl { get; private set; } = "";

        public ConcurrentQueue<string> Requests { get; } = new();

        public volatile bool Throttle;

        public static async Task<FakeCrm> StartAsync(CancellationToken ct)
        {
            var builder = WebApplication.CreateSlimBuilder();
            builder.Logging.ClearProviders();
            builder.WebHost.UseUrls("http://127.0.0.1:0");
            var app = builder.Build();
            var fake = new FakeCrm(app);
            app.Use(async (http, next) =>
            {
                fake.Requests.Enqueue($"{http.Request.Headers.Authorization} {http.Request.Path}{http.Request.QueryString}");
                if (fake.Throttle)
                {
                    http.Response.StatusCode = 429;
                    return;
                }

                await next(http);
            });
            app.MapGet("/crm/v3/objects/companies/{id}", (string id) => id == "1246978"
                ? Results.Json(new { id, properties = new { name = "Biglytics", country = "DE", hs_parent_company_id = (string?)null, hs_object_id = id }, createdAt = "2016-05-02T19:11:47.945Z", updatedAt = "2016-05-02T19:11:47.945Z", archived = false })
                : Results.Json(new { status = "error", message = "Object not found.", category = "OBJECT_NOT_FOUND" }, statusCode: 404));
            app.MapGet("/crm/v3/objects/deals/{id}", (string id) => Results.Json(new
            {
                id,
                properties = new { dealname = "Biglytics renewal", dealstage = "closedwon", amount = "1200", closedate = "2016-05-31T00:00:00Z", deal_currency_code = "EUR" },
                associations = new { companies = new { results = new[] { new { id = "1246978", type = "deal_to_company" } } } },
                archived = false,
            }));
            app.MapGet("/crm/v3/objects/contacts/{id}", (string id) => id switch
            {
                "1246965" => Results.Text(File.ReadAllText(Path.Combine(AppContext.BaseDirectory, "Fixtures", "hubspot", "contact-read.json")), "application/json"),
                "1246966" => Results.Json(new
                {
                    id,
                    properties = new { email = "jdoe@biglytics.net", firstname = "Jane", lastname = "Doe", lifecyclestage = "opportunity", associatedcompanyid = "1246978", hs_object_id = id },
                    associations = new { companies = new { results = new[] { new { id = "9999999", type = "contact_to_company_unlabeled" }, new { id = "1246978", type = "contact_to_company" } } } },
                    archived = false,
                }),
                _ => Results.Json(new { status = "error", message = "Object not found.", category = "OBJECT_NOT_FOUND" }, statusCode: 404),
            });
            app.MapGet("/services/data/v62.0/sobjects/{entity}/{id}", (string entity, string id) => id == "001RM000004UF9sYAG"
                ? Results.Json(new Dictionary<string, object?> { ["attributes"] = new { type = entity }, ["Id"] = id, ["Name"] = "Edge Communications", ["ParentId"] = null, ["BillingCountry"] = "GB" })
                : Results.Json(new[] { new { errorCode = "NOT_FOUND", message = "The requested resource does not exist" } }, statusCode: 404));
            await app.StartAsync(ct);
            fake.BaseUrl = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
            return fake;
        }

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }

    private static ConnectorOptions Options(string baseUrl)
    {
        var options = new ConnectorOptions();
        options.HubSpot.AccessToken = "pat-na1-test";
        options.HubSpot.ApiBaseUrl = baseUrl;
        options.Salesforce.InstanceUrl = baseUrl;
        options.Salesforce.AccessToken = "00Dtest!token";
        return options;
    }

    [Fact]
    public async Task HubSpot_and_Salesforce_records_are_read_flattened_and_missing_ones_left_out()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await FakeCrm.StartAsync(ct);
        using var http = new HttpClient();
        var reader = new CrmApiReader(http, Options(fake.BaseUrl), NullLogger.Instance);

        var deals = await reader.ReadAsync(CrmSourceSystem.HUBSPOT, "deals", ["5503207"], ct);
        Assert.Equal(("closedwon", "1246978", "EUR"), (deals!["5503207"].GetProperty("dealstage").GetString(), deals["5503207"].GetProperty("associatedcompanyid").GetString(), deals["5503207"].GetProperty("deal_currency_code").GetString()));
        var companies = await reader.ReadAsync(CrmSourceSystem.HUBSPOT, "companies", ["1246978", "404404"], ct);
        Assert.Equal(["1246978"], companies!.Keys);
        var accounts = await reader.ReadAsync(CrmSourceSystem.SALESFORCE, "Account", ["001RM000004UF9sYAG", "001RM000004UF9zYAG"], ct);
        Assert.Equal("Edge Communications", Assert.Single(accounts!).Value.GetProperty("Name").GetString());

        Assert.Contains("Bearer pat-na1-test /crm/v3/objects/deals/5503207?properties=dealname,dealstage,amount,closedate,deal_currency_code,hs_is_closed_won&associations=companies", fake.Requests);
        Assert.Contains("Bearer 00Dtest!token /services/data/v62.0/sobjects/Account/001RM000004UF9sYAG", fake.Requests);
    }

    [Fact]
    public async Task HubSpot_contacts_are_read_with_their_primary_company()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await FakeCrm.StartAsync(ct);
        using var http = new HttpClient();
        var reader = new CrmApiReader(http, Options(fake.BaseUrl), NullLogger.Instance);

        var contacts = await reader.ReadAsync(CrmSourceSystem.HUBSPOT, "contacts", ["1246965", "1246966", "404404"], ct);
        Assert.Equal(["1246965", "1246966"], contacts!.Keys.Order());
        // associatedcompanyid null: the first associated company; set: the property wins over the association list.
        Assert.Equal(("bh@hubspot.com", "1246978"), (contacts["1246965"].GetProperty("email").GetString(), contacts["1246965"].GetProperty("associatedcompanyid").GetString()));
        Assert.Equal("1246978", contacts["1246966"].GetProperty("associatedcompanyid").GetString());
        Assert.Contains("Bearer pat-na1-test /crm/v3/objects/contacts/1246965?properties=email,firstname,lastname,lifecyclestage,associatedcompanyid&associations=companies", fake.Requests);
    }

    [Fact]
    public async Task HubSpot_contact_events_become_contact_snapshots_field_by_field()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await FakeCrm.StartAsync(ct);
        await using var stack = await ConnectorTestStack.StartAsync(ct, o =>
        {
            o.HubSpot.AccessToken = "pat-na1-test";
            o.HubSpot.ApiBaseUrl = fake.BaseUrl;
        });
        using var response = await stack.PostHubSpotAsync(ConnectorTestStack.Fixture("hubspot/contact-events.json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        using var answer = JsonDocument.Parse(await response.Content.ReadAsStringAsync(ct));
        // creation, property change, company association, deletion, privacy deletion; the deal association and the merge are ignored.
        Assert.Equal((7, 5, 2), (answer.RootElement.GetProperty("events").GetInt32(), answer.RootElement.GetProperty("produced").GetInt32(), answer.RootElement.GetProperty("ignored").GetInt32()));

        var contacts = stack.Read(Topics.CrmContacts).Select(r => (r.Key, Value: stack.Value<CrmContact>(r))).ToList();
        Assert.All(contacts, c => Assert.Equal((c.Key, CrmSourceSystem.HUBSPOT), (c.Value.contactId, c.Value.sourceSystem)));
        var brian = contacts.Where(c => c.Key == "1246965").Select(c => c.Value).ToList();
        Assert.Equal(["contact.creation", "contact.propertyChange"], brian.Select(c => c.changeType).ToList());
        Assert.Equal(["3816279701", "3816279702"], brian.Select(c => c.eventId).ToList());
        Assert.All(brian, c => Assert.Equal(("bh@hubspot.com", "Brian", "Halligan", "1246978", "customer", false),
            (c.email, c.firstName, c.lastName, c.accountId, c.lifecycleStage, c.deleted)));
        Assert.Empty(brian[0].changedFields);
        Assert.Equal(["lifecyclestage"], brian[1].changedFields);
        Assert.Equal((DateTimeOffset.FromUnixTimeMilliseconds(1462216307100).UtcDateTime, DateTimeOffset.FromUnixTimeMilliseconds(1462216307945).UtcDateTime),
            (brian[0].commitTimestamp, brian[1].commitTimestamp));

        var jane = Assert.Single(contacts, c => c.Key == "1246966").Value;
        Assert.Equal(("jdoe@biglytics.net", "Jane", "Doe", "1246978", "opportunity", "contact.associationChange", "3816279703"),
            (jane.email, jane.firstName, jane.lastName, jane.accountId, jane.lifecycleStage, jane.changeType, jane.eventId));

        foreach (var (id, type) in new[] { ("1246967", "contact.deletion"), ("1246968", "contact.privacyDeletion") })
        {
            var gone = Assert.Single(contacts, c => c.Key == id).Value;
            Assert.Equal((true, type, (string?)null, (string?)null, (string?)null, (string?)null, (string?)null),
                (gone.deleted, gone.changeType, gone.email, gone.firstName, gone.lastName, gone.accountId, gone.lifecycleStage));
        }

        Assert.DoesNotContain(contacts, c => c.Key is "1246970" or "1246971");
        Assert.Empty(stack.Read(Topics.ConnectorCheckpoints));
        Assert.DoesNotContain(fake.Requests, r => r.Contains("/contacts/1246967", StringComparison.Ordinal) || r.Contains("/contacts/1246968", StringComparison.Ordinal));

        // Redelivered (HubSpot retries when an answer is lost): nothing new is stored.
        using var again = await stack.PostHubSpotAsync(ConnectorTestStack.Fixture("hubspot/contact-events.json"), ct);
        using var second = JsonDocument.Parse(await again.Content.ReadAsStringAsync(ct));
        Assert.Equal((0, 5), (second.RootElement.GetProperty("produced").GetInt32(), second.RootElement.GetProperty("duplicates").GetInt32()));
        Assert.Equal(5, stack.Read(Topics.CrmContacts).Count);
    }

    [Fact]
    public async Task A_throttled_or_unreachable_api_answers_null_so_the_change_is_kept_as_a_pending_re_read()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await FakeCrm.StartAsync(ct);
        using var http = new HttpClient();
        fake.Throttle = true;
        Assert.Null(await new CrmApiReader(http, Options(fake.BaseUrl), NullLogger.Instance).ReadAsync(CrmSourceSystem.HUBSPOT, "companies", ["1246978"], ct));
        Assert.Null(await new CrmApiReader(http, Options("http://127.0.0.1:1"), NullLogger.Instance).ReadAsync(CrmSourceSystem.SALESFORCE, "Account", ["001RM000004UF9sYAG"], ct));
        var unconfigured = new ConnectorOptions();
        Assert.False(CrmApiReader.Configured(unconfigured));
        Assert.Null(await new CrmApiReader(http, unconfigured, NullLogger.Instance).ReadAsync(CrmSourceSystem.HUBSPOT, "deals", ["1"], ct));
    }

    [Fact]
    public async Task The_host_uses_the_REST_reader_when_an_access_token_is_configured()
    {
        var ct = TestContext.Current.CancellationToken;
        await using var fake = await FakeCrm.StartAsync(ct);
        await using var stack = await ConnectorTestStack.StartAsync(ct, o =>
        {
            o.HubSpot.AccessToken = "pat-na1-test";
            o.HubSpot.ApiBaseUrl = fake.BaseUrl;
        });
        using var response = await stack.PostHubSpotAsync(ConnectorTestStack.Fixture("hubspot/webhook-batch.json"), ct);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var company = stack.Value<CrmAccount>(Assert.Single(stack.Read(Topics.CrmAccounts), r => r.Key == "1246978"));
        Assert.Equal(("Biglytics", "DE"), (company.name, company.billingCountry));
        var deal = stack.Value<CrmOpportunity>(Assert.Single(stack.Read(Topics.CrmOpportunities)));
        Assert.Equal(("1246978", "EUR", 1200m, new DateTime(2016, 5, 31)), (deal.accountId, deal.currency, Money.ToDecimal(deal.amount!.Value), deal.closeDate));
        var contact = stack.Value<CrmContact>(Assert.Single(stack.Read(Topics.CrmContacts)));
        Assert.Equal(("1246965", "bh@hubspot.com", "1246978", "customer"), (contact.contactId, contact.email, contact.accountId, contact.lifecycleStage));
        Assert.Empty(stack.Read(Topics.ConnectorCheckpoints));
    }
}
