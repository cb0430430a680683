using Streaming.Contracts;

namespace Streaming.Producers.MasterData;

/// <summary>
/// Produces a checked <see cref="MasterDataSet"/> to the compacted <c>md.*</c> topics, in dependency order (legal
/// entities, products, tax rules, GL mappings, account links). Keys: the natural id; an account link is written once
/// per lookup key, <c>billing:{billingCustomerId}</c> and <c>crm:{crmAccountId}</c>, which the topologies join on.
/// Correlation id <c>md:{id}</c> (links: <c>md:{canonicalCustomerId}</c>).
/// </summary>
public static class MasterDataLoader
{
    /// <summary>Queues every record (call <see cref="AvroRecordProducer.FlushAsync"/> to wait for them); returns records per topic.</summary>
    public static IReadOnlyDictionary<string, int> Produce(MasterDataSet set, AvroRecordProducer producer)
    {
        ArgumentNullException.ThrowIfNull(set);
        ArgumentNullException.ThrowIfNull(producer);
        var counts = new Dictionary<string, int>(StringComparer.Ordinal);
        void Send<T>(string topic, string key, T value, string correlation) where T : class, Avro.Specific.ISpecificRecord
        {
            producer.Produce(topic, key, value, correlation);
            counts[topic] = counts.GetValueOrDefault(topic) + 1;
        }

        foreach (var e in set.LegalEntities)
        {
            Send(Topics.LegalEntities, e.Record.legalEntityId, e.Record, $"md:{e.Record.legalEntityId}");
        }

        foreach (var p in set.Products)
        {
            Send(Topics.Products, p.Record.productId, p.Record, $"md:{p.Record.productId}");
        }

        foreach (var r in set.TaxRules)
        {
            Send(Topics.TaxRules, r.Record.ruleId, r.Record, $"md:{r.Record.ruleId}");
        }

        foreach (var m in set.GlMappings)
        {
            Send(Topics.GlMappings, m.Record.mappingId, m.Record, $"md:{m.Record.mappingId}");
        }

        foreach (var l in set.AccountLinks)
        {
            if (l.Record.billingCustomerId is { } billing)
            {
                Send(Topics.AccountLinks, $"billing:{billing}", l.Record, $"md:{l.Record.canonicalCustomerId}");
            }

            if (l.Record.crmAccountId is { } crm)
            {
                Send(Topics.AccountLinks, $"crm:{crm}", l.Record, $"md:{l.Record.canonicalCustomerId}");
            }
        }

        return counts;
    }
}
