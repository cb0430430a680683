using System.Globalization;
using Avro;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;

namespace Streaming.Producers.MasterData;

/// <summary>
/// Reads a master-data directory: <c>legal-entities</c>, <c>products</c>, <c>tax-rules</c>, <c>gl-mappings</c> and
/// <c>account-links</c>, each as <c>.csv</c> or <c>.json</c> (not both). JSON files hold an array of objects with the Avro
/// field names; products nest <c>prices</c> and those nest <c>tiers</c>. CSV files have a header row with the same
/// names, lists separated by <c>;</c>; in CSV, prices come from <c>prices.csv</c> (with a <c>productId</c> column) and
/// tiers from the optional <c>price-tiers.csv</c> (with a <c>priceId</c> column, in ascending order). Every problem is
/// collected, with file, row, field and reason; see <see cref="MasterDataValidator"/> for the cross-file checks.
/// </summary>
public static class MasterDataReader
{
    /// <summary>File base names, in load order.</summary>
    public static readonly IReadOnlyList<string> Files = ["legal-entities", "products", "tax-rules", "gl-mappings", "account-links"];

    /// <summary>Reads and checks <paramref name="directory"/>; throws <see cref="MasterDataException"/> listing every problem.</summary>
    public static MasterDataSet Load(string directory)
    {
        var (set, errors) = Read(directory);
        errors.AddRange(MasterDataValidator.Check(set));
        return errors.Count > 0 ? throw new MasterDataException(errors) : set;
    }

    /// <summary>Reads <paramref name="directory"/> without the cross-file checks; returns what parsed and every problem found.</summary>
    public static (MasterDataSet Set, List<MasterDataError> Errors) Read(string directory)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        var set = new MasterDataSet();
        var errors = new List<MasterDataError>();
        if (!Directory.Exists(directory))
        {
            errors.Add(new MasterDataError(directory, 0, null, "directory does not exist"));
            return (set, errors);
        }

        foreach (var (row, f) in Rows(directory, "legal-entities", errors))
        {
            var id = f.Required("legalEntityId");
            var country = f.Country("country");
            set.LegalEntities.Add(new Located<LegalEntity>(new LegalEntity
            {
                legalEntityId = id, name = f.Required("name"), country = country, functionalCurrency = f.Currency("functionalCurrency"),
                taxRegistrationIds = f.List("taxRegistrationIds").ToList(), billingCountries = f.Countries("billingCountries"),
                active = f.Bool("active", true), updatedAt = f.Timestamp("updatedAt"),
            }, row.File, row.Number));
        }

        ReadProducts(directory, set, errors);

        foreach (var (row, f) in Rows(directory, "tax-rules", errors))
        {
            var rate = f.Decimal("rate", Money.RatePrecision, Money.RateScale);
            if (rate is { } r && (Money.ToDecimal(r) < 0 || Money.ToDecimal(r) >= 1))
            {
                f.Error("rate", "must be a fraction from 0 up to 1 (0.19 = 19 %)");
            }

            set.TaxRules.Add(new Located<TaxRule>(new TaxRule
            {
                ruleId = f.Required("ruleId"), jurisdictionCode = f.Required("jurisdictionCode"), country = f.Country("country"), region = f.Optional("region"),
                rate = rate ?? default, legalEntityId = f.Required("legalEntityId"),
                taxPayableGlAccount = f.Required("taxPayableGlAccount"), validFrom = f.Date("validFrom"), validTo = f.Date("validTo"),
            }, row.File, row.Number));
        }

        foreach (var (row, f) in Rows(directory, "gl-mappings", errors))
        {
            set.GlMappings.Add(new Located<GlMapping>(new GlMapping
            {
                mappingId = f.Required("mappingId"), legalEntityId = f.Required("legalEntityId"), accountRole = f.Enum<AccountRole>("accountRole") ?? default,
                productKind = f.Enum<ProductKind>("productKind", required: false), jurisdictionCode = f.Optional("jurisdictionCode"),
                glAccountNumber = f.Required("glAccountNumber"), description = f.Optional("description"),
            }, row.File, row.Number));
        }

        foreach (var (row, f) in Rows(directory, "account-links", errors))
        {
            set.AccountLinks.Add(new Located<AccountLink>(new AccountLink
            {
                canonicalCustomerId = f.Required("canonicalCustomerId"), crmAccountId = f.Optional("crmAccountId"), billingCustomerId = f.Optional("billingCustomerId"),
                erpCustomerId = f.Optional("erpCustomerId"), legalEntityId = f.Required("legalEntityId"), billingCountry = f.Country("billingCountry"),
                updatedAt = f.Timestamp("updatedAt"),
            }, row.File, row.Number));
        }

