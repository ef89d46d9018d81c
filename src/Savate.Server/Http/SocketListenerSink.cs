using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Threading.Tasks.Sources;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// A listener's raw connection: each batch goes from the ring's slices to the socket in one gather send,
/// with no copy and none of Kestrel's response machinery (the response pipe held a second, per-listener
/// copy of the ring's bytes: 878 MB RSS at 10,000 listeners, docs/benchmarks.md). Nothing is allocated per
/// send: the segment list and the socket operation are reused. Kestrel's send loop, where there is one, stays
/// idle (this sink never writes to the transport's output); closing goes through the connection.
/// </summary>
internal sealed class SocketListenerSink : IDirectListenerSink, IDisposable
{
    private readonly ListenerConnection _connection;
    private readonly Socket _socket;
    private readonly SafeSocketHandle _handle;
    // The gather list for the socket's own send methods (the response head, the join, an async sink, or what the kernel
    // did not take at once): dropped when its send is done, since the send loops' sends go through RawSend with the
    // batch itself and most listeners never need it again (56 bytes a listener, not kept for its life).
    private List<ArraySegment<byte>>? _segments;

    private List<ArraySegment<byte>> Segments => _segments ??= new(Listener.MaxBatchSlices + 1);
    // Only for a send the kernel could not take at once (a slow or stuck reader): most listeners never need one.
    private SocketSender? _sender;
    private DirectSender? _directSender;
    private Listener? _owner;

    public SocketListenerSink(ListenerConnection connection)
    {
        _connection = connection;
        _socket = connection.Socket;
        _handle = _socket.SafeHandle;
        if (RawSend.IsSupported)
        {
            // Sends are tried at once and never wait in the kernel (MSG_DONTWAIT on each): what does not fit goes the
            // async way. The descriptor stays as accepted: a non-blocking Socket would take the runtime's socket
            // context (about 150 bytes, and a registration with its engine) for the listener's life.
            return;
        }
        try
        {
            // Sends are tried at once and never wait in the kernel (a 503 included): what does not fit
            // goes the async way.
            _socket.Blocking = false;
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            // Already gone; the first send will say so.
        }
    }

