using System.Net.Sockets;
using Microsoft.AspNetCore.Connections;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// The transport side of a raw listener (<see cref="RawListener"/>): the socket its bytes go to, how it is
/// closed, and how its departure is noticed while it waits for data. Two kinds: a bare accepted socket
/// (<see cref="SocketListenerConnection"/>, from <see cref="FrontDoorListener"/>, the usual path) and a Kestrel
/// connection (<see cref="KestrelListenerConnection"/>, for a request head that arrived in pieces).
/// </summary>
internal abstract class ListenerConnection
{
    protected ListenerConnection(Socket socket) => Socket = socket;

    public Socket Socket { get; }

    public abstract string Remote { get; }

    /// <summary>Cancelled when the server stops (or the transport aborts the connection).</summary>
    public abstract CancellationToken Closed { get; }

    /// <summary>Closes now; a pending send fails at once.</summary>
    public abstract void Abort();

    /// <summary>
    /// Runs until the peer is gone (its side closed, or a reset), discarding anything it sends, then ends the listener
    /// (<see cref="End"/>) and aborts; or until <see cref="StopWatching"/> or <see cref="CloseAsync"/> ends it.
    /// </summary>
    public abstract Task WatchAsync();

    /// <summary>The peer went away: the listener ends, and a send in progress fails at once.</summary>
    protected void OnPeerGone()
    {
        End();
        Abort();
    }

    // The listener served now, ended with the connection: a cancellation without a token source, its registrations
    // and their nodes for each listener (about 190 bytes of the 1.7 KB a listener held).
    private Listener? _listener;
    private int _ended;

    /// <summary>The listener this connection serves from now on (an operator's move replaces it); ended at once if the connection already is.</summary>
    public void Serve(Listener listener)
    {
        Interlocked.Exchange(ref _listener, listener);
        if (Volatile.Read(ref _ended) != 0)
        {
            listener.Cancel();
        }
    }

    /// <summary>Ends the listener served (its peer left, the server is stopping, the access hook's time is up), now or as it is served.</summary>
    public void End()
    {
        Interlocked.Exchange(ref _ended, 1);
        Volatile.Read(ref _listener)?.Cancel();
    }

    public abstract void StopWatching();

    /// <summary>Closes after the bytes already sent (FIN, not RST).</summary>
    public abstract ValueTask CloseAsync();
}

/// <summary>A listener on a socket the front door accepted: no Kestrel connection, pipes or receive loop.</summary>
internal sealed class SocketListenerConnection(Socket socket, CancellationToken serverStopping) : ListenerConnection(socket), SocketWatcher.ITarget
{
    // What a listener sends after its request is read and dropped here, by the watcher or by the receives: one
    // buffer for all, since what lands in it is never read.
    private static readonly byte[] s_discard = new byte[4096];

    // Reads a client flooding the connection may take per readiness before the watch is re-armed.
    private const int MaxDrainReads = 16;

    private int _closed;
    private long _watch = -1;

    public override string Remote { get; } = socket.RemoteEndPoint?.ToString() ?? "unknown";

    public override CancellationToken Closed => serverStopping;

    /// <summary>
    /// A reset, not a FIN: an evicted listener's socket may hold a capped send buffer's worth (seconds of
    /// stream) the client would otherwise drain at its own pace before it noticed; the reset frees that
    /// kernel memory and tells the client at once.
    /// </summary>
    public override void Abort() => Close(reset: true);

    public override Task WatchAsync()
    {
        if (!SocketWatcher.IsSupported)
        {
            return WatchByReceiveAsync();
        }
        // The process's epoll watcher hears the FIN or reset (and drops what the client sends): nothing is held for
        // it here but a slot (SocketWatcher).
        var watch = SocketWatcher.Shared.Watch(Socket.SafeHandle, this);
        Volatile.Write(ref _watch, watch);
        if (Volatile.Read(ref _closed) != 0)
        {
            // Closed meanwhile (by us, aborted, or the watch already heard the peer leave).
            StopWatch();
        }
        return Task.CompletedTask;
    }

