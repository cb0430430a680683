using System.Collections.Concurrent;
using System.Globalization;
using Confluent.Kafka;
using Streaming.Platform.Embedded;

namespace Streaming.IntegrationTests;

/// <summary>
/// Broker failures injected into the embedded mock cluster: a leader outage mid-stream and pushed Produce errors, with an
/// idempotent acks=all producer. Proves delivery exactly once and in order per key by reading the topic back and counting
/// the log. Needs the mock's fault API, so it skips on a real or Testcontainers broker. Runs alone (it takes brokers
/// down on the shared cluster). Consumer-side failover and transactions are not covered.
/// </summary>
[Collection(nameof(FaultInjectionCollection))]
public sealed class FaultInjectionTests(KafkaStackFixture stack)
{
    private const short ProduceApiKey = 0;

    private EmbeddedKafkaCluster EmbeddedOrSkip()
    {
        Assert.SkipUnless(stack.IsEmbedded,
            $"Fault injection needs the embedded librdkafka mock cluster; this run uses {stack.Kind}: {stack.Reason}");
        return stack.Embedded!;
    }

    private ProducerConfig IdempotentProducer() => new()
    {
        BootstrapServers = stack.BootstrapServers,
        EnableIdempotence = true,
        Acks = Acks.All,
        LingerMs = 5,
        RetryBackoffMs = 20,
        MessageTimeoutMs = 60_000,
    };

    [Fact]
    public async Task Leader_outage_mid_stream_loses_and_duplicates_nothing_and_keeps_per_key_order()
    {
        var cluster = EmbeddedOrSkip();
        var ct = TestContext.Current.CancellationToken;
        const int records = 2_000;
        const int keys = 10;
        const int partitions = 3;
        var topic = KafkaStackFixture.UniqueName("it.outage");
        await stack.CreateTopicAsync(topic, partitions, ct);
        for (var p = 0; p < partitions; p++)
        {
            cluster.SetPartitionLeader(topic, p, 1);
        }

        var delivered = 0;
        var failures = new ConcurrentQueue<string>();
        try
        {
            using var producer = new ProducerBuilder<string, string>(IdempotentProducer()).Build();
            for (var i = 0; i < records; i++)
            {
                if (i == 600)
                {
                    // Let the stream flow to broker 1 first, so the outage hits records in flight.
                    WaitUntil(() => Volatile.Read(ref delivered) >= 300, TimeSpan.FromSeconds(30), "300 deliveries before the outage", ct);
                    cluster.SetBrokerDown(1);
                    for (var p = 0; p < partitions; p++)
                    {
                        cluster.SetPartitionLeader(topic, p, 2);
                    }
                }

                if (i == 1_400)
                {
                    // Only bring broker 1 back once records produced during the outage were delivered by broker 2.
                    WaitUntil(() => Volatile.Read(ref delivered) >= 1_000, TimeSpan.FromSeconds(30), "1,000 deliveries during the outage", ct);
                    cluster.SetBrokerUp(1);
                    for (var p = 0; p < partitions; p++)
                    {
                        cluster.SetPartitionLeader(topic, p, 1);
                    }
                }

                var key = $"acct-{i % keys}";
                var seq = i / keys;
                producer.Produce(topic, new Message<string, string> { Key = key, Value = $"{key}:{seq.ToString(CultureInfo.InvariantCulture)}" }, report =>
                {
                    if (report.Error.IsError)
                    {
                        failures.Enqueue($"{report.Message.Value}: {report.Error}");
                    }
                    else
                    {
                        Interlocked.Increment(ref delivered);
                    }
                });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(60)));
        }
        finally
        {
            cluster.SetBrokerUp(1);
        }

        Assert.Empty(failures);
        Assert.Equal(records, delivered);
        Assert.Equal(records, KafkaTestClients.RecordsInLog(stack, topic));

