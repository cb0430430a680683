namespace Streaming.Producers; internal static class Placeholder {}
