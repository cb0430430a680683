using Confluent.SchemaRegistry;

namespace Streaming.SchemaRegistry.Tests;

internal static class RegistryTestSupport
{
    public const string PaymentSchema = """
        {"type":"record","name":"Payment","namespace":"streaming.tests","fields":[{"name":"paymentId","type":"string"},{"name":"amountMinor","type":"long"}]}
        """;

    // Same schema as PaymentSchema, different whitespace and attribute order.
    public const string PaymentSchemaReformatted = """
        {
          "namespace": "streaming.tests", "name": "Payment", "type": "record",
          "fields": [ { "type": "string", "name": "paymentId" }, { "name": "amountMinor", "type": "long" } ]
        }
        """;

    public const string PaymentSchemaV2 = """
        {"type":"record","name":"Payment","namespace":"streaming.tests","fields":[{"name":"paymentId","type":"string"},{"name":"amountMinor","type":"long"},{"name":"note","type":["null","string"],"default":null}]}
        """;

    public static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static string FixturePath(params string[] parts) => Path.Combine([AppContext.BaseDirectory, "Fixtures", .. parts]);

    public static Task<EmbeddedSchemaRegistry> StartRegistryAsync() =>
        EmbeddedSchemaRegistry.StartAsync(cancellationToken: Ct);

    public static CachedSchemaRegistryClient ClientFor(EmbeddedSchemaRegistry registry) =>
        new(new SchemaRegistryConfig { Url = registry.Url, MaxRetries = 1 });

    public static Schema AvroSchema(string text) => new(text, SchemaType.Avro);
}
