namespace Streaming.Sinks.Tests;
