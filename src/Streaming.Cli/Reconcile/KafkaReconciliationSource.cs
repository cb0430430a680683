using Confluent.Kafka;
using Confluent.Kafka.Admin;
using Confluent.SchemaRegistry;
using Streaming.Contracts;
using Streaming.Contracts.Billing;
using Streaming.Contracts.Finance;
using Streaming.Contracts.Ops;
using Streaming.Platform.Serialization;
using Streaming.Processors.FinanceMapping;
using Streaming.Sinks.Reconciliation;
using BillingFact = Streaming.Sinks.Reconciliation.BillingFact;

namespace Streaming.Cli.Reconcile;

/// <summary>
/// What reconcile read from Kafka: the finance events, the sink's quarantined posting keys, the billing records (null when the
/// billing topics do not exist on the cluster) and records it could not read.
/// </summary>
public sealed record ReconciliationSource(IReadOnlyList<SourceFact> Facts, IReadOnlyDictionary<string, string> Quarantined, IReadOnlyList<BillingFact>? Billing,
    IReadOnlyList<string> Unreadable);

/// <summary>
/// Reads the source side of a reconciliation from Kafka without joining any group: every record of <c>finance.events.v1</c>
/// (invoices issued and voided, payments applied, as the finance-mapping topology derived them from <c>billing.invoices.v1</c>
/// and <c>billing.payments.v1</c>) up to the end offsets seen at start, and the posting keys the sink sent to
/// <c>ops.quarantine.v1</c>. A fact at or past the sink group's committed offset is marked in flight. One level further back it
/// reads <c>billing.invoices.v1</c> and <c>billing.payments.v1</c> (finalized and voided invoices, succeeded payments), with the
/// mapping stage's quarantine records (matched by source coordinates) and its group's committed offsets.
/// </summary>
public sealed class KafkaReconciliationSource(ConsumerConfig consumerConfig, AdminClientConfig adminConfig, ISchemaRegistryClient registry)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);

    /// <summary>Reads the topics to their current ends.</summary>
    public async Task<ReconciliationSource> ReadAsync(string sinkGroup, CancellationToken cancellationToken, string mappingGroup = FinanceMappingTopology.ApplicationId)
    {
        var unreadable = new List<string>();
        var committed = await CommittedAsync(sinkGroup, Topics.FinanceEvents, cancellationToken).ConfigureAwait(false);
        var events = new AvroSerdes<FinanceEvent>(registry);
        var facts = new List<SourceFact>();
        foreach (var record in ReadToEnd(Topics.FinanceEvents, cancellationToken))
        {
            FinanceEvent fe;
            try
            {
                if (record.Message.Value is null)
                {
                    continue; // a tombstone carries no fact (the sink dead-letters it)
                }

                fe = events.Deserialize(record.Message.Value, false, new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers));
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                unreadable.Add($"{record.TopicPartitionOffset}: {ex.GetType().Name}: {ex.Message}");
                continue;
            }

            SourceFactKind? kind = fe.eventType switch
            {
                FinanceEventType.INVOICE_ISSUED => SourceFactKind.InvoiceIssued,
                FinanceEventType.INVOICE_VOIDED => SourceFactKind.InvoiceVoided,
                FinanceEventType.PAYMENT_APPLIED => SourceFactKind.PaymentApplied,
                _ => null,
            };
            if (kind is null)
            {
                continue;
            }

            var inFlight = !committed.TryGetValue(record.Partition.Value, out var next) || record.Offset.Value >= next;
            facts.Add(new SourceFact(fe.postingKey, kind.Value, fe.legalEntityId, fe.currency, Money.ToDecimal(fe.totalAmount),
                $"{fe.source.system}:{fe.source.objectType}:{fe.source.objectId}", DateTime.SpecifyKind(fe.effectiveDate, DateTimeKind.Utc),
                inFlight ? SourceFactState.InFlight : SourceFactState.Processed));
        }

        var quarantine = new AvroSerdes<QuarantineRecord>(registry);
        var quarantined = new Dictionary<string, string>(StringComparer.Ordinal);
        var quarantinedSources = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var record in ReadToEnd(Topics.Quarantine, cancellationToken))
        {
            try
            {
                if (record.Message.Value is null)
                {
                    continue;
                }

                var q = quarantine.Deserialize(record.Message.Value, false, new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers));
                if (q.postingKey is { } key)
                {
                    quarantined[key] = $"{q.reasonCode}: {q.reasonDetail}";
                }
                else if (q.sourceTopic is { } topic)
                {
                    quarantinedSources[Coordinates(topic, q.sourcePartition, q.sourceOffset)] = q.reasonCode;
                }
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                unreadable.Add($"{record.TopicPartitionOffset}: {ex.GetType().Name}: {ex.Message}");
            }
        }

        var billing = await ReadBillingAsync(mappingGroup, quarantinedSources, unreadable, cancellationToken).ConfigureAwait(false);
        return new ReconciliationSource(facts, quarantined, billing, unreadable);
    }

    private static string Coordinates(string topic, int? partition, long? offset) => $"{topic}[{partition}]@{offset}";

    private async Task<List<BillingFact>?> ReadBillingAsync(string mappingGroup, Dictionary<string, string> quarantinedSources, List<string> unreadable, CancellationToken ct)
    {
        List<string> topics;
        using (var admin = CliKafkaClients.Admin(adminConfig))
        {
            var existing = admin.GetMetadata(RequestTimeout).Topics.Select(t => t.Topic).ToHashSet(StringComparer.Ordinal);
            topics = new[] { Topics.BillingInvoices, Topics.BillingPayments }.Where(existing.Contains).ToList();
        }

        if (topics.Count == 0)
        {
            return null;
        }

        var billing = new List<BillingFact>();
        var invoices = new AvroSerdes<Invoice>(registry);
        var payments = new AvroSerdes<Payment>(registry);
        foreach (var topic in topics)
        {
            var committed = await CommittedAsync(mappingGroup, topic, ct).ConfigureAwait(false);
            foreach (var record in ReadToEnd(topic, ct))
            {
                if (record.Message.Value is null)
                {
                    continue;
                }

                var at = Coordinates(record.Topic, record.Partition.Value, record.Offset.Value);
                var state = !committed.TryGetValue(record.Partition.Value, out var next) || record.Offset.Value >= next ? SourceFactState.InFlight : SourceFactState.Processed;
                var context = new SerializationContext(MessageComponentType.Value, record.Topic, record.Message.Headers);
                try
                {
                    BillingFact? fact = null;
                    if (topic == Topics.BillingInvoices)
                    {
                        var invoice = invoices.Deserialize(record.Message.Value, false, context);
                        // Same rules as FinanceEventMapper: finalized → issued (at issuedAt), voided → voided (at voidedAt).
                        if (invoice.eventType is InvoiceEventType.FINALIZED or InvoiceEventType.VOIDED)
                        {
                            var voided = invoice.eventType == InvoiceEventType.VOIDED;
                            fact = new BillingFact(FinanceEventMapper.InvoicePostingKey(invoice.invoiceId, voided ? FinanceEventType.INVOICE_VOIDED : FinanceEventType.INVOICE_ISSUED),
                                voided ? SourceFactKind.InvoiceVoided : SourceFactKind.InvoiceIssued, invoice.currency.ToUpperInvariant(), Money.ToDecimal(invoice.total),
                                $"{invoice.sourceSystem.ToString().ToLowerInvariant()}:invoice:{invoice.invoiceId}",
                                DateTime.SpecifyKind(voided ? invoice.voidedAt ?? invoice.occurredAt : invoice.issuedAt, DateTimeKind.Utc), at);
                        }
                    }
                    else
                    {
                        var payment = payments.Deserialize(record.Message.Value, false, context);
                        if (payment is { status: PaymentStatus.SUCCEEDED, kind: PaymentKind.PAYMENT })
                        {
                            fact = new BillingFact($"payment:{payment.paymentId}:applied", SourceFactKind.PaymentApplied, payment.currency.ToUpperInvariant(),
                                Money.ToDecimal(payment.amount), $"{payment.sourceSystem.ToString().ToLowerInvariant()}:payment:{payment.paymentId}",
                                DateTime.SpecifyKind(payment.occurredAt, DateTimeKind.Utc), at);
                        }
                    }

                    if (fact is not null)
                    {
                        billing.Add(fact with { QuarantineReason = quarantinedSources.GetValueOrDefault(at), State = state });
                    }
                }
                catch (Exception ex) when (ex is not OperationCanceledException)
                {
                    unreadable.Add($"{record.TopicPartitionOffset}: {ex.GetType().Name}: {ex.Message}");
                }
            }
        }

        return billing;
    }

    private async Task<Dictionary<int, long>> CommittedAsync(string group, string topic, CancellationToken ct)
    {
        using var admin = CliKafkaClients.Admin(adminConfig);
        var partitions = Partitions(admin, topic);
        var result = await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, partitions.Select(p => new TopicPartition(topic, p)).ToList())],
            new ListConsumerGroupOffsetsOptions { RequestTimeout = RequestTimeout }).WaitAsync(ct).ConfigureAwait(false);
        return result.Single().Partitions.Where(p => !p.Offset.IsSpecial).ToDictionary(p => p.Partition.Value, p => p.Offset.Value);
    }

    private IEnumerable<ConsumeResult<string, byte[]>> ReadToEnd(string topic, CancellationToken ct)
    {
        List<int> partitions;
        using (var admin = CliKafkaClients.Admin(adminConfig))
        {
            partitions = Partitions(admin, topic);
        }

        using var consumer = CliKafkaClients.Consumer<string, byte[]>(new ConsumerConfig(new Dictionary<string, string>(consumerConfig))
        {
            GroupId = "streaming-reconcile-reader", // never subscribes or commits: assigned partitions only
            EnableAutoCommit = false,
            EnablePartitionEof = true,
        }).Build();
        var ends = new Dictionary<int, long>();
        var starts = new List<TopicPartitionOffset>();
        foreach (var p in partitions)
        {
            var w = consumer.QueryWatermarkOffsets(new TopicPartition(topic, p), RequestTimeout);
            if (w.High.Value > w.Low.Value)
            {
                ends[p] = w.High.Value;
                starts.Add(new TopicPartitionOffset(topic, p, w.Low));
            }
        }

        if (starts.Count == 0)
        {
            yield break;
        }

        consumer.Assign(starts);
        var idleSince = DateTime.UtcNow;
        while (ends.Count > 0)
        {
            ct.ThrowIfCancellationRequested();
            var r = consumer.Consume(TimeSpan.FromMilliseconds(200));
            if (r is { IsPartitionEOF: true })
            {
                ends.Remove(r.Partition.Value); // at the end (the last offsets may be transaction markers, never delivered)
                continue;
            }

            if (r is null)
            {
                if (DateTime.UtcNow - idleSince > RequestTimeout)
                {
                    throw new TimeoutException($"Reading {topic} stalled: partitions {string.Join(",", ends.Keys)} did not reach their end offsets within {RequestTimeout.TotalSeconds:0} s.");
                }

                continue;
            }

            idleSince = DateTime.UtcNow;
            if (ends.TryGetValue(r.Partition.Value, out var end) && r.Offset.Value < end)
            {
                yield return r;
            }

            if (end > 0 && r.Offset.Value >= end - 1)
            {
                ends.Remove(r.Partition.Value);
            }
        }
    }

    private static List<int> Partitions(IAdminClient admin, string topic)
    {
        var metadata = admin.GetMetadata(RequestTimeout).Topics.SingleOrDefault(t => t.Topic == topic);
        return metadata is null || metadata.Partitions.Count == 0
            ? throw new InvalidOperationException($"Topic '{topic}' does not exist on this cluster.")
            : metadata.Partitions.Select(p => p.PartitionId).Order().ToList();
    }
}
