using Confluent.Kafka;
using Microsoft.Extensions.Logging.Abstractions;
using Streamiz.Kafka.Net;
using Streaming.Contracts;
using Streaming.Contracts.MasterData;
using Streaming.Platform.Topics;
using Streaming.Processors.FinanceMapping;
using Streaming.Processors.Hosting;
using Streaming.Producers;

namespace Streaming.IntegrationTests;

/// <summary>Starts the finance topology on the shared stack under a unique application id, its internal topics created first.</summary>
public static class FinanceTopologyRunner
{
    /// <summary>Builds, creates internal topics, starts and waits for RUNNING.</summary>
    public static async Task<KafkaStream> StartAsync(KafkaStackFixture stack, IProducer<string, byte[]> producer, string appId, FinanceMappingOptions options,
        CancellationToken ct, ProcessingGuarantee guarantee = ProcessingGuarantee.AT_LEAST_ONCE)
    {
        var builder = new StreamBuilder();
        FinanceMappingTopology.ConfigureTopology(builder, new FinanceSerdes(stack.Registry), options);
        var topology = builder.Build();
        foreach (var t in StreamizInternalTopics.For(topology, appId, TopicManifest.LoadEmbedded(), replicationFactor: 1, minInsyncReplicas: 1))
        {
            await stack.CreateTopicAsync(t.Name, t.Partitions, ct);
        }

        var config = new StreamConfig
        {
            ApplicationId = appId,
            BootstrapServers = stack.BootstrapServers,
            AutoOffsetReset = AutoOffsetReset.Earliest,
            CommitIntervalMs = 100,
            Guarantee = guarantee,
            StateDir = Directory.CreateTempSubdirectory("streamiz-finance-").FullName,
        };
        new StreamizDeadLetters(producer, stack.Registry, appId, NullLogger.Instance).Install(config);
        // Through our client supplier, as `up` starts it: its GlobalKTable consumer skips Streamiz 1.8.2's redundant
        // seek after assign, which librdkafka used to refuse now and then (Local: Erroneous state; docs/processors.md).
        var stream = new KafkaStream(topology, config, new StreamizClientSupplier(config));
        var running = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        stream.StateChanged += (_, s) =>
        {
            if (s == KafkaStream.State.RUNNING)
            {
                running.TrySetResult();
            }
        };
        await stream.StartAsync(ct);
        await running.Task.WaitAsync(TimeSpan.FromSeconds(60), ct);
        return stream;
    }

    /// <summary>Produces a legal entity with a GL mapping for every account role (what the readiness gate asks for).</summary>
    public static void ProduceEntity(AvroRecordProducer records, string entity, string currency, DateTime at)
    {
        records.Produce(Topics.LegalEntities, entity, new LegalEntity
        {
            legalEntityId = entity, name = entity, country = entity[..2], functionalCurrency = currency, taxRegistrationIds = [], billingCountries = [entity[..2]], active = true, updatedAt = at,
        }, "md");
        foreach (var role in Enum.GetValues<AccountRole>())
        {
            records.Produce(Topics.GlMappings, $"gl_{entity}_{role}", new GlMapping { mappingId = $"gl_{entity}_{role}", legalEntityId = entity, accountRole = role, glAccountNumber = role.ToString() }, "md");
        }
    }
}
