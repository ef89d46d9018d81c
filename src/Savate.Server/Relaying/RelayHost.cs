using System.IO.Pipelines;
using Microsoft.Extensions.Logging;
using Savate.Relay;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Logging;
using Savate.Server.Streaming;

namespace Savate.Server.Relaying;

/// <summary>
/// The server side of <see cref="IRelayHost"/>: an upstream body becomes the relayed mount's source,
/// exactly like an encoder's (same ingest, same ring, same grace and fallback when it goes away).
/// </summary>
internal sealed class RelayHost(MountRegistry registry, ILogger<RelayHost> logger) : IRelayHost
{
    // An upstream that fails the same way on every attempt (FLV relayed from Icecast starts mid-stream, without
    // the FLV header) reconnects again and again: its connect and failure lines are logged once per window,
    // with the count of the ones left out. The relay worker logs the outage itself, once.
    private static readonly TimeSpan s_repeatWindow = TimeSpan.FromMinutes(5);
    private readonly LogThrottle _repeats = new(registry.Time, s_repeatWindow);

    public int GetListenerCount(string mount) => registry.Find(mount)?.ListenerCount ?? 0;

    public ListenerLoad GetServerLoad() => new(registry.ListenerCount, registry.Config.Server.MaxListeners);

    public int? GetMaxListeners(string mount) => registry.Find(mount)?.Config.MaxListeners;

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
                    if (ShouldLog($"{mount}|not-media", out var more))
                    {
                        StreamingLog.SourceDropped(logger, mount, "relay", "upstream body is neither FLV nor MPEG-TS" + more);
                    }
                    return RelayFeedResult.BadData;
                }
                format = sniffed.Value;
            }
            if (!target.TrySetFormat(format))
            {
                StreamingLog.SourceDropped(logger, mount, "relay", $"upstream sends {SourceAdmission.Describe(format)}, the mount carries {SourceAdmission.Describe(target.Format)}");
                return RelayFeedResult.Refused;
            }
            var formatName = format == MountFormat.Flv ? "FLV" : "MPEG-TS";
            if (ShouldLog($"{mount}|connected|{formatName}", out var again))
            {
                StreamingLog.SourceConnected(logger, mount, "relay", formatName + again);
            }
            var result = await session.RunAsync(reader, format, cancellationToken).ConfigureAwait(false);
            var repeated = "";
            if (result.End != SourceEnd.BadData || ShouldLog($"{mount}|{result.Reason}", out repeated))
            {
                StreamingLog.SourceEnded(logger, mount, result.Reason + repeated, session.BytesIn, (DateTimeOffset.UtcNow - session.ConnectedAt).TotalSeconds);
            }
            return result.End == SourceEnd.BadData ? RelayFeedResult.BadData : RelayFeedResult.Ended;
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
            target.Release(session);
        }
    }

    public void MountDiscovered(string mount) => registry.GetOrCreateRelayed(mount);

    /// <summary>True when a line of this key is to be logged; <paramref name="suffix"/> then says how many were left out.</summary>
    private bool ShouldLog(string key, out string suffix)
    {
        var log = _repeats.ShouldLog(key, out var suppressed);
        suffix = suppressed > 0 ? $" (and {suppressed} more like it in the last {s_repeatWindow.TotalMinutes:0} min)" : "";
        return log;
    }

    public void MountRetired(string mount) => registry.RetireRelayed(mount);
}
