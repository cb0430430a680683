namespace Streaming.SchemaRegistry.Tests;
