using System.Diagnostics;

namespace Streaming.IntegrationTests;

/// <summary>
/// How <see cref="KafkaStackFixture"/> picks its broker: the environment variable first, then a Docker engine, then the
/// embedded stack, always with a reason. Does not start Testcontainers or connect to a real cluster.
/// </summary>
public sealed class FixtureSelectionTests(KafkaStackFixture stack, ITestOutputHelper output)
{
    private static DockerProbeResult NoDocker() => new(false, "/var/run/docker.sock", "socket file does not exist");

    private static DockerProbeResult DockerAnswers() => new(true, "/var/run/docker.sock", "HTTP/1.1 200 OK");

    [Fact]
    public void Fixture_reports_the_kind_it_chose_and_why()
    {
        output.WriteLine($"Kind={stack.Kind}; Reason={stack.Reason}");
        Assert.Equal(KafkaStackFixture.ChooseFromEnvironment().Kind, stack.Kind);
        Assert.False(string.IsNullOrWhiteSpace(stack.Reason));
        Assert.Contains(stack.SchemaRegistryUrl, stack.Reason, StringComparison.Ordinal);
        Assert.False(string.IsNullOrWhiteSpace(stack.BootstrapServers));
        Assert.Equal(stack.Kind == KafkaStackKind.Embedded, stack.IsEmbedded);
        Assert.Equal(stack.IsEmbedded, stack.Embedded is not null);
    }

    [Fact]
    public void Without_bootstrap_servers_or_docker_the_fixture_runs_the_embedded_stack()
    {
        var bootstrap = Environment.GetEnvironmentVariable("KAFKA_BOOTSTRAP_SERVERS");
        var docker = DockerEngineProbe.Probe(Environment.GetEnvironmentVariable("DOCKER_HOST"), KafkaStackFixture.DockerProbeTimeout);
        output.WriteLine($"KAFKA_BOOTSTRAP_SERVERS={bootstrap ?? "(unset)"}; {docker}; fixture: {stack.Kind}");

        var expected = !string.IsNullOrWhiteSpace(bootstrap) ? KafkaStackKind.Real
            : docker.Reachable ? KafkaStackKind.Testcontainers
            : KafkaStackKind.Embedded;
        Assert.Equal(expected, stack.Kind);
        if (expected == KafkaStackKind.Embedded)
        {
            Assert.Contains("embedded librdkafka mock cluster", stack.Reason, StringComparison.Ordinal);
            Assert.Contains("no KAFKA_BOOTSTRAP_SERVERS", stack.Reason, StringComparison.Ordinal);
            Assert.Contains("Docker engine not reachable", stack.Reason, StringComparison.Ordinal);
            Assert.Equal(3, stack.Embedded!.BrokerCount);
            Assert.True(stack.IsRegistryEmbedded);
        }
    }

    [Fact]
    public void Bootstrap_servers_win_and_docker_is_not_even_probed()
    {
        var probed = false;
        var choice = KafkaStackFixture.Choose("kafka-1:9092,kafka-2:9092", () => { probed = true; return DockerAnswers(); });
        Assert.Equal(KafkaStackKind.Real, choice.Kind);
        Assert.Contains("kafka-1:9092,kafka-2:9092", choice.Reason, StringComparison.Ordinal);
        Assert.False(probed);
    }

    [Fact]
    public void A_docker_engine_that_answers_selects_testcontainers_with_the_pinned_image()
    {
        var choice = KafkaStackFixture.Choose(null, DockerAnswers);
        Assert.Equal(KafkaStackKind.Testcontainers, choice.Kind);
        Assert.Contains(KafkaStackFixture.KafkaImage, choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void No_docker_selects_the_embedded_stack_naming_the_probe_failure()
    {
        var choice = KafkaStackFixture.Choose("  ", NoDocker);
        Assert.Equal(KafkaStackKind.Embedded, choice.Kind);
        Assert.Contains("socket file does not exist", choice.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Probing_a_socket_nobody_listens_on_fails_fast_with_a_reason()
    {
        var missing = Path.Combine(Path.GetTempPath(), $"no-docker-{Guid.NewGuid():N}.sock");
        var clock = Stopwatch.StartNew();
        var result = DockerEngineProbe.Probe("unix://" + missing, TimeSpan.FromSeconds(2));
        Assert.False(result.Reachable);
        Assert.Equal(missing, result.Endpoint);
        Assert.Contains("does not exist", result.Detail, StringComparison.Ordinal);
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(3), $"probe took {clock.Elapsed}");
    }

    [Fact]
    public void Probing_an_unsupported_docker_host_scheme_says_so()
    {
        var result = DockerEngineProbe.Probe("npipe:////./pipe/docker_engine", TimeSpan.FromSeconds(2));
        Assert.False(result.Reachable);
        Assert.Contains("scheme", result.Detail, StringComparison.Ordinal);
    }

    [Fact]
    public void Unique_names_differ_and_are_legal_topic_names()
    {
        var a = KafkaStackFixture.UniqueName("it.orders");
        var b = KafkaStackFixture.UniqueName("it.orders");
        Assert.NotEqual(a, b);
        Assert.StartsWith("it.orders.", a, StringComparison.Ordinal);
        Assert.True(Streaming.Platform.Topics.TopicManifest.IsLegalTopicName(a));
    }
}
