using Avro.IO;
using Avro.Specific;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Producers.MasterData;

namespace Streaming.Producers.Tests.MasterData;

/// <summary>
/// Reading and checking master-data directories: the committed sample (which the demo loads) holds exactly the records
/// the demo used to build in code; CSV and JSON give the same records; every referential and format failure names
/// file, row, field and reason. Producing is covered by <see cref="MasterDataLoaderTests"/>.
/// </summary>
public sealed class MasterDataReaderTests
{
    private static readonly DateTime Month = new(2026, 11, 1, 0, 0, 0, DateTimeKind.Utc);

    private static string Bytes<T>(T record) where T : ISpecificRecord
    {
        using var stream = new MemoryStream();
        new SpecificDatumWriter<T>(record.Schema).Write(record, new BinaryEncoder(stream));
        return Convert.ToHexString(stream.ToArray());
    }

    [Fact]
    public void The_sample_dataset_holds_the_demo_master_data_unchanged()
    {
        var set = MasterDataReader.Load(MasterDataSamples.Directory());

        // What DemoScenario built in code before it loaded samples/masterdata (same values, same order).
        var entities = new[] { ("US01", "Streaming Demo Inc.", "US", "USD"), ("DE01", "Streaming Demo GmbH", "DE", "EUR") }.Select(e => new LegalEntity
        {
            legalEntityId = e.Item1, name = e.Item2, country = e.Item3, functionalCurrency = e.Item4, taxRegistrationIds = [$"{e.Item3}-TAX-{e.Item1}"],
            billingCountries = [e.Item3], active = true, updatedAt = Month,
        });
        Product Product(string id, string name, ProductKind kind, string? meter, params (string PriceId, string Currency, decimal Unit)[] prices) => new()
        {
            productId = id, name = name, kind = kind, active = true, updatedAt = Month,
            prices = prices.Select(p => new Price
            {
                priceId = p.PriceId, currency = p.Currency, unitAmount = Money.ToAvro(p.Unit),
                billingInterval = kind == ProductKind.SERVICES ? BillingInterval.ONE_TIME : BillingInterval.MONTH, intervalCount = kind == ProductKind.SERVICES ? null : 1, meter = meter, tiers = [],
            }).ToList(),
        };
        var products = new[]
        {
            Product("prod_platform", "Platform subscription", ProductKind.SUBSCRIPTION, null, ("price_platform_usd", "USD", 100.00m), ("price_platform_eur", "EUR", 200.00m)),
            Product("prod_onboarding", "Onboarding services", ProductKind.SERVICES, null, ("price_onboarding_usd", "USD", 500.00m), ("price_onboarding_eur", "EUR", 800.00m)),
            Product("prod_api", "API calls", ProductKind.USAGE, "api_calls", ("price_api_calls_usd", "USD", 0.002m), ("price_api_calls_eur", "EUR", 0.0018m)),
        };
        var links = new[] { ("cus_acme", "C-1001", "001A000001", "US01", "US"), ("cus_globex", "C-1002", "001A000002", "US01", "US"), ("cus_initech", "C-2001", "001A000003", "DE01", "DE"), ("cus_umbrella", "C-2002", "001A000004", "DE01", "DE") }
            .Select(c => new AccountLink
            {
                canonicalCustomerId = c.Item2, crmAccountId = c.Item3, billingCustomerId = c.Item1, erpCustomerId = $"ERP-{c.Item2}", legalEntityId = c.Item4,
                billingCountry = c.Item5, updatedAt = Month,
            });

        Assert.Equal(entities.Select(Bytes), set.LegalEntities.Select(e => Bytes(e.Record)));
        Assert.Equal(products.Select(Bytes), set.Products.Take(3).Select(p => Bytes(p.Record)));
        Assert.Equal(links.Select(Bytes), set.AccountLinks.Select(l => Bytes(l.Record)));
        // Added with the sample: a graduated (tiered) product on a meter the demo's usage does not use, tax rules and GL mappings.
        var storage = Assert.Single(set.Products.Skip(3)).Record;
        Assert.Equal(("prod_storage", "gb_stored", 3), (storage.productId, storage.prices[0].meter, storage.prices[0].tiers.Count));
        Assert.Equal([100m, 1000m, null], storage.prices[0].tiers.Select(t => Money.ToDecimal(t.upTo)));
        Assert.Equal(5.00m, Money.ToDecimal(storage.prices[0].tiers[2].flatAmount));
        Assert.Equal(["US-CA", "US-NY", "DE"], set.TaxRules.Select(r => r.Record.jurisdictionCode));
        Assert.Equal(0.0725m, Money.ToDecimal(set.TaxRules[0].Record.rate));
        Assert.Equal(new DateTime(2026, 1, 1), set.TaxRules[0].Record.validFrom);
        Assert.Equal(19, set.GlMappings.Count);
    }

