namespace Streaming.Sinks; internal static class Placeholder {}
