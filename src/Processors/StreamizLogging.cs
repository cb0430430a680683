using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Streaming.Processors;

/// <summary>
/// The logger factory handed to Streamiz. Streamiz keeps the loggers it creates in static fields, so a factory
/// disposed at the end of one run would be used again (and throw) by the next run in the same process — tests
/// and any host that restarts a topology. This factory is never disposed; its loggers forward to whichever
/// factory is attached now, and drop messages while none is (e.g. while the embedded brokers shut down).
/// </summary>
public sealed class StreamizLogging : ILoggerFactory
{
    private static ILoggerFactory? _current;

    /// <summary>The process-wide instance to put into <c>StreamConfig.Logger</c>.</summary>
    public static StreamizLogging Factory { get; } = new();

    private readonly ConcurrentDictionary<string, ForwardingLogger> _loggers = new(StringComparer.Ordinal);

    private StreamizLogging()
    {
    }

    /// <summary>Routes Streamiz logging to <paramref name="factory"/> until the returned handle is disposed.</summary>
    public static IDisposable Attach(ILoggerFactory factory)
    {
        Volatile.Write(ref _current, factory);
        return new Detach(factory);
    }

    /// <inheritdoc />
    public ILogger CreateLogger(string categoryName) => _loggers.GetOrAdd(categoryName, c => new ForwardingLogger(c));

    /// <inheritdoc />
    public void AddProvider(ILoggerProvider provider) => throw new NotSupportedException("Attach a configured ILoggerFactory instead.");

    /// <inheritdoc />
    public void Dispose()
    {
        // Process-wide and shared: never disposed.
    }

    private sealed class Detach(ILoggerFactory factory) : IDisposable
    {
        public void Dispose() => Interlocked.CompareExchange(ref _current, null, factory);
    }

    private sealed class ForwardingLogger(string category) : ILogger
    {
        private ILoggerFactory? _factory;
        private ILogger _inner = NullLogger.Instance;

        private ILogger Inner
        {
            get
            {
                var current = Volatile.Read(ref _current);
                if (current is null)
                {
                    return NullLogger.Instance;
                }

                if (!ReferenceEquals(current, _factory))
                {
                    _inner = current.CreateLogger(category);
                    _factory = current;
                }

                return _inner;
            }
        }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => Inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => Inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            try
            {
                Inner.Log(logLevel, eventId, state, exception, formatter);
            }
            catch (ObjectDisposedException)
            {
                // The attached factory was disposed between the check and the call: the run is over.
            }
        }
    }
}
