using Streaming.Bench.Micro;
using Streaming.Bench.Processors;
using Streaming.Bench.Raw;
using Streaming.Bench.Registry;
using Streaming.Bench.Usage;
using Streaming.Bench.Sink;
using Streaming.Bench.Webhooks;

// Streaming.Bench: load harness (one subcommand per scenario) and BenchmarkDotNet micro-benchmarks. See BENCHMARKS.md.
const string usage = $"""
    usage: dotnet run -c Release --project bench/Streaming.Bench -- <command> [options]

    {RawOptions.Usage}

    {RegistryBenchOptions.Usage}

    {UsageOptions.Usage}

    {SinkBenchOptions.Usage}

    {WebhooksOptions.Usage}

    {ProcessorsOptions.Usage}

    {EosJoinOptions.Usage}

    {GlobalStartOptions.Usage}

    micro [BenchmarkDotNet args]      e.g. micro --filter '*' --job short
    """;

if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
{
    Console.WriteLine(usage);
    return args.Length == 0 ? 2 : 0;
}

using var cancel = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) => { e.Cancel = true; cancel.Cancel(); };

try
{
    return args[0] switch
    {
        "raw" => await RawCommand.RunAsync(RawOptions.Parse(args[1..]), cancel.Token),
        "usage" => await UsageCommand.RunAsync(UsageOptions.Parse(args[1..]), cancel.Token),
        "micro" => MicroCommand.Run(args[1..]),
        "registry" => await RegistryBenchmark.RunAsync(RegistryBenchOptions.Parse(args[1..]), cancel.Token),
        "sink" => await SinkBenchmark.RunAsync(SinkBenchOptions.Parse(args[1..]), cancel.Token),
        "webhooks" => await WebhooksCommand.RunAsync(WebhooksOptions.Parse(args[1..]), cancel.Token),
        "processors" => await ProcessorsCommand.RunAsync(ProcessorsOptions.Parse(args[1..]), cancel.Token),
        "eos-join" => await EosJoinCommand.RunAsync(EosJoinOptions.Parse(args[1..]), cancel.Token),
        "global-start" => await GlobalStartCommand.RunAsync(GlobalStartOptions.Parse(args[1..]), cancel.Token),
        _ => throw new ArgumentException($"Unknown command '{args[0]}'."),
    };
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"error: {ex.Message}");
    Console.Error.WriteLine(usage);
    return 2;
}
catch (OperationCanceledException)
{
    Console.Error.WriteLine("cancelled");
    return 130;
}
catch (Exception ex) when (ex is InvalidOperationException or TimeoutException or Confluent.Kafka.KafkaException)
{
    // Loud failure: a benchmark that lost or duplicated records, or stalled, has no valid figure.
    Console.Error.WriteLine($"BENCHMARK FAILED: {ex.GetType().Name}: {ex.Message}");
    return 1;
}
