using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Savate.TestSupport;

/// <summary>One captured log entry, with its structured values (<c>Values["Delay"]</c>).</summary>
public sealed record LogEntry(LogLevel Level, int EventId, string Message, IReadOnlyDictionary<string, object?> Values);

/// <summary>
/// Collects log entries (Debug and up) so tests can assert what was logged and how often. Usable as a logger
/// factory (libraries) or as a provider added to a host (the real server); <see cref="Attach"/> makes a capture
/// created before the host read the one the host uses.
/// </summary>
public sealed class LogCapture : ILoggerFactory, ILoggerProvider
{
    private readonly ConcurrentQueue<LogEntry> _entries = new();
    private LogCapture? _inner;

    public IReadOnlyList<LogEntry> Entries => (_inner ?? this)._entries.ToArray();

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    public IReadOnlyList<LogEntry> Of(int eventId) => Entries.Where(e => e.EventId == eventId).ToList();

    /// <summary>From now on, this capture shows the entries of <paramref name="inner"/>.</summary>
    public void Attach(LogCapture inner) => _inner = inner;

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void AddProvider(ILoggerProvider provider)
    {
    }

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Debug;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            // A logger must never throw into the code that logs: repeated keys keep the last value.
            var values = new Dictionary<string, object?>();
            if (state is IEnumerable<KeyValuePair<string, object?>> pairs)
            {
                foreach (var (key, value) in pairs)
                {
                    values[key] = value;
                }
            }
            // The exception's type and message are kept with the line, so tests can tell a one-line log from a stack dump.
            var message = exception is null ? formatter(state, exception) : $"{formatter(state, exception)} {exception.GetType().Name}: {exception.Message}";
            owner._entries.Enqueue(new LogEntry(logLevel, eventId.Id, message, values));
        }
    }
}
