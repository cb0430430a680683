namespace Streaming.Cli.Tests;
