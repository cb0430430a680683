using System.CommandLine;
using Confluent.Kafka;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Options;
using Streaming.Cli.Replay;
using Streaming.Platform.Configuration;

namespace Streaming.Cli.Commands;

/// <summary><c>streaming replay</c>: resets a stopped consumer group's offsets on one topic so it reads records again.</summary>
public static class ReplayCommand
{
    /// <summary>The reset was applied, or the dry run printed its plan.</summary>
    public const int ExitOk = 0;

    /// <summary>Refused (the group has active members) or the cluster failed the request.</summary>
    public const int ExitRefusedOrFailed = 1;

    /// <summary>Bad input: options, topic, partition, offset, or no cluster configured.</summary>
    public const int ExitBadInput = 2;

    /// <summary>Ctrl-C / SIGTERM (128 + SIGINT).</summary>
    public const int ExitInterrupted = 130;

    /// <summary>Builds the command.</summary>
    public static Command Create()
    {
        var group = new Option<string?>("--group") { Description = "Consumer group whose committed offsets move (e.g. streaming-sink-erp-posting)." };
        var topic = new Option<string?>("--topic") { Description = "Topic whose partitions move (e.g. finance.events.v1)." };
        var toEarliest = new Option<bool>("--to-earliest") { Description = "Every partition to the oldest record the broker holds." };
        var toOffset = new Option<string?>("--to-offset") { Description = "Listed partitions to the given offsets: p:o,p:o,… (others are left as they are)." };
        var toDateTime = new Option<string?>("--to-datetime") { Description = "Every partition to the first record at or after this ISO 8601 time (UTC when no offset is given)." };
        var dryRun = new Option<bool>("--dry-run") { Description = "Print, per partition, the current and target offsets and the records that would be re-read; change nothing." };
        var command = new Command("replay", "Reset a stopped consumer group's offsets on a topic (refused while the group has active members).")
        {
            group, topic, toEarliest, toOffset, toDateTime, dryRun,
        };
        command.SetAction((parse, ct) => RunAsync(parse.GetValue(group), parse.GetValue(topic), parse.GetValue(toEarliest), parse.GetValue(toOffset),
            parse.GetValue(toDateTime), parse.GetValue(dryRun), parse.InvocationConfiguration.Output, parse.InvocationConfiguration.Error, ct));
        return command;
    }

    /// <summary>The action: 0 applied (or planned with --dry-run), 1 refused or failed, 2 bad input or no cluster.</summary>
    public static async Task<int> RunAsync(string? group, string? topic, bool toEarliest, string? toOffset, string? toDateTime, bool dryRun,
        TextWriter output, TextWriter error, CancellationToken ct, IConfiguration? configurationOverride = null)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(error);
        ReplayTarget target;
        try
        {
            target = ParseTarget(group, topic, toEarliest, toOffset, toDateTime);
        }
        catch (ReplayInputException ex)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitBadInput;
        }

        KafkaOptions kafka;
        try
        {
            kafka = (configurationOverride ?? UpCommand.LoadConfiguration()).BindValidated(KafkaOptions.Section, new KafkaOptionsValidator());
        }
        catch (OptionsValidationException ex)
        {
            foreach (var failure in ex.Failures)
            {
                await error.WriteLineAsync($"Configuration error: {failure}").ConfigureAwait(false);
            }

            return ExitBadInput;
        }

        if (kafka.UseEmbedded)
        {
            // `up` would start an embedded broker here, but a fresh one is empty: it has no group and no offsets to reset.
            await error.WriteLineAsync("replay needs a Kafka cluster, and none is configured: Kafka:BootstrapServers (or KAFKA_BOOTSTRAP_SERVERS) is empty. "
                + "The embedded cluster lives only inside a running `streaming up` and is gone when it stops, so there are no committed offsets to reset. "
                + "Set KAFKA_BOOTSTRAP_SERVERS to the cluster the group consumes from.").ConfigureAwait(false);
            return ExitBadInput;
        }

        var rewinder = new ConsumerGroupRewinder(
            new AdminClientConfig(kafka.With(kafka.Admin)) { BootstrapServers = kafka.BootstrapServers },
            new ConsumerConfig(kafka.With(kafka.Consumer)) { BootstrapServers = kafka.BootstrapServers });
        try
        {
            var plan = await rewinder.PlanAsync(group!, topic!, target, ct).ConfigureAwait(false);
            await output.WriteAsync(plan.Render()).ConfigureAwait(false);
            if (dryRun)
            {
                await output.WriteLineAsync(plan.ActiveMembers > 0
                    ? "Dry run: nothing changed. The group has active members, so a real run would be refused until they stop."
                    : "Dry run: nothing changed.").ConfigureAwait(false);
                return ExitOk;
            }

            await rewinder.ApplyAsync(plan, ct).ConfigureAwait(false);
            await output.WriteLineAsync($"Reset applied: group {plan.Group} on {plan.Topic} now starts at the target offsets ({plan.TotalReread} records will be read again).").ConfigureAwait(false);
            return ExitOk;
        }
        catch (ReplayInputException ex)
        {
            await error.WriteLineAsync(ex.Message).ConfigureAwait(false);
            return ExitBadInput;
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            await error.WriteLineAsync("Interrupted. The reset is one request, so it either happened or not: run again with --dry-run to see the group's offsets now.").ConfigureAwait(false);
            return ExitInterrupted;
        }
        catch (ReplayRefusedException ex)
        {
            await error.WriteLineAsync($"Refused: {ex.Message}").ConfigureAwait(false);
            return ExitRefusedOrFailed;
        }
        catch (Exception ex) when (ex is KafkaException or InvalidOperationException or TimeoutException)
        {
            await error.WriteLineAsync($"replay failed on {kafka.BootstrapServers}: {ex.Message}").ConfigureAwait(false);
            return ExitRefusedOrFailed;
        }
    }

    /// <summary>Checks the options: group and topic given, exactly one of the three modes, well-formed values.</summary>
    public static ReplayTarget ParseTarget(string? group, string? topic, bool toEarliest, string? toOffset, string? toDateTime)
    {
        if (string.IsNullOrWhiteSpace(group))
        {
            throw new ReplayInputException("--group is required: the consumer group whose offsets move.");
        }

        if (string.IsNullOrWhiteSpace(topic))
        {
            throw new ReplayInputException("--topic is required: the topic whose partitions move.");
        }

        var modes = new[] { toEarliest ? "--to-earliest" : null, toOffset is null ? null : "--to-offset", toDateTime is null ? null : "--to-datetime" }
            .OfType<string>().ToList();
        return modes.Count switch
        {
            0 => throw new ReplayInputException("Choose where to move the offsets: one of --to-earliest, --to-offset p:o,… or --to-datetime <iso>."),
            > 1 => throw new ReplayInputException($"Choose one mode, not {string.Join(" and ", modes)}."),
            _ when toEarliest => new ReplayTarget.Earliest(),
            _ when toOffset is not null => ReplayTarget.ParseOffsets(toOffset),
            _ => ReplayTarget.ParseDateTime(toDateTime!),
        };
    }
}
