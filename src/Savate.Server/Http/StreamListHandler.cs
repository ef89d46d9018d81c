using System.Text;
using Microsoft.AspNetCore.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// GET /admin/streamlist.txt: the Icecast master/slave format (one mount path per line), so that Savate
/// and Icecast 2.4 slaves can discover this server's mounts. Guarded by server.relay-password (user "relay"); refused (403) when it is unset.
/// Lists the declared mounts, the relayed ones (a slave is a master for the slaves below it), and the
/// dynamic ones while they can be played. A Savate slave's poll may announce its public URL and load
/// (<see cref="Savate.Relay.SlaveAnnouncement"/>): the slave then joins the set listeners are redirected to.
/// </summary>
internal static class StreamListHandler
{
    public const string RelayUser = "relay";

    public static Task WriteAsync(HttpContext context, MountRegistry registry)
    {
        if (registry.Config.Server.RelayPassword is not { } password)
        {
            // Not published by default: the list names every mount, dynamic ones included.
            return HttpResponses.WritePlainAsync(context, 403, "The stream list is off: set server.relay-password to let slaves (user \"relay\") read it");
        }
        if (!BasicAuth.Matches(context.Request.Headers.Authorization, RelayUser, password))
        {
            return HttpResponses.WritePlainAsync(context, 401, "Relay credentials required (user \"relay\")");
        }
        // While the server stops, its mounts go one by one: a list taken now would tell slaves to retire mounts that
        // a restarted master serves again a moment later (and with them their listeners). A 503 is a failed poll.
        if (context.RequestServices.GetService(typeof(Microsoft.Extensions.Hosting.IHostApplicationLifetime)) is Microsoft.Extensions.Hosting.IHostApplicationLifetime lifetime
            && lifetime.ApplicationStopping.IsCancellationRequested)
        {
            return HttpResponses.WritePlainAsync(context, 503, "Stopping");
        }
        // A slave with a public URL announces it and its load on each poll (server.redirect sends listeners there).
        var headers = context.Request.Headers;
        if (Savate.Relay.SlaveAnnouncement.Parse(name => headers.TryGetValue(name, out var v) ? v.ToString() : null) is { } announcement)
        {
            registry.Slaves.Announce(announcement);
        }
        var list = new StringBuilder();
        foreach (var mount in registry.Mounts)
        {
            // Declared mounts are always listed: a slave must not retire a mount because its
            // encoder is restarting (its listeners are held through grace and fallback meanwhile).
            if (!mount.IsDynamic || mount.IsRelayed || mount.Availability == MountAvailability.Playable)
            {
                list.Append(mount.Path).Append('\n');
            }
        }
        context.Response.ContentType = "text/plain; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.WriteAsync(list.ToString());
    }
}
