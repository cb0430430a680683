using Confluent.Kafka;
using Confluent.Kafka.Admin;

namespace Streaming.Cli.Replay;

/// <summary>
/// Moves a stopped consumer group's committed offsets on one topic (the <c>replay</c> command). Plans first (watermarks,
/// committed offsets, targets, active members), then applies with <c>AlterConsumerGroupOffsets</c> only when the group has
/// no members, and reads the committed offsets back to prove the reset.
/// </summary>
/// <remarks>
/// Brokers that do not answer DescribeGroups (librdkafka's mock cluster, the embedded stack) cannot say whether the group
/// has members, and their OffsetCommit refuses an admin commit for a known group. There the reset joins the group itself,
/// refuses unless the group hands it every partition of the topic (so no other member holds one), commits the targets as
/// that member and leaves.
/// </remarks>
public sealed class ConsumerGroupRewinder(AdminClientConfig adminConfig, ConsumerConfig consumerConfig)
{
    private static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(15);

    /// <summary>How long the join fallback waits to be assigned the topic's partitions.</summary>
    public TimeSpan JoinTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>How long the join fallback waits, after a first partial assignment, for the rest before it concludes others hold them.</summary>
    public TimeSpan SettleTime { get; init; } = TimeSpan.FromSeconds(3);

