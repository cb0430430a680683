using System.CommandLine;
using Streaming.Cli.Commands;
using Streaming.Platform.Embedded;

var root = new RootCommand("streaming — CRM, billing and ERP kept in step over Kafka.")
{
    UpCommand.Create(),
    TopicsCommand.Create(ct => Task.FromResult<IMockTopicCreator>(EmbeddedKafkaCluster.Start())),
};
return await root.Parse(args).InvokeAsync();
