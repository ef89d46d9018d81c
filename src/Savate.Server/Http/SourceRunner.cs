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
        try
        {
            var format = admission.Format;
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
                    StreamingLog.SourceDropped(logger, mount.Path, session.Remote, "no data before the format could be told");
                    await transport.RefuseAsync(408, "No data received").ConfigureAwait(false);
                    return;
                }
                if (sniffed == MountFormat.Auto)
                {
                    StreamingLog.SourceDropped(logger, mount.Path, session.Remote, "neither FLV nor MPEG-TS (and no Content-Type saying which)");
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
            var seconds = (DateTimeOffset.UtcNow - session.ConnectedAt).TotalSeconds;
            if (result.End is SourceEnd.BadData or SourceEnd.TimedOut)
            {
                StreamingLog.SourceDropped(logger, mount.Path, session.Remote, result.Reason);
                transport.Abort();
            }
            else
            {
                StreamingLog.SourceEnded(logger, mount.Path, result.Reason, session.BytesIn, seconds);
                if (result.End == SourceEnd.Cancelled && session.WasKicked)
                {
                    // Kicked (its mount was removed by a reload): the encoder learns it at once.
                    transport.Abort();
                }
            }
        }
        finally
        {
            mount.Release(session);
        }
    }

    private static ValueTask RefuseFormatAsync(ISourceTransport transport, ILogger logger, SourceSession session, MountFormat format)
    {
        var mount = session.Mount;
        var message = $"{mount.Path} carries {SourceAdmission.Describe(mount.Format)}, this source sends {SourceAdmission.Describe(format)}";
        StreamingLog.SourceDropped(logger, mount.Path, session.Remote, message);
        return transport.RefuseAsync(415, message);
    }
}