        return (set, errors);
    }

    private static void ReadProducts(string directory, MasterDataSet set, List<MasterDataError> errors)
    {
        var file = Find(directory, "products", errors, required: true);
        if (file is null)
        {
            return;
        }

        if (file.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
        {
            foreach (var row in RowFiles.ReadJson(file, Path.GetFileName(file), errors))
            {
                var f = new Fields(row, errors);
                var product = NewProduct(f);
                f.Guard(() =>
                {
                    foreach (var priceRow in row.Children("prices"))
                    {
                        var pf = new Fields(priceRow, errors);
                        var price = NewPrice(pf);
                        pf.Guard(() => price.tiers = priceRow.Children("tiers").Select(t => NewTier(new Fields(t, errors))).ToList());
                        product.prices.Add(price);
                    }
                });
                set.Products.Add(new Located<Product>(product, row.File, row.Number));
            }

            return;
        }

        var products = new Dictionary<string, Product>(StringComparer.Ordinal);
        foreach (var row in RowFiles.ReadCsv(file, Path.GetFileName(file), errors))
        {
            var product = NewProduct(new Fields(row, errors));
            set.Products.Add(new Located<Product>(product, row.File, row.Number));
            products.TryAdd(product.productId ?? "", product);
        }

        var pricesFile = Path.Combine(directory, "prices.csv");
        if (!File.Exists(pricesFile))
        {
            errors.Add(new MasterDataError("prices.csv", 0, null, "is missing: with products.csv, prices come from prices.csv (columns productId, priceId, currency, unitAmount, billingInterval, intervalCount, meter)"));
            return;
        }

        var prices = new Dictionary<string, Price>(StringComparer.Ordinal);
        foreach (var row in RowFiles.ReadCsv(pricesFile, "prices.csv", errors))
        {
            var f = new Fields(row, errors);
            var productId = f.Required("productId");
            var price = NewPrice(f);
            if (productId is null)
            {
                continue;
            }

            if (!products.TryGetValue(productId, out var product))
            {
                f.Error("productId", "names a product that is not in products.csv");
                continue;
            }

            product.prices.Add(price);
            prices.TryAdd(price.priceId ?? "", price);
        }

        var tiersFile = Path.Combine(directory, "price-tiers.csv");
        if (File.Exists(tiersFile))
        {
            foreach (var row in RowFiles.ReadCsv(tiersFile, "price-tiers.csv", errors))
            {
                var f = new Fields(row, errors);
                var priceId = f.Required("priceId");
                var tier = NewTier(f);
                if (priceId is not null && !prices.TryGetValue(priceId, out _))
                {
                    f.Error("priceId", "names a price that is not in prices.csv");
                }
                else if (priceId is not null)
                {
                    prices[priceId].tiers.Add(tier);
                }
            }
        }
    }

    private static Product NewProduct(Fields f) => new()
    {
        productId = f.Required("productId"), name = f.Required("name"), kind = f.Enum<ProductKind>("kind") ?? default,
        active = f.Bool("active", true), prices = [], updatedAt = f.Timestamp("updatedAt"),
    };

    private static Price NewPrice(Fields f) => new()
    {
        priceId = f.Required("priceId"), currency = f.Currency("currency"), unitAmount = f.Decimal("unitAmount", Money.Precision, Money.Scale, required: false),
        billingInterval = f.Enum<BillingInterval>("billingInterval") ?? default, intervalCount = f.Int("intervalCount"), meter = f.Optional("meter"), tiers = [],
    };

    private static PriceTier NewTier(Fields f) => new()
    {
        upTo = f.Decimal("upTo", Money.Precision, Money.QuantityScale, required: false), unitAmount = f.Decimal("unitAmount", Money.Precision, Money.Scale) ?? default,
        flatAmount = f.Decimal("flatAmount", Money.Precision, Money.Scale, required: false),
    };

    private static IEnumerable<(MasterDataRow Row, Fields Fields)> Rows(string directory, string name, List<MasterDataError> errors)
    {
        var file = Find(directory, name, errors, required: true);
        if (file is null)
        {
            yield break;
        }

        IEnumerable<MasterDataRow> rows = file.EndsWith(".json", StringComparison.OrdinalIgnoreCase)
            ? RowFiles.ReadJson(file, Path.GetFileName(file), errors)
            : RowFiles.ReadCsv(file, Path.GetFileName(file), errors);
        foreach (var row in rows)
        {
            yield return (row, new Fields(row, errors));
        }
    }

    private static string? Find(string directory, string name, List<MasterDataError> errors, bool required)
    {
        var csv = Path.Combine(directory, name + ".csv");
        var json = Path.Combine(directory, name + ".json");
        switch (File.Exists(csv), File.Exists(json))
        {
            case (true, true):
                errors.Add(new MasterDataError(name + ".csv", 0, null, $"and {name}.json both exist; keep one"));
                return null;
            case (true, false):
                return csv;
            case (false, true):
                return json;
            default:
                if (required)
                {
                    errors.Add(new MasterDataError(name + ".csv", 0, null, $"is missing (neither {name}.csv nor {name}.json is in {directory})"));
                }

                return null;
        }
    }

    /// <summary>Typed field access for one row; each problem is recorded once with the row's file and number.</summary>
    private sealed class Fields(MasterDataRow row, List<MasterDataError> errors)
    {
        public void Error(string field, string reason) => errors.Add(new MasterDataError(row.File, row.Number, row.FieldName(field), reason));

        public void Guard(Action action)
        {
            try
            {
                action();
            }
            catch (RowFormatException ex)
            {
                errors.Add(new MasterDataError(row.File, row.Number, ex.Field, ex.Message));
            }
        }

        private string? Raw(string field)
        {
            try
            {
                return row.Text(field);
            }
            catch (RowFormatException ex)
            {
                errors.Add(new MasterDataError(row.File, row.Number, ex.Field, ex.Message));
                return null;
            }
        }

        public string Required(string field)
        {
            var v = Raw(field);
            if (v is null)
            {
                Error(field, "is required");
            }

            return v!;
        }

        public string? Optional(string field) => Raw(field);

        public IReadOnlyList<string> List(string field)
        {
            try
            {
                return row.List(field) ?? [];
            }
            catch (RowFormatException ex)
            {
                errors.Add(new MasterDataError(row.File, row.Number, ex.Field, ex.Message));
                return [];
            }
        }

        public string Country(string field)
        {
            var v = Required(field);
            if (v is not null && !IsCode(v, 2))
            {
                Error(field, "must be an ISO 3166-1 alpha-2 country code in upper case (e.g. US)");
            }

            return v!;
        }

        public List<string> Countries(string field)
        {
            var list = List(field).ToList();
            if (list.Any(c => !IsCode(c, 2)))
            {
                Error(field, "must list ISO 3166-1 alpha-2 country codes in upper case");
            }

            return list;
        }

        public string Currency(string field)
        {
            var v = Required(field);
            if (v is not null && !IsCode(v, 3))
            {
                Error(field, "must be an ISO 4217 currency code in upper case (e.g. USD)");
            }

            return v!;
        }

        public bool Bool(string field, bool fallback)
        {
            var v = Raw(field);
            if (v is null)
            {
                return fallback;
            }

            if (bool.TryParse(v, out var b))
            {
                return b;
            }

            Error(field, "must be true or false");
            return fallback;
        }

        public int? Int(string field)
        {
            var v = Raw(field);
            if (v is null)
            {
                return null;
            }

            if (int.TryParse(v, NumberStyles.None, CultureInfo.InvariantCulture, out var n) && n > 0)
            {
                return n;
            }

            Error(field, "must be a whole number of at least 1");
            return null;
        }

        public DateTime Timestamp(string field)
        {
            var v = Required(field);
            if (v is null)
            {
                return default;
            }

            if (DateTimeOffset.TryParse(v, CultureInfo.InvariantCulture, DateTimeStyles.None, out var t) && (v.EndsWith('Z') || v.EndsWith('z') || v.Length > 6 && v[^6] is '+' or '-'))
            {
                return t.UtcDateTime;
            }

            Error(field, "must be an ISO 8601 timestamp with an offset (e.g. 2026-11-01T00:00:00Z)");
            return default;
        }

        public DateTime? Date(string field)
        {
            var v = Raw(field);
            if (v is null)
            {
                return null;
            }

            if (DateTime.TryParseExact(v, "yyyy-MM-dd", CultureInfo.InvariantCulture, DateTimeStyles.None, out var d))
            {
                return DateTime.SpecifyKind(d, DateTimeKind.Utc);
            }

            Error(field, "must be a date as yyyy-MM-dd");
            return null;
        }

        public AvroDecimal? Decimal(string field, int precision, int scale, bool required = true)
        {
            var v = required ? Required(field) : Raw(field);
            if (v is null)
            {
                return null;
            }

            if (!decimal.TryParse(v, NumberStyles.AllowDecimalPoint | NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var d))
            {
                Error(field, "must be a decimal number with a point (e.g. 0.0725)");
                return null;
            }

            try
            {
                return Money.ToAvro(d, precision, scale);
            }
            catch (ArgumentOutOfRangeException)
            {
                Error(field, $"does not fit decimal({precision},{scale}): at most {scale} digits after the point and {precision - scale} before it; it is never rounded");
                return null;
            }
        }

        public T? Enum<T>(string field, bool required = true) where T : struct, Enum
        {
            var v = required ? Required(field) : Raw(field);
            if (v is null)
            {
                return null;
            }

            if (System.Enum.TryParse<T>(v, ignoreCase: false, out var e) && System.Enum.IsDefined(e) && !int.TryParse(v, out _))
            {
                return e;
            }

            Error(field, $"must be one of {string.Join(", ", System.Enum.GetNames<T>())}");
            return null;
        }

        private static bool IsCode(string v, int length) => v.Length == length && v.All(char.IsAsciiLetterUpper);
    }
}