    /// <summary>Builds the plan; changes nothing. Throws <see cref="ReplayInputException"/> for an unknown topic or partition or an offset out of range.</summary>
    public async Task<ReplayPlan> PlanAsync(string group, string topic, ReplayTarget target, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(group);
        ArgumentException.ThrowIfNullOrWhiteSpace(topic);
        ArgumentNullException.ThrowIfNull(target);
        using var admin = CliKafkaClients.Admin(adminConfig);
        var partitions = Partitions(admin, topic);

        if (target is ReplayTarget.Offsets offsets && offsets.ByPartition.Keys.FirstOrDefault(p => !partitions.Contains(p), -1) is var missing and >= 0)
        {
            throw new ReplayInputException($"Partition {missing} does not exist: topic '{topic}' has partitions 0..{partitions.Max()}.");
        }

        var tps = partitions.Select(p => new TopicPartition(topic, p)).ToList();
        var committed = (await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(group, tps)],
                new ListConsumerGroupOffsetsOptions { RequestTimeout = RequestTimeout }).WaitAsync(cancellationToken).ConfigureAwait(false))
            .Single().Partitions.ToDictionary(p => p.Partition.Value, p => p.Offset.IsSpecial ? (long?)null : p.Offset.Value);

        using var reader = CliKafkaClients.Consumer<Ignore, Ignore>(ReaderConfig()).Build();
        var watermarks = tps.ToDictionary(tp => tp.Partition.Value, tp => reader.QueryWatermarkOffsets(tp, RequestTimeout));

        var plans = new List<ReplayPartitionPlan>();
        switch (target)
        {
            case ReplayTarget.Earliest:
                plans.AddRange(partitions.Select(p => new ReplayPartitionPlan(p, committed.GetValueOrDefault(p), watermarks[p].Low.Value, watermarks[p].Low.Value, watermarks[p].High.Value)));
                break;
            case ReplayTarget.Offsets o:
                foreach (var (p, offset) in o.ByPartition.OrderBy(kv => kv.Key))
                {
                    var (low, high) = (watermarks[p].Low.Value, watermarks[p].High.Value);
                    if (offset < low || offset > high)
                    {
                        throw new ReplayInputException($"Offset {offset} for partition {p} of '{topic}' is outside the records the broker holds ({low}..{high}).");
                    }

                    plans.Add(new ReplayPartitionPlan(p, committed.GetValueOrDefault(p), offset, low, high));
                }

                break;
            case ReplayTarget.AtTime t:
                plans.AddRange(OffsetsForTime(reader, topic, partitions, t.At, watermarks, committed));
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(target), target, "unknown replay target");
        }

        var (members, check) = await DescribeMembersAsync(admin, group, cancellationToken).ConfigureAwait(false);
        return new ReplayPlan(group, topic, target, plans, members, check);
    }

    /// <summary>
    /// Applies <paramref name="plan"/>: refuses (<see cref="ReplayRefusedException"/>) while the group has active members,
    /// commits the targets, then reads the committed offsets back and fails if they differ.
    /// </summary>
    public async Task ApplyAsync(ReplayPlan plan, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(plan);
        if (plan.ActiveMembers > 0)
        {
            throw new ReplayRefusedException($"Group '{plan.Group}' has {plan.ActiveMembers} active member(s): stop its consumers first (an active member would "
                + "overwrite the reset with its own commits), then run replay again.");
        }

        var targets = plan.Partitions.Select(p => new TopicPartitionOffset(plan.Topic, p.Partition, p.Target)).ToList();
        using var admin = CliKafkaClients.Admin(adminConfig);
        if (plan.ActiveMembers is null)
        {
            CommitAsMember(plan, targets, cancellationToken);
        }
        else
        {
            try
            {
                await admin.AlterConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitionOffsets(plan.Group, targets)],
                    new AlterConsumerGroupOffsetsOptions { RequestTimeout = RequestTimeout }).WaitAsync(cancellationToken).ConfigureAwait(false);
            }
            catch (AlterConsumerGroupOffsetsException ex)
            {
                var errors = ex.Results.SelectMany(r => r.Partitions).Where(p => p.Error.IsError).ToList();
                if (errors.Any(e => e.Error.Code is ErrorCode.UnknownMemberId or ErrorCode.RebalanceInProgress or ErrorCode.IllegalGeneration))
                {
                    throw new ReplayRefusedException($"Group '{plan.Group}' gained members while the reset was prepared ({errors[0].Error.Reason}): stop its consumers, then run replay again.");
                }

                throw new InvalidOperationException($"Resetting group '{plan.Group}' failed: "
                    + string.Join("; ", errors.Select(e => $"partition {e.Partition.Value}: {e.Error.Code} {e.Error.Reason}")), ex);
            }
        }

        var after = (await admin.ListConsumerGroupOffsetsAsync([new ConsumerGroupTopicPartitions(plan.Group, targets.Select(t => t.TopicPartition).ToList())],
                new ListConsumerGroupOffsetsOptions { RequestTimeout = RequestTimeout }).WaitAsync(cancellationToken).ConfigureAwait(false))
            .Single().Partitions.ToDictionary(p => p.Partition.Value, p => p.Offset.Value);
        var wrong = targets.Where(t => after.GetValueOrDefault(t.Partition.Value, Offset.Unset.Value) != t.Offset.Value).ToList();
        if (wrong.Count > 0)
        {
            throw new InvalidOperationException($"Group '{plan.Group}' does not show the new offsets after the reset: "
                + string.Join(", ", wrong.Select(w => $"partition {w.Partition.Value} is at {after.GetValueOrDefault(w.Partition.Value)}, expected {w.Offset.Value}")));
        }
    }

    private static List<int> Partitions(IAdminClient admin, string topic)
    {
        // All-topics metadata: asking for one topic by name lets a broker (or client) with auto-creation create it.
        var metadata = admin.GetMetadata(RequestTimeout).Topics.SingleOrDefault(t => t.Topic == topic);
        if (metadata is null || metadata.Error.Code == ErrorCode.UnknownTopicOrPart || metadata.Partitions.Count == 0)
        {
            throw new ReplayInputException($"Topic '{topic}' does not exist on this cluster.");
        }

        if (metadata.Error.IsError)
        {
            throw new KafkaException(metadata.Error);
        }

        return metadata.Partitions.Select(p => p.PartitionId).Order().ToList();
    }

    private static async Task<(int? Members, string Check)> DescribeMembersAsync(IAdminClient admin, string group, CancellationToken ct)
    {
        try
        {
            var description = (await admin.DescribeConsumerGroupsAsync([group], new DescribeConsumerGroupsOptions { RequestTimeout = RequestTimeout })
                .WaitAsync(ct).ConfigureAwait(false)).ConsumerGroupDescriptions.Single();
            return (description.Members.Count, $"{description.Members.Count} active (state {description.State})");
        }
        catch (DescribeConsumerGroupsException ex) when (ex.Results.ConsumerGroupDescriptions.Any(d => d.Error.Code == ErrorCode.Local_UnsupportedFeature)
                                                         || ex.Error.Code == ErrorCode.Local_UnsupportedFeature)
        {
            return (null, "unknown: the broker does not answer DescribeGroups (the embedded mock cluster); the reset joins the group and refuses unless it is given every partition");
        }
    }

    private IEnumerable<ReplayPartitionPlan> OffsetsForTime(IConsumer<Ignore, Ignore> reader, string topic, List<int> partitions, DateTimeOffset at,
        Dictionary<int, WatermarkOffsets> watermarks, Dictionary<int, long?> committed)
    {
        var timestamp = new Timestamp(at);
        var answers = reader.OffsetsForTimes(partitions.Select(p => new TopicPartitionTimestamp(new TopicPartition(topic, p), timestamp)).ToList(), RequestTimeout)
            .ToDictionary(r => r.Partition.Value, r => r.Offset);
        foreach (var p in partitions)
        {
            var (low, high) = (watermarks[p].Low.Value, watermarks[p].High.Value);
            var answer = answers[p];
            var target = answer == Offset.End || answer.Value < 0 ? high : answer.Value;
            string? note = null;
            if (!Consistent(reader, new TopicPartition(topic, p), target, low, high, at))
            {
                // The broker's answer contradicts the records' own timestamps (the mock cluster ignores timestamps in ListOffsets):
                // find the first record at or after the time by reading the partition.
                target = Scan(reader, new TopicPartition(topic, p), low, high, at);
                note = "found by reading the partition (broker's OffsetsForTimes answer was inconsistent)";
            }

            yield return new ReplayPartitionPlan(p, committed.GetValueOrDefault(p), target, low, high, note);
        }
    }

    /// <summary>True when the record before <paramref name="offset"/> is earlier than <paramref name="at"/> and the one at it is not.</summary>
    private static bool Consistent(IConsumer<Ignore, Ignore> reader, TopicPartition tp, long offset, long low, long high, DateTimeOffset at)
    {
        if (offset > low && TimestampAt(reader, tp, offset - 1) >= at)
        {
            return false;
        }

        return offset >= high || TimestampAt(reader, tp, offset) >= at;
    }

    private static DateTimeOffset TimestampAt(IConsumer<Ignore, Ignore> reader, TopicPartition tp, long offset)
    {
        reader.Assign(new TopicPartitionOffset(tp, offset));
        var deadline = DateTime.UtcNow + RequestTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var r = reader.Consume(TimeSpan.FromMilliseconds(200));
            if (r is { IsPartitionEOF: false })
            {
                return new DateTimeOffset(r.Message.Timestamp.UtcDateTime, TimeSpan.Zero);
            }
        }

        throw new TimeoutException($"Could not read the record at {tp} offset {offset} within {RequestTimeout.TotalSeconds:0} s.");
    }

    private static long Scan(IConsumer<Ignore, Ignore> reader, TopicPartition tp, long low, long high, DateTimeOffset at)
    {
        if (low >= high)
        {
            return high;
        }

        reader.Assign(new TopicPartitionOffset(tp, low));
        var deadline = DateTime.UtcNow + RequestTimeout;
        while (DateTime.UtcNow < deadline)
        {
            var r = reader.Consume(TimeSpan.FromMilliseconds(200));
            if (r is null)
            {
                continue;
            }

            if (r.IsPartitionEOF || r.Offset.Value >= high)
            {
                return high;
            }

            if (new DateTimeOffset(r.Message.Timestamp.UtcDateTime, TimeSpan.Zero) >= at)
            {
                return r.Offset.Value;
            }

            deadline = DateTime.UtcNow + RequestTimeout; // progress: keep reading
        }

        throw new TimeoutException($"Reading {tp} for timestamps stalled for {RequestTimeout.TotalSeconds:0} s.");
    }

    private void CommitAsMember(ReplayPlan plan, List<TopicPartitionOffset> targets, CancellationToken ct)
    {
        var expected = plan.Partitions.Count == 0 ? [] : PartitionsOf(plan.Topic);
        var assigned = new List<TopicPartition>();
        DateTime? firstAssignment = null;
        var config = new ConsumerConfig(new Dictionary<string, string>(consumerConfig))
        {
            GroupId = plan.Group,
            EnableAutoCommit = false,
            EnableAutoOffsetStore = false,
            EnablePartitionEof = false,
            // The mock coordinator holds the next join for (last joiner's session timeout - 1 s) after a member leaves:
            // a short session lets the group's own consumers rejoin soon after this member is gone.
            SessionTimeoutMs = 6000,
        };
        using var member = CliKafkaClients.Consumer<Ignore, Ignore>(config)
            .SetPartitionsAssignedHandler((_, parts) =>
            {
                lock (assigned)
                {
                    assigned.AddRange(parts);
                    firstAssignment ??= DateTime.UtcNow;
                }
            })
            .SetPartitionsRevokedHandler((_, parts) => { lock (assigned) { assigned.RemoveAll(a => parts.Any(r => r.TopicPartition == a)); } })
            .SetPartitionsLostHandler((_, parts) => { lock (assigned) { assigned.Clear(); } })
            .Build();
        try
        {
            member.Subscribe(plan.Topic);
            var deadline = DateTime.UtcNow + JoinTimeout;
            while (DateTime.UtcNow < deadline)
            {
                ct.ThrowIfCancellationRequested();
                member.Consume(TimeSpan.FromMilliseconds(100));
                lock (assigned)
                {
                    // Every partition: nobody else holds one. A partial assignment that has not grown for a while: others do.
                    if (expected.All(e => assigned.Contains(e)) || DateTime.UtcNow - firstAssignment > SettleTime)
                    {
                        break;
                    }
                }
            }

            List<TopicPartition> held;
            lock (assigned)
            {
                held = [.. assigned];
            }

            if (!expected.All(held.Contains))
            {
                throw new ReplayRefusedException($"Group '{plan.Group}' has other active members: joining it gave this process {held.Count} of the "
                    + $"{expected.Count} partitions of '{plan.Topic}'. Stop its consumers, then run replay again.");
            }

            member.Commit(targets);
        }
        catch (KafkaException ex) when (ex.Error.Code is ErrorCode.InconsistentGroupProtocol)
        {
            throw new ReplayRefusedException($"Group '{plan.Group}' has active members using another assignment protocol ({ex.Error.Reason}): stop them, then run replay again.");
        }
        finally
        {
            member.Close();
        }
    }

    private List<TopicPartition> PartitionsOf(string topic)
    {
        using var admin = CliKafkaClients.Admin(adminConfig);
        return Partitions(admin, topic).Select(p => new TopicPartition(topic, p)).ToList();
    }

    private ConsumerConfig ReaderConfig() => new(new Dictionary<string, string>(consumerConfig))
    {
        // Reads watermarks and timestamps only: never joins or commits for any group.
        GroupId = "streaming-replay-reader",
        EnableAutoCommit = false,
        EnablePartitionEof = true,
    };
}
