using Streaming.Contracts;
using Streaming.Contracts.MasterData;

namespace Streaming.Producers.MasterData;

/// <summary>
/// Cross-record checks of a master-data set, each failure naming the referencing row: ids unique per file (and link
/// ids unique, since they are Kafka keys); every legal entity a link, GL mapping or tax rule names exists; a link's
/// billing country is served by its entity; a tax rule's payable account is a GL account mapped for its entity; price
/// ids unique; a usage price has a meter; a price without a unit amount has tiers, and tiers ascend with only the last open.
/// </summary>
public static class MasterDataValidator
{
    /// <summary>Every problem found (empty when the set is consistent).</summary>
    public static List<MasterDataError> Check(MasterDataSet set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var errors = new List<MasterDataError>();
        void Error<T>(Located<T> at, string field, string reason) => errors.Add(new MasterDataError(at.File, at.Row, field, reason));

        Unique(set.LegalEntities, e => e.legalEntityId, "legalEntityId", errors);
        Unique(set.Products, p => p.productId, "productId", errors);
        Unique(set.TaxRules, r => r.ruleId, "ruleId", errors);
        Unique(set.GlMappings, m => m.mappingId, "mappingId", errors);
        Unique(set.AccountLinks, l => l.canonicalCustomerId, "canonicalCustomerId", errors);
        Unique(set.AccountLinks, l => l.billingCustomerId, "billingCustomerId", errors);
        Unique(set.AccountLinks, l => l.crmAccountId, "crmAccountId", errors);

        var entities = set.LegalEntities.Where(e => e.Record.legalEntityId is not null)
            .GroupBy(e => e.Record.legalEntityId, StringComparer.Ordinal).ToDictionary(g => g.Key, g => g.First().Record, StringComparer.Ordinal);

        var priceIds = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var product in set.Products)
        {
            if (product.Record.prices.Count == 0)
            {
                Error(product, "prices", "a product needs at least one price");
            }

            foreach (var (price, i) in product.Record.prices.Select((p, i) => (p, i + 1)))
            {
                var at = $"prices[{i}]";
                if (price.priceId is not null && !priceIds.TryAdd(price.priceId, product.Record.productId))
                {
                    Error(product, $"{at}.priceId", $"price id is also used by product {priceIds[price.priceId]}");
                }

                if (product.Record.kind == ProductKind.USAGE && price.meter is null)
                {
                    Error(product, $"{at}.meter", "a usage product's price needs the meter it rates");
                }

                if (price.unitAmount is null && price.tiers.Count == 0)
                {
                    Error(product, $"{at}.unitAmount", "a price needs a unit amount or tiers");
                }

                for (var t = 0; t < price.tiers.Count; t++)
                {
                    var upTo = Money.ToDecimal(price.tiers[t].upTo);
                    var last = t == price.tiers.Count - 1;
                    if (upTo is null && !last)
                    {
                        Error(product, $"{at}.tiers[{t + 1}].upTo", "only the last tier may be open-ended");
                    }
                    else if (upTo is not null && last)
                    {
                        Error(product, $"{at}.tiers[{t + 1}].upTo", "the last tier must be open-ended (no upTo)");
                    }
                    else if (t > 0 && upTo is { } u && Money.ToDecimal(price.tiers[t - 1].upTo) is { } previous && u <= previous)
                    {
                        Error(product, $"{at}.tiers[{t + 1}].upTo", "tiers must be in ascending order of upTo");
                    }
                }
            }
        }

        foreach (var mapping in set.GlMappings)
        {
            if (mapping.Record.legalEntityId is { } id && !entities.ContainsKey(id))
            {
                Error(mapping, "legalEntityId", $"legal entity {id} is not in legal-entities");
            }
        }

        var mappedAccounts = set.GlMappings.Select(m => (m.Record.legalEntityId, m.Record.glAccountNumber)).ToHashSet();
        foreach (var rule in set.TaxRules)
        {
            if (rule.Record.legalEntityId is not { } id)
            {
                continue;
            }

            if (!entities.ContainsKey(id))
            {
                Error(rule, "legalEntityId", $"legal entity {id} is not in legal-entities");
            }
            else if (rule.Record.taxPayableGlAccount is { } account && !mappedAccounts.Contains((id, account)))
            {
                Error(rule, "taxPayableGlAccount", $"GL account {account} is not mapped for legal entity {id} in gl-mappings");
            }
        }

        foreach (var link in set.AccountLinks)
        {
            if (link.Record.billingCustomerId is null && link.Record.crmAccountId is null)
            {
                Error(link, "billingCustomerId", "a link needs a billingCustomerId or a crmAccountId (they are its lookup keys)");
            }

            if (link.Record.legalEntityId is not { } id)
            {
                continue;
            }

            if (!entities.TryGetValue(id, out var entity))
            {
                Error(link, "legalEntityId", $"legal entity {id} is not in legal-entities");
            }
            else if (link.Record.billingCountry is { } country && !entity.billingCountries.Contains(country))
            {
                Error(link, "billingCountry", $"{country} is not a billing country of legal entity {id} ({string.Join(", ", entity.billingCountries)})");
            }
        }

        return errors.OrderBy(e => MasterDataReader.Files.ToList().FindIndex(f => e.File.StartsWith(f, StringComparison.Ordinal))).ThenBy(e => e.Row).ToList();
    }

    private static void Unique<T>(List<Located<T>> records, Func<T, string?> id, string field, List<MasterDataError> errors)
    {
        var first = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var r in records)
        {
            if (id(r.Record) is { } value && !first.TryAdd(value, r.Row))
            {
                errors.Add(new MasterDataError(r.File, r.Row, field, $"{value} is also on row {first[value]}"));
            }
        }
    }
}
