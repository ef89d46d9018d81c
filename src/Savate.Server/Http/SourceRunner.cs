using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>The HTTP side of a source: how to answer it and where its body comes from.</summary>
internal interface ISourceTransport
{
    PipeReader Body { get; }

    CancellationToken Aborted { get; }

    /// <summary>Tells a client waiting on Expect: 100-continue to send its body.</summary>
    ValueTask ContinueAsync();

    /// <summary>Sends 200 at once; the body keeps streaming in.</summary>
    ValueTask AcceptAsync();

    ValueTask RefuseAsync(int statusCode, string message);

    /// <summary>Drops the connection (after bad data).</summary>
    void Abort();
}

/// <summary>Runs an admitted source from format detection to release, whatever its transport.</summary>
internal static class SourceRunner
{
    public static async Task RunAsync(Admission admission, ISourceTransport transport, ILogger logger)
    {
        var session = admission.Session!;
        var mount = session.Mount;
        // A source-auth hook's duration: the source is dropped then, as over a limit (logged as such).
        using var timeLimit = admission.TimeLimit is { } limit
            ? new Timer(static s => ((SourceSession)s!).Drop("its auth hook's duration is over"), session, limit, Timeout.InfiniteTimeSpan)
            : null;
        try
        {
            await RunSessionAsync(session, admission.Format, admission.AccessLog, transport, logger).ConfigureAwait(false);
        }
        catch (IOException e)
        {
            // Before the session reads: bad chunk framing in the first bytes (Kestrel's BadHttpRequestException is an
            // IOException), or a reset. One line, no stack: it is the client's fault, not the server's.
            Dropped(logger, session, $"request body broken before the stream started: {e.Message}");
            transport.Abort();
        }
        finally
        {
            mount.Release(session);
        }
    }

    private static async Task RunSessionAsync(SourceSession session, MountFormat format, AccessLog.AccessLogWriter? accessLog, ISourceTransport transport, ILogger logger)
    {
        var mount = session.Mount;
        if (format != MountFormat.Auto)
        {
            if (!mount.TrySetFormat(format))
            {
                await RefuseFormatAsync(transport, logger, session, format).ConfigureAwait(false);
                return;
            }
            await transport.AcceptAsync().ConfigureAwait(false);
        }
        else
        {
            await transport.ContinueAsync().ConfigureAwait(false);
            var sniffed = await SourceSession.SniffAsync(transport.Body, mount.Server.SourceTimeout, transport.Aborted).ConfigureAwait(false);
            if (sniffed is null)
            {
                Dropped(logger, session, "no data before the format could be told");
                await transport.RefuseAsync(408, "No data received").ConfigureAwait(false);
                return;
            }
            if (sniffed == MountFormat.Auto)
            {
                Dropped(logger, session, "neither FLV nor MPEG-TS (and no Content-Type saying which)");
                await transport.RefuseAsync(415, "The body is neither FLV nor MPEG-TS; send video/x-flv or video/mp2t").ConfigureAwait(false);
                return;
            }
            format = sniffed.Value;
            if (!mount.TrySetFormat(format))
            {
                await RefuseFormatAsync(transport, logger, session, format).ConfigureAwait(false);
                return;
            }
            await transport.AcceptAsync().ConfigureAwait(false);
        }

        StreamingLog.SourceConnected(logger, mount.Path, session.Remote, format == MountFormat.Flv ? "FLV" : "MPEG-TS");
        var result = await session.RunAsync(transport.Body, format, transport.Aborted).ConfigureAwait(false);
        if (result.End == SourceEnd.Completed && transport.Body is SizedBodyReader { Left: > 0 } sized)
        {
            // The connection ended before its Content-Length: what came is published, and the end says it was short.
            result = new SourceResult(SourceEnd.ConnectionLost, $"connection closed by the client {sized.Left} bytes before the end of its body");
        }
        accessLog?.LogSource(session);
        var seconds = (DateTimeOffset.UtcNow - session.ConnectedAt).TotalSeconds;
        if (result.End is SourceEnd.BadData or SourceEnd.TimedOut or SourceEnd.OverLimit)
        {
            Dropped(logger, session, result.Reason);
            transport.Abort();
        }
        else
        {
            StreamingLog.SourceEnded(logger, mount.Path, result.Reason, session.BytesIn, seconds);
            if (result.End == SourceEnd.Cancelled)
            {
                // Shutdown or a kick: close now, so the host's stop does not wait on a body still streaming in.
                transport.Abort();
            }
        }
    }

    private static ValueTask RefuseFormatAsync(ISourceTransport transport, ILogger logger, SourceSession session, MountFormat format)
    {
        var mount = session.Mount;
        var message = $"{mount.Path} carries {SourceAdmission.Describe(mount.Format)}, this source sends {SourceAdmission.Describe(format)}";
        StreamingLog.SourceDropped(logger, mount.Path, session.Remote, message);
        return transport.RefuseAsync(415, message);
    }

    /// <summary>A dropped source: one line per client address and mount per window (hostile clients reconnect in a loop).</summary>
    private static void Dropped(ILogger logger, SourceSession session, string reason)
    {
        long suppressed = 0;
        if (session.Guard is { } guard && !guard.HostileLog.ShouldLog($"{SourceGuard.AddressOf(session.Remote)}|{session.Mount.Path}|dropped", out suppressed))
        {
            return;
        }
        StreamingLog.SourceDropped(logger, session.Mount.Path, session.Remote,
            suppressed == 0 ? reason : $"{reason} (and {suppressed} more from this address not logged)");
    }
}