    public ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken)
    {
        FillSegments(buffers.Span);
        return Segments.Count == 0 ? new ValueTask<bool>(true) : SendAsync();
    }

    // The segment list for a send: the non-empty buffers. Slices and join headers are byte[]-backed; anything else is
    // copied (never on the hot path).
    private void FillSegments(ReadOnlySpan<ReadOnlyMemory<byte>> buffers)
    {
        Segments.Clear();
        foreach (var buffer in buffers)
        {
            if (!buffer.IsEmpty)
            {
                Segments.Add(MemoryMarshal.TryGetArray(buffer, out var segment) ? segment : new ArraySegment<byte>(buffer.ToArray()));
            }
        }
    }

    /// <summary>Sends a whole response head (or a short response).</summary>
    public ValueTask<bool> WriteAsync(byte[] bytes)
    {
        Segments.Clear();
        Segments.Add(new ArraySegment<byte>(bytes));
        return SendAsync();
    }

    /// <summary>Aborting the connection disposes the socket, which fails a pending send at once.</summary>
    public void Abort() => _connection.Abort();

    public void Dispose()
    {
        _sender?.Dispose();
        _directSender?.Dispose();
    }

    /// <summary>
    /// The send loops' path (<see cref="SendLoops"/>): one non-blocking gather send from the loop's thread. What
    /// the kernel did not take goes through a reused <see cref="SocketAsyncEventArgs"/> (the socket engine waits
    /// for writability), and the listener is told when it is all sent; nothing is allocated either way.
    /// </summary>
    public DirectSendResult Send(ReadOnlySpan<ReadOnlyMemory<byte>> buffers, long bytes, Listener owner)
    {
        if (RawSend.IsSupported)
        {
            return SendRaw(buffers, bytes, owner);
        }
        FillSegments(buffers);
        if (Segments.Count == 0)
        {
            return DirectSendResult.Done;
        }
        var sent = SendSegments(out var error);
        if (error == SocketError.Success && !Trim(sent))
        {
            _segments = null;
            return DirectSendResult.Done;
        }
        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            _segments = null;
            return DirectSendResult.Failed;
        }
        return Park(owner);
    }

    // The direct send through RawSend: no segment list unless the kernel leaves something for later.
    private DirectSendResult SendRaw(ReadOnlySpan<ReadOnlyMemory<byte>> buffers, long bytes, Listener owner)
    {
        var sent = RawSend.Send(_handle, buffers, out var error);
        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            return DirectSendResult.Failed;
        }
        if (sent == bytes)
        {
            return DirectSendResult.Done;
        }
        FillSegments(buffers);
        Trim(sent);
        return Park(owner);
    }

    // What the kernel did not take (left in _segments) goes on in the background; the owner hears when it is done.
    private DirectSendResult Park(Listener owner)
    {
        // The batch now outlives this call (and the walk that lent its slices).
        owner.RetainBatch();
        _owner = owner;
        _directSender ??= new DirectSender(this);
        ContinueDirect();
        return DirectSendResult.Pending;
    }

    // Sends the rest until the socket engine has to wait (then OnDirectCompleted goes on) or it is all sent.
    private void ContinueDirect()
    {
        var args = _directSender!;
        while (true)
        {
            bool pending;
            try
            {
                args.BufferList = Segments;
                pending = _socket.SendAsync(args);
            }
            catch (Exception e) when (e is ObjectDisposedException or SocketException or InvalidOperationException)
            {
                FinishDirect(false);
                return;
            }
            if (pending || !StepDirect())
            {
                return;
            }
        }
    }

    private void OnDirectCompleted()
    {
        if (StepDirect())
        {
            ContinueDirect();
        }
    }

    // One completed send: true when more is left to send.
    private bool StepDirect()
    {
        var args = _directSender!;
        args.BufferList = null;
        if (args.SocketError != SocketError.Success)
        {
            FinishDirect(false);
            return false;
        }
        if (Trim(args.BytesTransferred))
        {
            return true;
        }
        FinishDirect(true);
        return false;
    }

    private void FinishDirect(bool ok)
    {
        _segments = null;
        var owner = _owner!;
        _owner = null;
        owner.OnDirectSendCompleted(ok);
    }

    private sealed class DirectSender(SocketListenerSink sink) : SocketAsyncEventArgs(unsafeSuppressExecutionContextFlow: true)
    {
        protected override void OnCompleted(SocketAsyncEventArgs e) => sink.OnDirectCompleted();
    }

    /// <summary>
    /// One non-blocking gather send (sendmsg) from the calling thread: with the send buffer capped, a reader
    /// that keeps up always has room for a flush interval's bytes, so this is the whole send for nearly
    /// every listener, with no socket operation object and no completion. Whatever the kernel did not take
    /// is sent asynchronously.
    /// </summary>
    private ValueTask<bool> SendAsync()
    {
        var sent = SendSegments(out var error);
        if (error == SocketError.Success && !Trim(sent))
        {
            _segments = null;
            return new ValueTask<bool>(true);
        }
        if (error is not (SocketError.Success or SocketError.WouldBlock))
        {
            _segments = null;
            return new ValueTask<bool>(false);
        }
        return SendRestAsync();
    }

    // One non-blocking send of the segment list from the calling thread (a disposed socket is a failure).
    private int SendSegments(out SocketError error)
    {
        if (RawSend.IsSupported)
        {
            // The list is at most a head and a batch (RawSend.MaxBuffers); a longer one is sent in part, and the rest later.
            var buffers = new SegmentBuffers();
            var count = Math.Min(Segments.Count, RawSend.MaxBuffers);
            for (var i = 0; i < count; i++)
            {
                buffers[i] = Segments[i];
            }
            return RawSend.Send(_handle, ((Span<ReadOnlyMemory<byte>>)buffers)[..count], out error);
        }
        try
        {
            return _socket.Send(Segments, SocketFlags.None, out error);
        }
        catch (ObjectDisposedException)
        {
            error = SocketError.OperationAborted;
            return 0;
        }
    }

    [System.Runtime.CompilerServices.InlineArray(RawSend.MaxBuffers)]
    private struct SegmentBuffers
    {
        private ReadOnlyMemory<byte> _element;
    }

    private async ValueTask<bool> SendRestAsync()
    {
        _sender ??= new SocketSender();
        try
        {
            while (true)
            {
                int sent;
                try
                {
                    sent = await _sender.SendAsync(_socket, Segments).ConfigureAwait(false);
                }
                finally
                {
                    // Not holding the slices' arrays (they go back to the pool) until the next send.
                    _sender.BufferList = null;
                }
                // A stream socket's async send completes with everything sent or an error; trim anyway.
                if (!Trim(sent))
                {
                    return true;
                }
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or InvalidOperationException)
        {
            return false;
        }
        finally
        {
            _segments = null;
        }
    }

    /// <summary>Drops what was sent from the front of the list; true while something is left.</summary>
    private bool Trim(int sent)
    {
        var i = 0;
        while (i < Segments.Count && sent >= Segments[i].Count)
        {
            sent -= Segments[i].Count;
            i++;
        }
        if (i == Segments.Count)
        {
            return false;
        }
        Segments.RemoveRange(0, i);
        if (sent > 0)
        {
            var first = Segments[0];
            Segments[0] = first.Slice(sent);
        }
        return true;
    }

    /// <summary>A reusable gather send (as Kestrel's SocketSender): no allocation per operation.</summary>
    private sealed class SocketSender : SocketAsyncEventArgs, IValueTaskSource<int>
    {
        private ManualResetValueTaskSourceCore<int> _core;

        public SocketSender()
            : base(unsafeSuppressExecutionContextFlow: true)
        {
            _core.RunContinuationsAsynchronously = true;
        }

        public ValueTask<int> SendAsync(Socket socket, List<ArraySegment<byte>> buffers)
        {
            _core.Reset();
            BufferList = buffers;
            if (socket.SendAsync(this))
            {
                return new ValueTask<int>(this, _core.Version);
            }
            var error = SocketError;
            var sent = BytesTransferred;
            return error == SocketError.Success
                ? new ValueTask<int>(sent)
                : ValueTask.FromException<int>(new SocketException((int)error));
        }

        protected override void OnCompleted(SocketAsyncEventArgs e)
        {
            var error = SocketError;
            var sent = BytesTransferred;
            if (error == SocketError.Success)
            {
                _core.SetResult(sent);
            }
            else
            {
                _core.SetException(new SocketException((int)error));
            }
        }

        public int GetResult(short token) => _core.GetResult(token);

        public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

        public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
            _core.OnCompleted(continuation, state, token, flags);
    }
}
