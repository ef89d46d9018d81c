using Microsoft.Extensions.Logging;

namespace Savate.Server.Hosting;

/// <summary>Log messages of configuration reloads, with stable event ids.</summary>
internal static partial class ConfigLog
{
    [LoggerMessage(300, LogLevel.Information, "Config reload ({Trigger}): {Change}")]
    public static partial void Change(ILogger logger, string trigger, string change);

    [LoggerMessage(301, LogLevel.Information, "Config reloaded ({Trigger}) from {Path}: {Added} mount(s) added, {Changed} changed, {Removed} removed, {Other} other change(s)")]
    public static partial void Reloaded(ILogger logger, string trigger, string path, int added, int changed, int removed, int other);

    [LoggerMessage(302, LogLevel.Information, "Config reload ({Trigger}): {Path} has no change")]
    public static partial void Unchanged(ILogger logger, string trigger, string path);

    [LoggerMessage(303, LogLevel.Error, "Config reload ({Trigger}): {Error}")]
    public static partial void InvalidEntry(ILogger logger, string trigger, string error);

    [LoggerMessage(304, LogLevel.Error, "Config reload ({Trigger}) refused: {Path} has {Count} error(s); the running config is unchanged")]
    public static partial void Refused(ILogger logger, string trigger, string path, int count);

    [LoggerMessage(305, LogLevel.Debug, "Config reload ({Trigger}) refused again: {Path} still has the same {Count} error(s)")]
    public static partial void StillRefused(ILogger logger, string trigger, string path, int count);

    [LoggerMessage(306, LogLevel.Information, "Watching {Path} for changes (server.watch-config); SIGHUP reloads it too")]
    public static partial void Watching(ILogger logger, string path);

    [LoggerMessage(307, LogLevel.Warning, "Cannot watch {Path} for changes ({Error}); SIGHUP still reloads it")]
    public static partial void WatchFailed(ILogger logger, string path, string error);
}
