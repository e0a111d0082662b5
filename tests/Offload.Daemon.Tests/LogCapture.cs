using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Offload.Daemon.Tests;

/// <summary>Keeps every log entry with its structured properties, so tests can check what the daemon reports.</summary>
internal sealed class LogCapture : ILoggerFactory
{
    public ConcurrentQueue<Entry> Entries { get; } = new();

    public IEnumerable<Entry> Of<T>(LogLevel level) => Entries.Where(e => e.Category == typeof(T).FullName && e.Level == level);

    public ILogger CreateLogger(string categoryName) => new Logger(this, categoryName);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    internal sealed record Entry(string Category, LogLevel Level, string Message, IReadOnlyDictionary<string, object?> Properties);

    private sealed class Logger(LogCapture owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            var props = state is IReadOnlyList<KeyValuePair<string, object?>> list
                ? list.ToDictionary(p => p.Key, p => p.Value, StringComparer.Ordinal)
                : new Dictionary<string, object?>(StringComparer.Ordinal);
            owner.Entries.Enqueue(new Entry(category, logLevel, formatter(state, exception), props));
        }
    }
}