    [Fact]
    public void Csv_and_json_files_give_the_same_records()
    {
        using var dir = new SampleDirectory();
        // The sample's JSON files as CSV, and its CSV files as JSON.
        dir.Delete("legal-entities.json");
        dir.Write("legal-entities.csv", """
            legalEntityId,name,country,functionalCurrency,taxRegistrationIds,billingCountries,active,updatedAt
            US01,Streaming Demo Inc.,US,USD,US-TAX-US01,US,true,2026-11-01T00:00:00Z
            DE01,"Streaming Demo GmbH",DE,EUR,DE-TAX-DE01,DE,true,2026-11-01T00:00:00Z
            """);
        dir.Delete("products.json");
        dir.Write("products.csv", """
            productId,name,kind,active,updatedAt
            prod_platform,Platform subscription,SUBSCRIPTION,true,2026-11-01T00:00:00Z
            prod_onboarding,Onboarding services,SERVICES,true,2026-11-01T00:00:00Z
            prod_api,API calls,USAGE,true,2026-11-01T00:00:00Z
            prod_storage,"Object storage (GB-month, graduated)",USAGE,true,2026-11-01T00:00:00Z
            """);
        dir.Write("prices.csv", """
            productId,priceId,currency,unitAmount,billingInterval,intervalCount,meter
            prod_platform,price_platform_usd,USD,100.00,MONTH,1,
            prod_platform,price_platform_eur,EUR,200.00,MONTH,1,
            prod_onboarding,price_onboarding_usd,USD,500.00,ONE_TIME,,
            prod_onboarding,price_onboarding_eur,EUR,800.00,ONE_TIME,,
            prod_api,price_api_calls_usd,USD,0.002,MONTH,1,api_calls
            prod_api,price_api_calls_eur,EUR,0.0018,MONTH,1,api_calls
            prod_storage,price_storage_usd,USD,,MONTH,1,gb_stored
            prod_storage,price_storage_eur,EUR,,MONTH,1,gb_stored
            """);
        dir.Write("price-tiers.csv", """
            priceId,upTo,unitAmount,flatAmount
            price_storage_usd,100,0.00,
            price_storage_usd,1000,0.023,
            price_storage_usd,,0.018,5.00
            price_storage_eur,100,0.00,
            price_storage_eur,1000,0.021,
            price_storage_eur,,0.017,5.00
            """);
        dir.Delete("tax-rules.csv");
        dir.Write("tax-rules.json", """
            [
              {"ruleId":"tax_us_ca","jurisdictionCode":"US-CA","country":"US","region":"CA","rate":0.0725,"legalEntityId":"US01","taxPayableGlAccount":"2300-US-CA","validFrom":"2026-01-01"},
              {"ruleId":"tax_us_ny","jurisdictionCode":"US-NY","country":"US","region":"NY","rate":"0.04","legalEntityId":"US01","taxPayableGlAccount":"2300-US-NY","validFrom":"2026-01-01","validTo":null},
              {"ruleId":"tax_de","jurisdictionCode":"DE","country":"DE","rate":0.19,"legalEntityId":"DE01","taxPayableGlAccount":"2300-DE","validFrom":"2026-01-01"}
            ]
            """);
        dir.Delete("account-links.csv");
        dir.Write("account-links.json", """
            [
              {"canonicalCustomerId":"C-1001","crmAccountId":"001A000001","billingCustomerId":"cus_acme","erpCustomerId":"ERP-C-1001","legalEntityId":"US01","billingCountry":"US","updatedAt":"2026-11-01T00:00:00Z"},
              {"canonicalCustomerId":"C-1002","crmAccountId":"001A000002","billingCustomerId":"cus_globex","erpCustomerId":"ERP-C-1002","legalEntityId":"US01","billingCountry":"US","updatedAt":"2026-11-01T00:00:00Z"},
              {"canonicalCustomerId":"C-2001","crmAccountId":"001A000003","billingCustomerId":"cus_initech","erpCustomerId":"ERP-C-2001","legalEntityId":"DE01","billingCountry":"DE","updatedAt":"2026-11-01T00:00:00Z"},
              {"canonicalCustomerId":"C-2002","crmAccountId":"001A000004","billingCustomerId":"cus_umbrella","erpCustomerId":"ERP-C-2002","legalEntityId":"DE01","billingCountry":"DE","updatedAt":"2026-11-01T00:00:00+00:00"}
            ]
            """);

        var converted = MasterDataReader.Load(dir.Path);
        var sample = MasterDataReader.Load(MasterDataSamples.Directory());

        Assert.Equal(sample.LegalEntities.Select(e => Bytes(e.Record)), converted.LegalEntities.Select(e => Bytes(e.Record)));
        Assert.Equal(sample.Products.Select(e => Bytes(e.Record)), converted.Products.Select(e => Bytes(e.Record)));
        Assert.Equal(sample.TaxRules.Select(e => Bytes(e.Record)), converted.TaxRules.Select(e => Bytes(e.Record)));
        Assert.Equal(sample.GlMappings.Select(e => Bytes(e.Record)), converted.GlMappings.Select(e => Bytes(e.Record)));
        Assert.Equal(sample.AccountLinks.Select(e => Bytes(e.Record)), converted.AccountLinks.Select(e => Bytes(e.Record)));
    }

