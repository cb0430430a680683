namespace Streaming.Producers.Tests;
