namespace Streaming.Contracts; internal static class Placeholder {}
