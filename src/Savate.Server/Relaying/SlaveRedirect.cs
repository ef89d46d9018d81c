using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Relaying;

/// <summary>
/// Whether a new listener is sent to a slave (<c>server.redirect</c>): the one decision of the raw listener path,
/// Kestrel's listener path and the HLS playlists. A pure read of the config, the counts and the slave set.
/// </summary>
internal static class SlaveRedirect
{
    /// <summary>
    /// Where to send a listener of <paramref name="mount"/> asking for <paramref name="pathAndQuery"/> (the normalised
    /// path and the query as sent), or null to serve it here. A relay pulling with the relay credentials is never
    /// redirected: it is a slave itself, and redirecting it could send it to itself.
    /// </summary>
    public static string? LocationFor(MountRegistry registry, Mount mount, string pathAndQuery, string? authorization)
    {
        var mode = registry.Config.Server.Redirect;
        if (mode == RedirectMode.Never
            || (mode == RedirectMode.WhenFull && !IsFull(registry, mount))
            || IsRelay(registry, authorization))
        {
            return null;
        }
        if (registry.Slaves.Pick(mount.Path) is not { } slave)
        {
            return null;
        }
        registry.Refusals.OnRedirect();
        return slave + pathAndQuery;
    }

    /// <summary>
    /// The listener paths' one admission (raw and Kestrel's): a <paramref name="location"/> to redirect to, decided
    /// before admission and again when admission found the mount full meanwhile (a race with another listener);
    /// else <see cref="ListenerAdmission.TryAdmit"/>, a slave's relay pull never capped by max-listeners.
    /// </summary>
    public static Listener? AdmitOrRedirect(MountRegistry registry, Mount mount, IListenerSink sink, string remote, string? userAgent,
        string pathAndQuery, string? authorization, out string? location, out string refusal)
    {
        refusal = string.Empty;
        location = LocationFor(registry, mount, pathAndQuery, authorization);
        if (location is not null)
        {
            return null;
        }
        var listener = ListenerAdmission.TryAdmit(registry, mount, sink, remote, userAgent, out refusal, IsRelay(registry, authorization));
        location = listener is null ? LocationFor(registry, mount, pathAndQuery, authorization) : null;
        return listener;
    }

    /// <summary>Whether the server or the mount is at its max-listeners (a new listener would get 503).</summary>
    public static bool IsFull(MountRegistry registry, Mount mount) =>
        registry.ListenerCount >= registry.Config.Server.MaxListeners
        || (mount.Config.MaxListeners is { } max && mount.ListenerCount >= max);

    /// <summary>A slave's relay pull: HTTP Basic with user <c>relay</c> and <c>server.relay-password</c>.</summary>
    public static bool IsRelay(MountRegistry registry, string? authorization) =>
        authorization is not null
        && registry.Config.Server.RelayPassword is { } password
        && BasicAuth.Matches(authorization, StreamListHandler.RelayUser, password);

    /// <summary>The query of a raw request target, with its <c>?</c> (empty when there is none).</summary>
    public static string QueryOf(string target)
    {
        var question = target.IndexOf('?', StringComparison.Ordinal);
        return question < 0 ? string.Empty : target[question..];
    }
}
