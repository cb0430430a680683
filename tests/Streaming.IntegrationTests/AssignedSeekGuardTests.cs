using Confluent.Kafka;
using Streaming.Processors.Hosting;

namespace Streaming.IntegrationTests;

/// <summary>
/// <see cref="AssignedSeekGuard"/> (the GlobalKTable consumer under <c>up</c>): a seek to exactly the offset a partition
/// was just assigned at is skipped — librdkafka refuses it with Local: Erroneous state while the fetcher has not
/// started — and the assignment still starts there; any other seek, or one after a consume, reaches librdkafka.
/// </summary>
public sealed class AssignedSeekGuardTests(KafkaStackFixture stack)
{
    [Fact]
    public async Task A_seek_to_the_just_assigned_offset_is_skipped_and_other_seeks_pass_through()
    {
        var ct = TestContext.Current.CancellationToken;
        var topic = KafkaStackFixture.UniqueName("it.seek-guard");
        await stack.CreateTopicAsync(topic, 2, ct);
        using (var producer = new ProducerBuilder<byte[], byte[]>(new ProducerConfig { BootstrapServers = stack.BootstrapServers }).Build())
        {
            for (var i = 0; i < 5; i++)
            {
                producer.Produce(new TopicPartition(topic, 0), new Message<byte[], byte[]> { Value = [(byte)i] });
            }

            producer.Flush(ct);
        }

        var inner = new ConsumerBuilder<byte[], byte[]>(new ConsumerConfig
        {
            BootstrapServers = stack.BootstrapServers, GroupId = KafkaStackFixture.UniqueName("it-seek-guard"), EnableAutoCommit = false,
        }).Build();
        using var guard = new AssignedSeekGuard(inner);
        var p0 = new TopicPartition(topic, 0);
        var p1 = new TopicPartition(topic, 1);

        // What Streamiz 1.8.2's global thread does: assign at the restored offsets, then seek each to the same offset.
        guard.Assign([new TopicPartitionOffset(p0, 2), new TopicPartitionOffset(p1, Offset.Beginning)]);
        guard.Seek(new TopicPartitionOffset(p0, 2));
        guard.Seek(new TopicPartitionOffset(p1, Offset.Beginning));

        Assert.Equal(2, guard.SkippedSeeks);
        var first = ConsumeFrom(guard, p0, ct);
        Assert.Equal(2, first.Offset.Value); // the assignment alone positioned the partition
        Assert.Equal([(byte)2], first.Message.Value);

        // After a consume a seek is a real seek: it reaches librdkafka and moves the position.
        guard.Seek(new TopicPartitionOffset(p0, 0));
        Assert.Equal(2, guard.SkippedSeeks);
        Assert.Equal(0, ConsumeFrom(guard, p0, ct).Offset.Value);
        guard.Close();
    }

    private static ConsumeResult<byte[], byte[]> ConsumeFrom(IConsumer<byte[], byte[]> consumer, TopicPartition partition, CancellationToken ct)
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            ct.ThrowIfCancellationRequested();
            if (consumer.Consume(TimeSpan.FromMilliseconds(200)) is { } r && r.TopicPartition == partition)
            {
                return r;
            }
        }

        throw new TimeoutException($"nothing consumed from {partition} within 20 s");
    }
}
