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
            if (mount.Availability == MountAvailability.NoSource)
            {
                await sink.WriteAsync(Plain(head, 503, $"{mount.Path} has no source right now")).ConfigureAwait(false);
                return;
            }
            if (!registry.TryAcquireListenerSlot())
            {
                await sink.WriteAsync(Plain(head, 503, "Server full (max-listeners)")).ConfigureAwait(false);
                return;
            }
            try
            {
                var remote = connection.RemoteEndPoint?.ToString() ?? "unknown";
                var listener = new Listener(mount, sink, remote, head.UserAgent);
                if (!mount.TryAddListener(listener))
                {
                    await sink.WriteAsync(Plain(head, 503, $"{mount.Path} is full (max-listeners)")).ConfigureAwait(false);
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
                    mount.RemoveListener(listener);
                    registry.OnListenerLeft(mount);
                }
            }
            finally
            {
                registry.ReleaseListenerSlot();
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

    /// <summary>The same plain-text answer as <see cref="HttpResponses.WritePlainAsync"/>, then close.</summary>
    private static byte[] Plain(RawRequestHead head, int statusCode, string message)
    {
        var body = message + "\n";
        var retry = statusCode == 503 ? "Retry-After: 5\r\n" : string.Empty;
        var text = $"HTTP/1.1 {statusCode} {HttpResponses.ReasonPhrase(statusCode)}\r\n" +
            "Content-Type: text/plain; charset=utf-8\r\n" +
            $"Date: {DateTimeOffset.UtcNow:r}\r\n" +
            "Cache-Control: no-cache\r\n" +
            retry +
            $"Content-Length: {Encoding.UTF8.GetByteCount(body)}\r\n" +
            "Connection: close\r\n" +
            "\r\n" +
            (head.IsHead ? string.Empty : body);
        return Encoding.UTF8.GetBytes(text);
    }
}
