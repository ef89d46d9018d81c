using Microsoft.Extensions.Logging;

namespace Savate.Relay;

/// <summary>
/// Relay log messages. Each state change is logged once at Information or Warning;
/// per-attempt detail (every retry) is Debug, so a dead upstream does not flood the log.
/// </summary>
internal static partial class RelayLog
{
    [LoggerMessage(1, LogLevel.Information, "Relay {Mount}: idle, waiting for listeners")]
    public static partial void Idle(ILogger logger, string mount);

    [LoggerMessage(2, LogLevel.Information, "Relay {Mount}: connecting to {Upstream}")]
    public static partial void Connecting(ILogger logger, string mount, string upstream);

    [LoggerMessage(3, LogLevel.Information, "Relay {Mount}: streaming from {Upstream} ({ContentType})")]
    public static partial void Streaming(ILogger logger, string mount, string upstream, string? contentType);

    [LoggerMessage(4, LogLevel.Warning, "Relay {Mount}: upstream {Upstream} ended ({Reason}); reconnecting")]
    public static partial void UpstreamLost(ILogger logger, string mount, string upstream, string reason);

    [LoggerMessage(5, LogLevel.Warning, "Relay {Mount}: no upstream available ({Error}); retrying with backoff")]
    public static partial void BackingOff(ILogger logger, string mount, string error);

    [LoggerMessage(6, LogLevel.Debug, "Relay {Mount}: attempt {Attempt} failed ({Error}); next try in {Delay}")]
    public static partial void RetryScheduled(ILogger logger, string mount, int attempt, string error, TimeSpan delay);

    [LoggerMessage(7, LogLevel.Information, "Relay {Mount}: no listeners for {IdleTimeout}; disconnecting")]
    public static partial void IdleDisconnect(ILogger logger, string mount, TimeSpan idleTimeout);

    [LoggerMessage(8, LogLevel.Warning, "Relay {Mount}: upstream {Upstream} failed {Failures} times; skipping it for {BreakDuration}")]
    public static partial void CircuitOpened(ILogger logger, string mount, string upstream, int failures, TimeSpan breakDuration);

    [LoggerMessage(9, LogLevel.Information, "Relay {Mount}: upstream {Upstream} is back in rotation")]
    public static partial void CircuitClosed(ILogger logger, string mount, string upstream);

    [LoggerMessage(10, LogLevel.Debug, "Relay {Mount}: {Upstream} failed: {Error}")]
    public static partial void AttemptFailed(ILogger logger, string mount, string upstream, string error);

    [LoggerMessage(11, LogLevel.Error, "Relay {Mount}: host call failed")]
    public static partial void HostFailed(ILogger logger, string mount, Exception exception);

    [LoggerMessage(12, LogLevel.Information, "Relay {Mount}: stopped")]
    public static partial void Stopped(ILogger logger, string mount);

    [LoggerMessage(16, LogLevel.Information, "Relay {Mount}: upstream {Upstream} is no longer configured; reconnecting through the new list")]
    public static partial void Repointed(ILogger logger, string mount, string upstream);

    [LoggerMessage(13, LogLevel.Warning, "Relay {Mount}: still no upstream available ({Error}): failed {Count} more times in the last {Interval}; retrying with backoff")]
    public static partial void StillFailing(ILogger logger, string mount, string error, long count, TimeSpan interval);

    [LoggerMessage(14, LogLevel.Warning, "Relay {Mount}: upstream {Upstream} still failing: its circuit opened {Count} more times in the last {Interval}, each time skipping it for {BreakDuration}")]
    public static partial void CircuitStillOpening(ILogger logger, string mount, string upstream, long count, TimeSpan interval, TimeSpan breakDuration);

    [LoggerMessage(15, LogLevel.Debug, "Relay {Mount}: every upstream's circuit is open; next try in {Delay}")]
    public static partial void AllCircuitsOpen(ILogger logger, string mount, TimeSpan delay);

    [LoggerMessage(20, LogLevel.Information, "Master {Master}: discovered mount {Mount}")]
    public static partial void MountDiscovered(ILogger logger, string master, string mount);

    [LoggerMessage(21, LogLevel.Information, "Master {Master}: mount {Mount} retired")]
    public static partial void MountRetired(ILogger logger, string master, string mount);

    [LoggerMessage(22, LogLevel.Warning, "Master {Master}: stream list unavailable ({Error}); keeping current mounts, polling every {Interval}")]
    public static partial void DiscoveryFailed(ILogger logger, string master, string error, TimeSpan interval);

    [LoggerMessage(23, LogLevel.Information, "Master {Master}: stream list available again ({Count} mounts)")]
    public static partial void DiscoveryRecovered(ILogger logger, string master, int count);

    [LoggerMessage(24, LogLevel.Debug, "Master {Master}: ignored stream list line {Line}")]
    public static partial void DiscoveryBadLine(ILogger logger, string master, string line);
}
