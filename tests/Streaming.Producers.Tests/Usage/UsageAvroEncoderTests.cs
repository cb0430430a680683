using Confluent.Kafka;
using Confluent.Kafka.SyncOverAsync;
using Confluent.SchemaRegistry.Serdes;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Producers.Usage;

namespace Streaming.Producers.Tests.Usage;

/// <summary>
/// The hand-written usage encoder against Confluent's own AvroSerializer/AvroDeserializer: identical bytes for the
/// same values (framing, schema id, every field), and readable by the deserializer. Does not cover producing (see the
/// ingestor and endpoint tests).
/// </summary>
public sealed class UsageAvroEncoderTests(UsageStack stack) : IClassFixture<UsageStack>
{
    private static readonly DateTimeOffset At = new(2026, 11, 1, 10, 15, 30, 123, TimeSpan.Zero);

    public static TheoryData<string, decimal, string?> Cases => new()
    {
        { "plain", 1250m, null },
        { "zero quantity", 0m, null },
        { "fraction", 0.000001m, "region=eu" },
        { "largest", 999_999_999_999.999999m, "region=eu;plan=pro" },
        { "two's complement edge 127", 0.000127m, null },
        { "two's complement edge 128", 0.000128m, null },
        { "two's complement edge 32768", 0.032768m, null },
        { "unicode", 42.5m, "région=Zürich;名前=値" },
        // Length prefixes of 1 and 2 bytes, with the bytes moved down after a shorter prefix than the worst case reserved.
        { "long and multi-byte strings", 3m, $"ascii={new string('a', 30)};accents={new string('é', 30)};long={new string('x', 70)};cjk={new string('値', 25)}" },
        { "a record larger than the reused encode buffer", 1m, $"big={new string('z', 30_000)}" },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public async Task Encoder_writes_the_same_bytes_as_the_Confluent_serializer(string label, decimal quantity, string? attributes)
    {
        Assert.NotNull(label);
        var topic = await stack.NewTopicAsync(1);
        var encoder = await UsageAvroEncoder.CreateAsync(stack.Client, topic, TestContext.Current.CancellationToken);
        var record = Record(quantity, attributes);
        var confluent = new AvroSerializer<UsageEvent>(stack.Client, new AvroSerializerConfig { AutoRegisterSchemas = false, UseLatestVersion = false }).AsSyncOverAsync();

        var expected = confluent.Serialize(ToContract(record), new SerializationContext(MessageComponentType.Value, topic));
        var actual = encoder.Encode(record);

        Assert.Equal(Convert.ToHexString(expected), Convert.ToHexString(actual));
    }

    [Fact]
    public async Task Encoded_records_are_read_back_by_the_Confluent_deserializer_field_by_field()
    {
        var topic = await stack.NewTopicAsync(1);
        var encoder = await UsageAvroEncoder.CreateAsync(stack.Client, topic, TestContext.Current.CancellationToken);
        var record = Record(17.25m, "region=us;plan=team");
        var deserializer = new AvroDeserializer<UsageEvent>(stack.Client).AsSyncOverAsync();

        var read = deserializer.Deserialize(encoder.Encode(record), false, new SerializationContext(MessageComponentType.Value, topic));

        Assert.Equal("use_1", read.usageEventId);
        Assert.Equal("si_42", read.subscriptionItemId);
        Assert.Equal("cus_acme", read.customerId);
        Assert.Equal("api_calls", read.meter);
        Assert.Equal(17.25m, Money.ToDecimal(read.quantity));
        Assert.Equal(At.UtcDateTime, read.occurredAt);
        Assert.Equal(At.AddSeconds(2).UtcDateTime, read.receivedAt);
        Assert.Equal("gateway-eu1", read.source);
        Assert.Equal(new Dictionary<string, string> { ["region"] = "us", ["plan"] = "team" }, read.attributes);
    }

    [Fact]
    public async Task An_unregistered_schema_fails_at_creation_naming_the_subject()
    {
        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => UsageAvroEncoder.CreateAsync(stack.Client, "not.registered.v1", TestContext.Current.CancellationToken));
        Assert.Contains("not.registered.v1-value", ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("0.0000001")]
    [InlineData("1000000000000")]
    public void A_quantity_that_does_not_fit_decimal_18_6_is_refused_not_rounded(string quantity)
    {
        var ex = Assert.Throws<ArgumentException>(() => new UsageAvroEncoder(1).Encode(Record(decimal.Parse(quantity, System.Globalization.CultureInfo.InvariantCulture), null)));
        Assert.Contains("decimal(18,6)", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void The_encoder_follows_the_field_order_of_the_usage_schema()
    {
        // The encoder writes fields in this order; a schema change must change the encoder (and this list) with it.
        var fields = ((Avro.RecordSchema)UsageEvent._SCHEMA).Fields.Select(f => $"{f.Name}:{f.Schema.Fullname}");
        Assert.Equal(
            ["usageEventId:string", "subscriptionItemId:string", "customerId:string", "meter:string", "quantity:bytes",
             "occurredAt:long", "receivedAt:long", "source:string", "attributes:map"],
            fields);
    }

    internal static UsageRecord Record(decimal quantity, string? attributes) => new(
        "use_1", "si_42", "cus_acme", "api_calls", quantity, At, At.AddSeconds(2), "gateway-eu1",
        attributes?.Split(';').Select(p => p.Split('=')).ToDictionary(p => p[0], p => p[1]));

    internal static UsageEvent ToContract(UsageRecord r) => new()
    {
        usageEventId = r.UsageEventId, subscriptionItemId = r.SubscriptionItemId, customerId = r.CustomerId, meter = r.Meter,
        quantity = Money.Quantity(r.Quantity), occurredAt = r.OccurredAt.UtcDateTime, receivedAt = r.ReceivedAt.UtcDateTime, source = r.Source,
        attributes = r.Attributes is null ? new Dictionary<string, string>() : new Dictionary<string, string>(r.Attributes),
    };
}
