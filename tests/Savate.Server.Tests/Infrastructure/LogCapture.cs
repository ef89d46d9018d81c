using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>Collects log lines so tests can assert what was logged (and how often).</summary>
public sealed class LogCapture : ILoggerProvider
{
    private LogCapture? _inner;
    private readonly ConcurrentQueue<(LogLevel Level, int EventId, string Message)> _entries = new();

    public IReadOnlyList<(LogLevel Level, int EventId, string Message)> Entries => (_inner ?? this)._entries.ToArray();

    internal void Attach(LogCapture inner) => _inner = inner;

    public int Count(int eventId) => Entries.Count(e => e.EventId == eventId);

    public ILogger CreateLogger(string categoryName) => new Logger(this);

    public void Dispose()
    {
    }

    private sealed class Logger(LogCapture owner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            owner._entries.Enqueue((logLevel, eventId.Id, exception is null
                ? formatter(state, exception)
                : $"{formatter(state, exception)} {exception.GetType().Name}: {exception.Message}"));
    }
}
