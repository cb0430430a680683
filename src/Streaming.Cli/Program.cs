using System.CommandLine;
using System.Runtime.InteropServices;
using Streaming.Cli.Commands;
using Streaming.Platform.Embedded;

var root = new RootCommand("streaming — CRM, billing and ERP kept in step over Kafka.")
{
    UpCommand.Create(),
    SinkCommand.Create(),
    ConnectorsCommand.Create(),
    TopicsCommand.Create(ct => Task.FromResult<IMockTopicCreator>(EmbeddedKafkaCluster.Start())),
    SchemasCommand.Create(),
    RegistryCommand.Create(),
    ReplayCommand.Create(),
    ReconcileCommand.Create(),
    MasterDataCommand.Create(),
    QuarantineCommand.Create(),
};

// Ctrl-C / SIGTERM (Kubernetes) cancel the running command, which then stops cleanly: sink committed and
// closed, topology closed, embedded stack disposed. A second Ctrl-C is left to the default handler.
using var shutdown = new CancellationTokenSource();
void OnSignal(PosixSignalContext context)
{
    if (!shutdown.IsCancellationRequested)
    {
        context.Cancel = true;
        shutdown.Cancel();
    }
}

using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, OnSignal);
using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, OnSignal);
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = null }, shutdown.Token);
