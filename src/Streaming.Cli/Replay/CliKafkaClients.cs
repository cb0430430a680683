using Confluent.Kafka;

namespace Streaming.Cli;

/// <summary>
/// Kafka clients for one-shot commands (replay, reconcile): librdkafka's own log lines are dropped, because against an
/// unreachable cluster it repeats a connect error every few milliseconds until the request times out; the failure still
/// reaches the command as an exception naming the reason, which the command prints once.
/// </summary>
internal static class CliKafkaClients
{
    public static IAdminClient Admin(AdminClientConfig config) => new AdminClientBuilder(config).SetLogHandler(static (_, _) => { }).Build();

    public static ConsumerBuilder<TKey, TValue> Consumer<TKey, TValue>(ConsumerConfig config) =>
        new ConsumerBuilder<TKey, TValue>(config).SetLogHandler(static (_, _) => { });
}
