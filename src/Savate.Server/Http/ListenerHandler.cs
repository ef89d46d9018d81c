using Microsoft.AspNetCore.Connections.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>GET and HEAD on a mount.</summary>
internal static class ListenerHandler
{
    public static string ContentTypeOf(MountFormat format) => format switch
    {
        MountFormat.Flv => "video/x-flv",
        MountFormat.Mpegts => "video/mp2t",
        _ => "application/octet-stream",
    };

    public static async Task HandleAsync(HttpContext context, MountRegistry registry, Mount mount, Auth.AccessControl access, string path)
    {
        TimeSpan? timeLimit = null;
        var server = registry.Config.Server;
        if (Auth.AccessControl.NeedsListenerCheck(server, mount.Config))
        {
            var decision = await access.CheckListenerAsync(server, mount.Config, AccessRequests.FromContext(context, path), context.RequestAborted).ConfigureAwait(false);
            if (!decision.IsAllowed)
            {
                await HttpResponses.WritePlainAsync(context, decision.StatusCode, decision.Reason).ConfigureAwait(false);
                return;
            }
            timeLimit = decision.TimeLimit;
        }
        // A master may send the listener to a slave instead (server.redirect).
        var listener = Relaying.SlaveRedirect.AdmitOrRedirect(registry, mount, new HttpListenerSink(context), RemoteOf(context), context.Request.Headers.UserAgent,
            mount.Path + context.Request.QueryString.Value, context.Request.Headers.Authorization, out var location, out var refusal);
        if (location is not null)
        {
            HttpResponses.WriteRedirect(context, location);
            return;
        }
        if (listener is null)
        {
            await HttpResponses.WritePlainAsync(context, 503, refusal).ConfigureAwait(false);
            return;
        }
        try
        {
            var response = context.Response;
            response.StatusCode = 200;
            response.ContentType = ContentTypeOf(mount.Format);
            response.Headers.CacheControl = "no-cache, no-store";
            response.Headers.Pragma = "no-cache";
            response.Headers.AccessControlAllowOrigin = "*";
            response.Headers.XContentTypeOptions = "nosniff";
            if (HttpMethods.IsHead(context.Request.Method))
            {
                return;
            }
            context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
            CapSendBuffer(context, registry.ListenerSendBufferFor(mount));
            await response.StartAsync(context.RequestAborted).ConfigureAwait(false);
            // Headers go out now, not with the first media byte: a relay pulling from here (or a
            // player) knows at once that the mount exists while it waits for a keyframe.
            await response.BodyWriter.FlushAsync(context.RequestAborted).ConfigureAwait(false);
            using var limited = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
            if (timeLimit is { } limit)
            {
                // The hook's duration: the listener is ended then, as if it had left.
                limited.CancelAfter(limit);
            }
            // An operator may move the listener to another mount: it then goes on there (Admin/ListenerMover).
            ListenerEnd end;
            do
            {
                end = await listener.RunAsync(limited.Token).ConfigureAwait(false);
            }
            while (Admin.ListenerMover.TryFollowMove(ref listener, end));
        }
        finally
        {
            ListenerAdmission.Leave(registry, listener.Mount, listener);
        }
    }

    public static string RemoteOf(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } ip ? $"{ip}:{context.Connection.RemotePort}" : "unknown";

    /// <summary>
    /// Caps the kernel send buffer: on loopback it grows to megabytes and hides seconds of lag from
    /// the server's accounting (and holds memory the ring already holds).
    /// </summary>
    private static void CapSendBuffer(HttpContext context, int bytes)
    {
        if (context.Features.Get<IConnectionSocketFeature>()?.Socket is { } socket)
        {
            CapSendBuffer(socket, bytes);
        }
    }

    /// <summary>Sets SO_SNDBUF to <paramref name="bytes"/> (0 leaves the kernel's default); a closed socket is left to the next send to notice.</summary>
    public static void CapSendBuffer(System.Net.Sockets.Socket socket, int bytes)
    {
        if (bytes <= 0)
        {
            return;
        }
        try
        {
            socket.SendBufferSize = bytes;
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // The connection is already gone; the next send will say so.
        }
    }
}