    public static TheoryData<string, string, string, MasterDataError> Failures => new()
    {
        // Referential checks.
        { "account-links.csv", "C-1002,001A000002,cus_globex,ERP-C-1002,US01", "C-1002,001A000002,cus_globex,ERP-C-1002,GB01",
            new("account-links.csv", 3, "legalEntityId", "legal entity GB01 is not in legal-entities") },
        { "account-links.csv", "C-2001,001A000003,cus_initech,ERP-C-2001,DE01,DE", "C-2001,001A000003,cus_initech,ERP-C-2001,DE01,FR",
            new("account-links.csv", 4, "billingCountry", "FR is not a billing country of legal entity DE01 (DE)") },
        { "gl-mappings.csv", "gl_DE01_fees,DE01", "gl_DE01_fees,XX01",
            new("gl-mappings.csv", 17, "legalEntityId", "legal entity XX01 is not in legal-entities") },
        { "tax-rules.csv", "tax_de,DE,DE,,0.19,DE01", "tax_de,DE,DE,,0.19,AT01",
            new("tax-rules.csv", 4, "legalEntityId", "legal entity AT01 is not in legal-entities") },
        { "tax-rules.csv", "US01,2300-US-NY", "US01,2300-US-TX",
            new("tax-rules.csv", 3, "taxPayableGlAccount", "GL account 2300-US-TX is not mapped for legal entity US01 in gl-mappings") },
        { "account-links.csv", "C-1002,001A000002,cus_globex", "C-1002,001A000002,cus_acme",
            new("account-links.csv", 3, "billingCustomerId", "cus_acme is also on row 2") },
        { "legal-entities.json", "\"legalEntityId\": \"DE01\"", "\"legalEntityId\": \"US01\"",
            new("legal-entities.json", 2, "legalEntityId", "US01 is also on row 1") },
        { "products.json", "\"priceId\": \"price_api_calls_eur\"", "\"priceId\": \"price_platform_usd\"",
            new("products.json", 3, "prices[2].priceId", "price id is also used by product prod_platform") },
        { "products.json", "\"meter\": \"api_calls\", \"tiers\": [] },\n      { \"priceId\": \"price_api_calls_eur\"", "\"meter\": null, \"tiers\": [] },\n      { \"priceId\": \"price_api_calls_eur\"",
            new("products.json", 3, "prices[1].meter", "a usage product's price needs the meter it rates") },
        { "products.json", "{ \"upTo\": \"1000\", \"unitAmount\": \"0.023\"", "{ \"upTo\": \"50\", \"unitAmount\": \"0.023\"",
            new("products.json", 4, "prices[1].tiers[2].upTo", "tiers must be in ascending order of upTo") },
        // Format checks.
        { "tax-rules.csv", "0.0725", "0.07255555",
            new("tax-rules.csv", 2, "rate", "does not fit decimal(9,6): at most 6 digits after the point and 3 before it; it is never rounded") },
        { "tax-rules.csv", "0.04", "4",
            new("tax-rules.csv", 3, "rate", "must be a fraction from 0 up to 1 (0.19 = 19 %)") },
        { "gl-mappings.csv", "gl_US01_ar,US01,AR", "gl_US01_ar,US01,RECEIVABLES",
            new("gl-mappings.csv", 3, "accountRole", "must be one of AR, CASH, DEFERRED_REVENUE, SUBSCRIPTION_REVENUE, USAGE_REVENUE, SERVICES_REVENUE, UNBILLED_RECEIVABLE, TAX_PAYABLE, PAYMENT_FEES") },
        { "account-links.csv", "DE01,DE,2026-11-01T00:00:00Z\nC-2002", "DE01,DE,2026-11-01 00:00\nC-2002",
            new("account-links.csv", 4, "updatedAt", "must be an ISO 8601 timestamp with an offset (e.g. 2026-11-01T00:00:00Z)") },
        { "legal-entities.json", "\"functionalCurrency\": \"EUR\"", "\"functionalCurrency\": \"euro\"",
            new("legal-entities.json", 2, "functionalCurrency", "must be an ISO 4217 currency code in upper case (e.g. USD)") },
        { "legal-entities.json", "\"name\": \"Streaming Demo Inc.\",", "",
            new("legal-entities.json", 1, "name", "is required") },
        { "products.json", "\"unitAmount\": \"100.00\"", "\"unitAmount\": [100]",
            new("products.json", 1, "prices[1].unitAmount", "must be a string, number or boolean") },
        { "account-links.csv", "C-1001,001A000001,cus_acme,ERP-C-1001,US01,US,", "C-1001,001A000001,cus_acme,US01,US,",
            new("account-links.csv", 2, null, "has 6 columns, the header has 7") },
    };

