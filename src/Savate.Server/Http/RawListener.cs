using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Logging;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// GET and HEAD on a mount, answered below Kestrel's HTTP layer: the same admission and answers as
/// <see cref="ListenerHandler"/> (which stays the path for transports without a socket), then the body
/// through a <see cref="SocketListenerSink"/>. The response has no Content-Length and says
/// <c>Connection: close</c>: the body runs until the server closes, for HTTP/1.0 and HTTP/1.1 alike, as
/// Icecast does (RFC 9112 §6.3: a response without length or chunking is delimited by the close).
/// </summary>
internal static partial class RawListener
{
    public static async Task HandleAsync(ListenerConnection connection, RawRequestHead head, MountRegistry registry, Mount mount, Auth.AccessControl access, AddressLimits limits, ILogger logger)
    {
        // One state machine for the listener's life (each level of awaiting costs its own, per listener).
        var sink = new SocketListenerSink(connection);
        var isHead = head.IsHead;
        AddressLimits.AddressLease? lease = null;
        try
        {
            // Who may listen (Auth/AccessControl): skipped, with nothing allocated, when the mount has no rules and no proxy is trusted.
            var remote = connection.Remote;
            TimeSpan? timeLimit = null;
            var server = registry.Config.Server;
            var check = Auth.AccessControl.NeedsListenerCheck(server, mount.Config);
            var address = check || Auth.AccessControl.NeedsAddress(server) ? AccessRequests.Resolve(connection.Socket.RemoteEndPoint, head, server, ref remote) : null;
            // Per-address caps first (429): a listener over them takes no listener slot and asks no hook.
            lease = limits.TryAcquire(address ?? AddressLimits.KeyFor(connection.Socket), "listener", out var limited);
            if (lease is null)
            {
                await sink.WriteAsync(HttpResponses.RawPlain(head.ResponseVersion, 429, limited, includeBody: !isHead)).ConfigureAwait(false);
                return;
            }
            if (check)
            {
                Auth.AccessDecision decision;
                try
                {
                    decision = await access.CheckListenerAsync(server, mount.Config, AccessRequests.FromHead(head, address, remote), connection.Closed).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // The server is stopping while a hook was asked.
                    return;
                }
                if (!decision.IsAllowed)
                {
                    // Kestrel's refusals are in the access log through its middleware; these are not Kestrel's (the query is scrubbed).
                    registry.AccessLog?.LogRequest(AccessLog.AccessLogWriter.HostOf(remote), null, head.Method, head.Target, head.Version, decision.StatusCode, 0,
                        head.Referer, head.UserAgent, TimeSpan.Zero);
                    await sink.WriteAsync(HttpResponses.RawPlain(head.ResponseVersion, decision.StatusCode, decision.Reason, includeBody: !isHead)).ConfigureAwait(false);
                    return;
                }
                timeLimit = decision.TimeLimit;
            }
            // A master may send the listener to a slave instead (server.redirect).
            var listener = Relaying.SlaveRedirect.AdmitOrRedirect(registry, mount, sink, remote, head.UserAgent,
                mount.Path + Relaying.SlaveRedirect.QueryOf(head.Target), head.Authorization, out var location, out var refusal);
            // The request head (its strings) is not needed past admission: not kept for the listener's life (about
            // 450 bytes per listener in this state machine).
            head = null!;
            if (location is not null)
            {
                await sink.WriteAsync(HttpResponses.RawRedirect("HTTP/1.1", location)).ConfigureAwait(false);
                return;
            }
            if (listener is null)
            {
                await sink.WriteAsync(HttpResponses.RawPlain("HTTP/1.1", 503, refusal, includeBody: !isHead)).ConfigureAwait(false);
                return;
            }
            try
            {
                // TCP_NODELAY is already set on accept, by the front door or by Kestrel's transport.
                ListenerHandler.CapSendBuffer(connection.Socket, registry.ListenerSendBufferFor(mount));
                // Headers go out now, not with the first media byte: a relay pulling from here (or a
                // player) knows at once that the mount exists while it waits for a keyframe.
                if (!await sink.WriteAsync(OkHead(mount)).ConfigureAwait(false) || isHead)
                {
                    return;
                }
                // The listener is ended through its connection (ListenerConnection.End), with no token source of its own.
                // The hook's duration: the listener is ended then, as if it had left.
                using var timer = timeLimit is { } limit
                    ? registry.Time.CreateTimer(static s => ((ListenerConnection)s!).End(), connection, limit, Timeout.InfiniteTimeSpan)
                    : null;
                // The server stopping (or the transport aborting the connection) ends the listener too.
                using var closed = connection.Closed.UnsafeRegister(static s => ((ListenerConnection)s!).End(), connection);
                // A departed listener is noticed while it waits for data (a send would notice only later).
                var watch = connection.WatchAsync();
                try
                {
                    // An operator may move the listener to another mount: it then goes on there (Admin/ListenerMover).
                    ListenerEnd end;
                    do
                    {
                        connection.Serve(listener);
                        end = await listener.RunAsync().ConfigureAwait(false);
                    }
                    while (Admin.ListenerMover.TryFollowMove(ref listener, end));
                }
                finally
                {
                    connection.StopWatching();
                    await watch.ConfigureAwait(false);
                }
            }
            finally
            {
                ListenerAdmission.Leave(registry, listener.Mount, listener);
            }
        }
        catch (Exception e) when (e is not (SocketException or ObjectDisposedException or OperationCanceledException))
        {
            // The front door does not await this (its triage ends at the hand-off): what fails is logged here.
            ListenerFailed(logger, e);
        }
        catch (Exception)
        {
            // A reset, closed by us, or the server stopping: nothing to say.
        }
        finally
        {
            lease?.Dispose();
            await connection.CloseAsync().ConfigureAwait(false);
            sink.Dispose();
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "A listener's connection failed")]
    private static partial void ListenerFailed(ILogger logger, Exception exception);

    private static byte[] OkHead(Mount mount) => Encoding.ASCII.GetBytes(
        "HTTP/1.1 200 OK\r\n" +
        $"Content-Type: {ListenerHandler.ContentTypeOf(mount.Format)}\r\n" +
        $"Date: {DateTimeOffset.UtcNow:r}\r\n" +
        "Cache-Control: no-cache, no-store\r\n" +
        "Pragma: no-cache\r\n" +
        "Access-Control-Allow-Origin: *\r\n" +
        "X-Content-Type-Options: nosniff\r\n" +
        "Connection: close\r\n" +
        "\r\n");
}
