using Microsoft.Extensions.Logging;

namespace Savate.Server.Streaming;

/// <summary>Log messages of the streaming core, with stable event ids.</summary>
internal static partial class StreamingLog
{
    [LoggerMessage(100, LogLevel.Information, "Source connected on {Mount} from {Remote} ({Format})")]
    public static partial void SourceConnected(ILogger logger, string mount, string remote, string format);

    [LoggerMessage(101, LogLevel.Information, "Source on {Mount} ended: {Reason} ({Bytes} bytes in {Seconds:F1} s)")]
    public static partial void SourceEnded(ILogger logger, string mount, string reason, long bytes, double seconds);

    [LoggerMessage(102, LogLevel.Warning, "Source on {Mount} from {Remote} dropped: {Reason}")]
    public static partial void SourceDropped(ILogger logger, string mount, string remote, string reason);

    [LoggerMessage(103, LogLevel.Warning, "Source on {Mount}: skipped {Bytes} bytes of garbage to resync the MPEG-TS stream")]
    public static partial void TsResync(ILogger logger, string mount, long bytes);

    [LoggerMessage(110, LogLevel.Information, "Listener {Id} on {Mount} evicted: {Reason}")]
    public static partial void ListenerEvicted(ILogger logger, long id, string mount, string reason);

    [LoggerMessage(111, LogLevel.Debug, "Listener {Id} on {Mount} skipped to the newest keyframe ({LagMs} ms late)")]
    public static partial void ListenerSkipped(ILogger logger, long id, string mount, long lagMs);

    [LoggerMessage(112, LogLevel.Warning, "Kernel TCP memory {Where} tcp_mem's min ({Mib} MiB; min {MinMib} MiB, pressure {PressureMib} MiB): listeners that stopped reading are evicted at max-lag and new ones get a quarter of listener-send-buffer while above")]
    public static partial void TcpMemoryPressure(ILogger logger, string where, long mib, long minMib, long pressureMib);

    [LoggerMessage(120, LogLevel.Information, "Mount {Mount} created on the fly by a source")]
    public static partial void DynamicMountCreated(ILogger logger, string mount);

    [LoggerMessage(121, LogLevel.Information, "Mount {Mount}: no source after the grace period, {Listeners} listener(s) closed")]
    public static partial void MountIdle(ILogger logger, string mount, int listeners);

    [LoggerMessage(122, LogLevel.Information, "Dynamic mount {Mount} removed")]
    public static partial void DynamicMountRemoved(ILogger logger, string mount);

    [LoggerMessage(123, LogLevel.Information, "Mount {Mount} removed by a reload (source dropped: {HadSource}, {Listeners} listener(s) ended)")]
    public static partial void MountRemoved(ILogger logger, string mount, bool hadSource, int listeners);
}