    [Theory]
    [MemberData(nameof(Failures))]
    public void A_bad_row_fails_the_load_naming_file_row_field_and_reason(string file, string from, string to, MasterDataError expected)
    {
        using var dir = new SampleDirectory();
        dir.Edit(file, from, to);

        var ex = Assert.Throws<MasterDataException>(() => MasterDataReader.Load(dir.Path));

        // The named problem comes first (errors are in file order, then row); some have knock-on errors after them
        // (a duplicated entity id leaves the other entity's references dangling).
        Assert.Equal(expected, ex.Errors[0]);
        Assert.Contains(expected.ToString(), ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Csv_prices_and_tiers_must_name_an_existing_product_and_price()
    {
        using var dir = new SampleDirectory(copySample: false);
        dir.Write("legal-entities.csv", "legalEntityId,name,country,functionalCurrency,taxRegistrationIds,billingCountries,active,updatedAt\nUS01,Inc,US,USD,,US,true,2026-11-01T00:00:00Z\n");
        dir.Write("products.csv", "productId,name,kind,active,updatedAt\nprod_a,A,USAGE,true,2026-11-01T00:00:00Z\n");
        dir.Write("prices.csv", "productId,priceId,currency,unitAmount,billingInterval,intervalCount,meter\nprod_a,price_a,USD,,MONTH,1,m\nprod_b,price_b,USD,1,MONTH,1,m\n");
        dir.Write("price-tiers.csv", "priceId,upTo,unitAmount,flatAmount\nprice_a,,1,\nprice_x,,1,\n");
        dir.Write("tax-rules.csv", "ruleId,jurisdictionCode,country,region,rate,legalEntityId,taxPayableGlAccount,validFrom,validTo\n");
        dir.Write("gl-mappings.csv", "mappingId,legalEntityId,accountRole,productKind,jurisdictionCode,glAccountNumber,description\n");
        dir.Write("account-links.csv", "canonicalCustomerId,crmAccountId,billingCustomerId,erpCustomerId,legalEntityId,billingCountry,updatedAt\n");

        var ex = Assert.Throws<MasterDataException>(() => MasterDataReader.Load(dir.Path));

        Assert.Equal(
            [new MasterDataError("prices.csv", 3, "productId", "names a product that is not in products.csv"),
             new MasterDataError("price-tiers.csv", 3, "priceId", "names a price that is not in prices.csv")],
            ex.Errors);
    }

    [Fact]
    public void A_missing_file_and_a_file_in_both_formats_are_refused()
    {
        using var dir = new SampleDirectory();
        dir.Delete("gl-mappings.csv");
        File.Copy(dir.File("tax-rules.csv"), dir.File("tax-rules.json"));

        var ex = Assert.Throws<MasterDataException>(() => MasterDataReader.Load(dir.Path));

        Assert.Contains(new MasterDataError("tax-rules.csv", 0, null, "and tax-rules.json both exist; keep one"), ex.Errors);
        Assert.Contains(ex.Errors, e => e is { File: "gl-mappings.csv", Row: 0 } && e.Reason.StartsWith("is missing", StringComparison.Ordinal));
    }
}