    // On the watcher's thread: drain what the client sent; a FIN (a read of 0) or an error is its departure.
    void SocketWatcher.ITarget.OnReady(long watch)
    {
        if (Volatile.Read(ref _closed) != 0)
        {
            return;
        }
        var gone = false;
        for (var i = 0; i < MaxDrainReads && !gone; i++)
        {
            // The descriptor may be in blocking mode (SocketListenerSink leaves it so): MSG_DONTWAIT.
            var read = RawSend.Receive(Socket.SafeHandle, s_discard, out var error);
            if (error == SocketError.OperationAborted)
            {
                // Closed by us.
                return;
            }
            if (error == SocketError.WouldBlock)
            {
                break;
            }
            gone = error != SocketError.Success || read == 0;
        }
        // All read (or a flood's share of it): watched on. Closed meanwhile: gone anyway.
        if (!gone && SocketWatcher.Shared.Rearm(Socket.SafeHandle, watch))
        {
            return;
        }
        SocketWatcher.Shared.Remove(watch);
        if (Volatile.Read(ref _closed) == 0)
        {
            OnPeerGone();
        }
    }

    private void StopWatch()
    {
        if (Interlocked.Exchange(ref _watch, -1) is var watch and >= 0)
        {
            SocketWatcher.Shared.Remove(watch);
        }
    }

    private async Task WatchByReceiveAsync()
    {
        try
        {
            // Only a FIN makes a receive return 0 (a zero-byte receive may also wake without data). The
            // buffer is shared by every listener: what lands in it is never read.
            while (await Socket.ReceiveAsync(s_discard.AsMemory(), SocketFlags.None).ConfigureAwait(false) > 0)
            {
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // A reset, or closed by us.
        }
        if (Volatile.Read(ref _closed) == 0)
        {
            OnPeerGone();
        }
    }

    // The listener is done: closing the socket is what ends the pending receive.
    public override void StopWatching() => Close(reset: false);

    public override ValueTask CloseAsync()
    {
        Close(reset: false);
        return ValueTask.CompletedTask;
    }

    /// <summary>Once: a reset (SO_LINGER 0), or as Kestrel does, a FIN after what is queued; then the descriptor goes.</summary>
    private void Close(bool reset)
    {
        if (Interlocked.Exchange(ref _closed, 1) != 0)
        {
            return;
        }
        // The descriptor leaves the epoll set as it closes; its slot goes now.
        StopWatch();
        try
        {
            if (reset)
            {
                Socket.LingerState = new LingerOption(true, 0);
            }
            else
            {
                Socket.Shutdown(SocketShutdown.Both);
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
        }
        Socket.Dispose();
    }
}

/// <summary>A listener on a Kestrel connection: Kestrel's receive loop runs underneath and owns closing.</summary>
internal sealed class KestrelListenerConnection(ConnectionContext connection, Socket socket) : ListenerConnection(socket)
{
    public override string Remote { get; } = connection.RemoteEndPoint?.ToString() ?? "unknown";

    public override CancellationToken Closed => connection.ConnectionClosed;

    public override void Abort() => connection.Abort(new ConnectionAbortedException("Listener closed by the server"));

    /// <summary>
    /// Reads (and discards) whatever the client sends until its side closes: Kestrel's receive loop keeps
    /// running under the middleware, and its input completing is how a departed listener is noticed.
    /// </summary>
    public override async Task WatchAsync()
    {
        var input = connection.Transport.Input;
        try
        {
            while (true)
            {
                var result = await input.ReadAsync().ConfigureAwait(false);
                input.AdvanceTo(result.Buffer.End);
                if (result.IsCanceled)
                {
                    // Stopped from this side.
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
        OnPeerGone();
    }

    public override void StopWatching() => connection.Transport.Input.CancelPendingRead();

    // Returning from the middleware closes the connection (Kestrel shuts the socket down once both pipes are done).
    public override async ValueTask CloseAsync()
    {
        await connection.Transport.Output.CompleteAsync().ConfigureAwait(false);
        await connection.Transport.Input.CompleteAsync().ConfigureAwait(false);
    }
}
