using System.IO.Pipelines;
using System.Net.Sockets;
using System.Text;
using Microsoft.AspNetCore.Connections;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// GET and HEAD on a mount, answered at the connection level: the same admission and answers as
/// <see cref="ListenerHandler"/> (which stays the path for transports without a socket), then the body
/// through a <see cref="SocketListenerSink"/>. The response has no Content-Length and says
/// <c>Connection: close</c>: the body runs until the server closes, for HTTP/1.0 and HTTP/1.1 alike, as
/// Icecast does (RFC 9112 §6.3: a response without length or chunking is delimited by the close).
/// Kestrel's transport output is never written, so its send loop stays idle.
/// </summary>
internal static class RawListener
{
    public static async Task HandleAsync(ConnectionContext connection, Socket socket, RawRequestHead head, MountRegistry registry, Mount mount)
    {
        using var sink = new SocketListenerSink(connection, socket);
        try
        {
            var remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
            var listener = ListenerAdmission.TryAdmit(registry, mount, sink, remote, head.UserAgent, out var refusal);
            if (listener is null)
            {
                await sink.WriteAsync(HttpResponses.RawPlain("HTTP/1.1", 503, refusal, includeBody: !head.IsHead)).ConfigureAwait(false);
                return;
            }
            try
            {
                sink.Configure(mount.Server.ListenerSendBuffer);
                // Headers go out now, not with the first media byte: a relay pulling from here (or a
                // player) knows at once that the mount exists while it waits for a keyframe.
                if (!await sink.WriteAsync(OkHead(mount)).ConfigureAwait(false) || head.IsHead)
                {
                    return;
                }
                await RunAsync(connection, sink, listener).ConfigureAwait(false);
            }
            finally
            {
                ListenerAdmission.Leave(registry, mount, listener);
            }
        }
        finally
        {
            // Returning closes the connection (Kestrel shuts the socket down once both pipes are done).
            await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
            await connection.Transport.Input.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static async Task RunAsync(ConnectionContext connection, SocketListenerSink sink, Listener listener)
    {
        using var gone = new CancellationTokenSource();
        // The server stopping (or Kestrel aborting the connection) ends the listener too.
        using var closed = connection.ConnectionClosed.UnsafeRegister(static s => ((CancellationTokenSource)s!).Cancel(), gone);
        var input = connection.Transport.Input;
        var watch = WatchInputAsync(input, sink, gone);
        try
        {
            await listener.RunAsync(gone.Token).ConfigureAwait(false);
        }
        finally
        {
            input.CancelPendingRead();
            await watch.ConfigureAwait(false);
        }
    }

    /// <summary>
    /// Reads (and discards) whatever the client sends until its side closes: Kestrel's receive loop keeps
    /// running under this middleware, and its input completing is how a departed listener is noticed
    /// while it waits for data (a send would notice only later).
    /// </summary>
    private static async Task WatchInputAsync(PipeReader input, SocketListenerSink sink, CancellationTokenSource gone)
    {
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCanceled)
                {
                    // The listener ended first and stopped this watch.
                    return;
                }
                if (result.IsCompleted)
                {
                    break;
                }
            }
        }
        catch (Exception e) when (e is IOException or ConnectionAbortedException or ConnectionResetException or OperationCanceledException or InvalidOperationException)
        {
            // Reset or aborted: gone as well.
        }
        gone.Cancel();
        sink.Abort();
    }

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
