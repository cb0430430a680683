namespace Streaming.Processors; internal static class Placeholder {}