        var read = KafkaTestClients.ReadFromStart<string, string>(stack, topic, records, TimeSpan.FromSeconds(30), ct);
        Assert.Equal(records, read.Count);
        var perKey = read.GroupBy(r => r.Message.Key).ToDictionary(g => g.Key, g => g.Select(r => r.Message.Value).ToList());
        Assert.Equal(keys, perKey.Count);
        foreach (var (key, values) in perKey)
        {
            Assert.Equal(Enumerable.Range(0, records / keys).Select(s => $"{key}:{s.ToString(CultureInfo.InvariantCulture)}"), values);
        }
    }

    [Fact]
    public async Task Pushed_produce_errors_are_retried_without_duplicates()
    {
        var cluster = EmbeddedOrSkip();
        var ct = TestContext.Current.CancellationToken;
        const int records = 200;
        var topic = KafkaStackFixture.UniqueName("it.flaky");
        await stack.CreateTopicAsync(topic, 1, ct);

        var failures = new ConcurrentQueue<string>();
        try
        {
            cluster.PushRequestErrors(ProduceApiKey,
                ErrorCode.NotEnoughReplicas, ErrorCode.RequestTimedOut, ErrorCode.NotEnoughReplicas, ErrorCode.RequestTimedOut);
            using var producer = new ProducerBuilder<Null, string>(IdempotentProducer()).Build();
            for (var i = 0; i < records; i++)
            {
                producer.Produce(topic, new Message<Null, string> { Value = i.ToString(CultureInfo.InvariantCulture) }, report =>
                {
                    if (report.Error.IsError)
                    {
                        failures.Enqueue($"{report.Message.Value}: {report.Error}");
                    }
                });
            }

            Assert.Equal(0, producer.Flush(TimeSpan.FromSeconds(30)));
        }
        finally
        {
            cluster.ClearRequestErrors(ProduceApiKey);
        }

        Assert.Empty(failures);
        Assert.Equal(records, KafkaTestClients.RecordsInLog(stack, topic));
        var read = KafkaTestClients.ReadFromStart<Ignore, string>(stack, topic, records, TimeSpan.FromSeconds(30), ct);
        Assert.Equal(Enumerable.Range(0, records).Select(i => i.ToString(CultureInfo.InvariantCulture)), read.Select(r => r.Message.Value));
        Assert.Equal(Enumerable.Range(0, records).Select(i => (long)i), read.Select(r => r.Offset.Value));
    }

    [Fact]
    public async Task Pushed_produce_error_reaches_a_producer_that_may_not_retry()
    {
        // Shows the injection is real, so the retry test above is not passing against a broker that never failed.
        var cluster = EmbeddedOrSkip();
        var ct = TestContext.Current.CancellationToken;
        var topic = KafkaStackFixture.UniqueName("it.noretry");
        await stack.CreateTopicAsync(topic, 1, ct);
        try
        {
            cluster.PushRequestErrors(ProduceApiKey, ErrorCode.NotEnoughReplicas);
            using var producer = new ProducerBuilder<Null, string>(new ProducerConfig
            {
                BootstrapServers = stack.BootstrapServers,
                Acks = Acks.All,
                MessageSendMaxRetries = 0,
                MessageTimeoutMs = 10_000,
            }).Build();
            var ex = await Assert.ThrowsAsync<ProduceException<Null, string>>(
                () => producer.ProduceAsync(topic, new Message<Null, string> { Value = "x" }, ct));
            Assert.Equal(ErrorCode.NotEnoughReplicas, ex.Error.Code);
        }
        finally
        {
            cluster.ClearRequestErrors(ProduceApiKey);
        }

        Assert.Equal(0, KafkaTestClients.RecordsInLog(stack, topic));
    }

    private static void WaitUntil(Func<bool> condition, TimeSpan timeout, string what, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            ct.ThrowIfCancellationRequested();
            Assert.True(DateTime.UtcNow < deadline, $"Timed out after {timeout} waiting for {what}.");
            Thread.Sleep(10);
        }
    }
}

/// <summary>Fault-injection tests take shared brokers down, so they run alone, after the parallel tests.</summary>
[CollectionDefinition(nameof(FaultInjectionCollection), DisableParallelization = true)]
public sealed class FaultInjectionCollection;
