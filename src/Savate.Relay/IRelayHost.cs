namespace Savate.Relay;

/// <summary>
/// What a relay needs from the server. Savate.Relay pulls upstream bytes and hands them over through
/// this interface; it never references the server. Every member may be called from any thread.
/// </summary>
public interface IRelayHost
{
    /// <summary>Listeners currently attached to <paramref name="mount"/>. Polled; must be cheap and non-blocking.</summary>
    int GetListenerCount(string mount);

    /// <summary>Completes when the mount has at least one listener (used by on-demand relays); the server signals it.</summary>
    Task WaitForListenersAsync(string mount, CancellationToken cancellationToken);

    /// <summary>
    /// Runs an upstream response body as the mount's source until the body ends or fails.
    /// <paramref name="contentType"/> is the upstream's Content-Type (may be null). The server parses, buffers, fans out.
    /// </summary>
    Task<RelayFeedResult> FeedAsync(string mount, string? contentType, Stream body, CancellationToken cancellationToken);

    /// <summary>
    /// The server's listeners and its max-listeners, announced to a master with a public URL
    /// (<see cref="MasterOptions.PublicUrl"/>). Default: nothing known (0 of unlimited).
    /// </summary>
    ListenerLoad GetServerLoad() => new(0, int.MaxValue);

    /// <summary>The mount's own max-listeners, or null when only the server's applies. Default: null.</summary>
    int? GetMaxListeners(string mount) => null;

    /// <summary>Discovery found a mount on the master (called once per new mount, before its relay starts).</summary>
    void MountDiscovered(string mount);

    /// <summary>The master no longer lists the mount (called after its relay has stopped).</summary>
    void MountRetired(string mount);
}

/// <summary>Listeners connected now and the most allowed.</summary>
/// <param name="Listeners">Listeners connected now.</param>
/// <param name="MaxListeners">The most allowed (<see cref="int.MaxValue"/>: no limit).</param>
public readonly record struct ListenerLoad(int Listeners, int MaxListeners);

/// <summary>How <see cref="IRelayHost.FeedAsync"/> ended.</summary>
public enum RelayFeedResult
{
    /// <summary>The body ended or failed (EOF, reset, idle-read timeout).</summary>
    Ended,

    /// <summary>The mount already has another source; the relay backs off and tries again later.</summary>
    Refused,

    /// <summary>The body is not FLV or MPEG-TS; counts as a failure of that upstream.</summary>
    BadData,
}
