namespace Streaming.Producers.Usage;

/// <summary>
/// One metered usage event as an in-process producer hands it to <see cref="UsageIngestor"/>; it becomes one
/// <c>billing.usage.v1</c> record (Avro <c>UsageEvent</c>) keyed by <see cref="SubscriptionItemId"/>.
/// </summary>
/// <param name="UsageEventId">The client's idempotency id; downstream drops repeats of it.</param>
/// <param name="SubscriptionItemId">Subscription item billed; the Kafka key, so one item's events stay in order on one partition.</param>
/// <param name="CustomerId">Billing customer id.</param>
/// <param name="Meter">Meter name matching a price's meter (e.g. <c>api_calls</c>).</param>
/// <param name="Quantity">Quantity consumed: at most 6 digits after the point and 12 before (Avro decimal(18,6)).</param>
/// <param name="OccurredAt">Event time (drives the usage window).</param>
/// <param name="ReceivedAt">When the ingest edge received it.</param>
/// <param name="Source">Emitting system or client (e.g. <c>api-gateway-eu1</c>).</param>
/// <param name="Attributes">Free-form dimensions carried through; null means none.</param>
public readonly record struct UsageRecord(
    string UsageEventId,
    string SubscriptionItemId,
    string CustomerId,
    string Meter,
    decimal Quantity,
    DateTimeOffset OccurredAt,
    DateTimeOffset ReceivedAt,
    string Source,
    IReadOnlyDictionary<string, string>? Attributes = null);
