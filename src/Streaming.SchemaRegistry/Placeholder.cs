namespace Streaming.SchemaRegistry; internal static class Placeholder {}
