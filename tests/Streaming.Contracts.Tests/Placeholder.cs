namespace Streaming.Contracts.Tests;
