using Microsoft.Extensions.Logging;

namespace Savate.Server.Hls;

/// <summary>Log messages of HLS segmenting, with stable event ids (400-419).</summary>
internal static partial class HlsLog
{
    [LoggerMessage(400, LogLevel.Information, "HLS segmenting started on {Mount}")]
    public static partial void SegmenterStarted(ILogger logger, string mount);

    [LoggerMessage(401, LogLevel.Information, "HLS segmenting stopped on {Mount}: {Reason} ({Segments} segments)")]
    public static partial void SegmenterStopped(ILogger logger, string mount, string reason, long segments);

    [LoggerMessage(402, LogLevel.Information, "HLS target duration of {Mount} fixed at {Seconds} s")]
    public static partial void TargetDurationFixed(ILogger logger, string mount, int seconds);

    [LoggerMessage(403, LogLevel.Debug, "HLS segment {Sequence} of {Mount}: {Milliseconds} ms, {Bytes} bytes")]
    public static partial void SegmentPublished(ILogger logger, string mount, long sequence, long milliseconds, int bytes);

    [LoggerMessage(404, LogLevel.Warning, "HLS on {Mount}: no keyframe within the {Seconds} s target duration; segments are cut between keyframes (the stream's GOP grew; logged once per run)")]
    public static partial void ForcedCut(ILogger logger, string mount, int seconds);

    [LoggerMessage(405, LogLevel.Warning, "HLS on {Mount}: a segment grew past {Bytes} bytes without a keyframe; dropped")]
    public static partial void SegmentTooLarge(ILogger logger, string mount, int bytes);

    [LoggerMessage(406, LogLevel.Warning, "HLS on {Mount}: dropped a malformed video frame ({Count} so far; logged every 1000)")]
    public static partial void MalformedFrame(ILogger logger, string mount, long count);

    [LoggerMessage(407, LogLevel.Warning, "HLS on {Mount}: the stream could not be read ({Reason}); segmenting stops")]
    public static partial void SegmenterInputError(ILogger logger, string mount, string reason);

    [LoggerMessage(408, LogLevel.Warning, "HLS on {Mount}: segmenting could not start: {Reason}")]
    public static partial void SegmenterRefused(ILogger logger, string mount, string reason);
}
