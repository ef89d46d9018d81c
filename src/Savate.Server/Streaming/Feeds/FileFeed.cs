using System.Buffers;
using Microsoft.Extensions.Logging;
using Savate.Server.Streaming.Ingest;

namespace Savate.Server.Streaming.Feeds;

/// <summary>
/// Plays a <see cref="FileMedia"/> into an ingest in real time, looped forever: each chunk is handed
/// over when the wall clock reaches its media time, counted from one fixed start so that pacing never
/// drifts. A burst in the file is sent as fast as the media plays, no faster.
/// </summary>
internal sealed class FileFeed(FileMedia media, IContainerIngest ingest, TimeProvider time, ILogger logger)
{
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        var start = time.GetTimestamp();
        long passStart = 0;
        var first = true;
        try
        {
            while (!cancellationToken.IsCancellationRequested)
            {
                if (first && media.HeaderLength > 0)
                {
                    ingest.Process(new ReadOnlySequence<byte>(media.Bytes, 0, media.HeaderLength));
                }
                first = false;
                foreach (var chunk in media.Chunks)
                {
                    var due = passStart + chunk.Time;
                    var elapsed = (long)time.GetElapsedTime(start).TotalMilliseconds;
                    if (due > elapsed)
                    {
                        await Task.Delay(TimeSpan.FromMilliseconds(due - elapsed), time, cancellationToken).ConfigureAwait(false);
                    }
                    ingest.Process(new ReadOnlySequence<byte>(media.Bytes, chunk.Offset, chunk.Length));
                    ingest.Flush();
                }
                passStart += media.Duration;
                ingest.AddSourceOffset(media.Duration);
            }
        }
        catch (OperationCanceledException)
        {
            // Switched away.
        }
        catch (Exception e)
        {
            FeedLog.FileFeedFailed(logger, media.Path, e);
        }
        finally
        {
            ingest.Abandon();
        }
    }
}

internal static partial class FeedLog
{
    [LoggerMessage(130, LogLevel.Information, "Mount {Mount}: now playing {What}")]
    public static partial void Switched(ILogger logger, string mount, string what);

    [LoggerMessage(131, LogLevel.Error, "Fallback file {Path} failed")]
    public static partial void FileFeedFailed(ILogger logger, string path, Exception exception);
}
