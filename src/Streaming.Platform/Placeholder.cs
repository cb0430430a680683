namespace Streaming.Platform; internal static class Placeholder {}
