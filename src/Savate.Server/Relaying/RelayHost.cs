using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Savate.Relay;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Relaying;

/// <summary>
/// The server side of <see cref="IRelayHost"/>: an upstream body becomes the relayed mount's source,
/// exactly like an encoder's (same ingest, same ring, same grace and fallback when it goes away).
/// </summary>
internal sealed class RelayHost(MountRegistry registry, ILogger<RelayHost> logger) : IRelayHost
{
    public int GetListenerCount(string mount) => registry.Find(mount)?.ListenerCount ?? 0;

    public async Task WaitForListenersAsync(string mount, CancellationToken cancellationToken)
    {
        var target = registry.GetOrCreateRelayed(mount);
        while (true)
        {
            var joined = target.ListenerJoined.WaitTask;
            if (target.ListenerCount > 0)
            {
                return;
            }
            await joined.WaitAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    public async Task<RelayFeedResult> FeedAsync(string mount, string? contentType, Stream body, CancellationToken cancellationToken)
    {
        var target = registry.GetOrCreateRelayed(mount);
        var session = new SourceSession(target, "relay", "Savate relay", registry.SourceGuard);
        if (!target.TryClaim(session))
        {
            return RelayFeedResult.Refused;
        }
        var reader = PipeReader.Create(body, new StreamPipeReaderOptions(bufferSize: 64 * 1024, leaveOpen: true));
        try
        {
            var format = FormatSniffer.FromContentType(contentType);
            if (format == MountFormat.Auto)
            {
                format = target.Config.Format;
            }
            if (format == MountFormat.Auto)
            {
                var sniffed = await SourceSession.SniffAsync(reader, target.Server.SourceTimeout, cancellationToken).ConfigureAwait(false);
                if (sniffed is null)
                {
                    return RelayFeedResult.Ended;
                }
                if (sniffed == MountFormat.Auto)
                {
                    StreamingLog.SourceDropped(logger, mount, "relay", "upstream body is neither FLV nor MPEG-TS");
                    return RelayFeedResult.BadData;
                }
                format = sniffed.Value;
            }
            if (!target.TrySetFormat(format))
            {
                StreamingLog.SourceDropped(logger, mount, "relay", $"upstream sends {SourceAdmission.Describe(format)}, the mount carries {SourceAdmission.Describe(target.Format)}");
                return RelayFeedResult.Refused;
            }
            StreamingLog.SourceConnected(logger, mount, "relay", format == MountFormat.Flv ? "FLV" : "MPEG-TS");
            var result = await session.RunAsync(reader, format, cancellationToken).ConfigureAwait(false);
            StreamingLog.SourceEnded(logger, mount, result.Reason, session.BytesIn, (DateTimeOffset.UtcNow - session.ConnectedAt).TotalSeconds);
            return result.End == SourceEnd.BadData ? RelayFeedResult.BadData : RelayFeedResult.Ended;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            target.Release(session);
        }
    }

    public void MountDiscovered(string mount) => registry.GetOrCreateRelayed(mount);

    public void MountRetired(string mount) => registry.RetireRelayed(mount);
}
