namespace Streaming.Processors.Tests;
