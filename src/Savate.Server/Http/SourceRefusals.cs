using Microsoft.Extensions.Logging;
using Savate.Server.Logging;

namespace Savate.Server.Http;

/// <summary>
/// Answers a source that is refused before its body is read (401, 404, 409, 415) and logs it: one line per
/// client address, mount and status per minute, the repeats counted, so an encoder retrying every second
/// with a wrong password shows once a minute instead of flooding the log.
/// </summary>
internal sealed partial class SourceRefusals(TimeProvider time, ILogger<SourceRefusals> logger, Streaming.MountRegistry? registry = null)
{
    /// <summary>A refusal of the same address, mount and status is logged at most once per window.</summary>
    public static readonly TimeSpan Window = TimeSpan.FromMinutes(1);

    private readonly LogThrottle _throttle = new(time, Window);

    /// <summary>Logs the refusal (rate-limited), then answers it; the transport closes the connection after the answer.</summary>
    public ValueTask RefuseAsync(ISourceTransport transport, Admission admission, string path, string remote, string? authorization)
    {
        if (admission.StatusCode == 401 && string.IsNullOrEmpty(authorization))
        {
            // No credentials at all: the first half of HTTP authentication, not a refusal. ffmpeg's http:// sends
            // its first request without them and repeats it with them after this 401 and its Basic challenge.
            ChallengeSent(logger, path, remote);
        }
        else
        {
            OnRefused(path, remote, admission.StatusCode, admission.Message);
        }
        return transport.RefuseAsync(admission.StatusCode, admission.Message);
    }

    public void OnRefused(string path, string remote, int statusCode, string reason)
    {
        registry?.Refusals.On(statusCode switch
        {
            401 or 403 or 404 => Metrics.RefusalReason.SourceUnauthorized,
            409 => Metrics.RefusalReason.SourceConflict,
            415 => Metrics.RefusalReason.SourceUnsupported,
            503 => Metrics.RefusalReason.DynamicMountLimit,
            408 => Metrics.RefusalReason.HeadTimeout,
            _ => Metrics.RefusalReason.BadRequest,
        });
        if (!_throttle.ShouldLog($"{AddressOf(remote)}|{path}|{statusCode}", out var suppressed))
        {
            return;
        }
        if (suppressed == 0)
        {
            SourceRefused(logger, path, remote, statusCode, reason);
        }
        else
        {
            SourceRefusedAgain(logger, path, remote, statusCode, reason, suppressed);
        }
    }

    /// <summary>The address of "address:port" (IPv4, [IPv6] or bare IPv6), without the port.</summary>
    public static string AddressOf(string remote)
    {
        var colon = remote.LastIndexOf(':');
        return colon > 0 ? remote[..colon] : remote;
    }

    [LoggerMessage(142, LogLevel.Debug, "Source on {Mount} from {Remote} sent no credentials: answered 401 with the Basic challenge")]
    private static partial void ChallengeSent(ILogger logger, string mount, string remote);

    [LoggerMessage(140, LogLevel.Warning, "Source refused on {Mount} from {Remote}: {Status} {Reason}")]
    private static partial void SourceRefused(ILogger logger, string mount, string remote, int status, string reason);

    [LoggerMessage(141, LogLevel.Warning, "Source refused on {Mount} from {Remote}: {Status} {Reason} (and {Suppressed} more from this address in the last minute)")]
    private static partial void SourceRefusedAgain(ILogger logger, string mount, string remote, int status, string reason, long suppressed);
}
