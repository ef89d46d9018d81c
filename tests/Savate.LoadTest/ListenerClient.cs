using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;

namespace Savate.LoadTest;

/// <summary>
/// One listener on a raw socket. HTTP/1.0 is sent on purpose: the server then answers with a
/// close-delimited body, so the body is the stream itself. With HTTP/1.1 chunked framing every
/// listener would have to strip chunk-size lines, and a marker split by one would be lost.
/// Every listener scans its bytes for the send-time marker (a vectorized IndexOf over the bytes just
/// received); only sampled ones keep their first bytes to check the stream framing.
/// For the rate measure, each listener records the first and the last marker it sees while
/// <see cref="LoadRun.Phase"/> is the steady window: where the marker sits in its own body stream,
/// its offset in the source's stream, when it arrived and when it was sent (<see cref="Window"/>).
/// </summary>
internal sealed class ListenerClient
{
    public const int BufferSize = 16 * 1024;
    public const int Carry = Marker.Size - 1;
    public const int Stride = BufferSize + Marker.Size;

    private readonly int _index;
    private readonly byte[] _pool;
    private readonly int _offset;
    private readonly LoadRun _run;
    private byte[]? _head = new byte[2048];
    private int _headLength;
    private int _carry;

    // The steady-window snapshots, written only by this listener's receive loop and read by LoadRun
    // through a sequence lock (odd while a write is in progress), so no reader sees a torn snapshot.
    private int _windowVersion;
    private MarkerSeen _windowFirst;
    private MarkerSeen _windowLast;
    private long _windowMarkers;

    public ListenerClient(int index, byte[] pool, LoadRun run, bool slow, bool sampled)
    {
        _index = index;
        _pool = pool;
        _offset = index * Stride;
        _run = run;
        IsSlow = slow;
        Verifier = sampled ? new FramingVerifier(run.Options.Format) : null;
    }

    public bool IsSlow { get; }
    public FramingVerifier? Verifier { get; }
    public long ConnectStart { get; private set; }
    public long FirstByte { get; private set; }
    public long FirstMarker { get; private set; }
    public long LastReceive { get; private set; }
    public long Bytes;
    public long BodyBytes { get; private set; }
    public long SteadyStartBytes = -1;
    public long SteadyEndBytes = -1;
    public int Status { get; private set; }
    public long Markers { get; private set; }
    public int Stalls { get; private set; }
    public long MaxGapTicks { get; private set; }
    public long EndedAt { get; private set; }
    public string? EndReason { get; private set; }
    public bool Connected => Status == 200;

    public int Index => _index;

    // The epoll path (EpollReceivers): the socket, whether the request went out, the run's end.
    public Socket? Socket { get; private set; }
    public bool RequestSent { get; set; }
    private TaskCompletionSource? _done;
    private int _finished;

    /// <summary>Where the next read goes: the listener's slot in the shared pinned pool.</summary>
    public Memory<byte> ReceiveBuffer => _pool.AsMemory(_offset + Marker.Size, IsSlow ? 2048 : BufferSize);

    /// <summary>
    /// Connects and reads on <paramref name="receivers"/>' threads when given (a plain listener that reads as fast
    /// as it can), else with an async receive loop of its own (TLS, slow listeners).
    /// </summary>
    public Task RunAsync(IPEndPoint endpoint, byte[] request, EpollReceivers? receivers, CancellationToken stop) =>
        receivers is not null && !IsSlow && !_run.Options.Tls ? RunOnReceiver(endpoint, request, receivers) : RunAsync(endpoint, request, stop);

    private Task RunOnReceiver(IPEndPoint endpoint, byte[] request, EpollReceivers receivers)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        Socket = socket;
        _done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _run.Register(socket);
        ConnectStart = Stopwatch.GetTimestamp();
        bool connected;
        try
        {
            if (_run.Options.SpreadAddresses && endpoint.Address.Equals(IPAddress.Loopback))
            {
                socket.Bind(new IPEndPoint(new IPAddress([127, 1, (byte)(_index / 250), (byte)(1 + _index % 250)]), 0));
            }
            socket.Blocking = false;
            try
            {
                // Synchronous and non-blocking: the socket never meets the runtime's socket engine.
                socket.Connect(endpoint);
                connected = true;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.WouldBlock or SocketError.InProgress)
            {
                connected = false;
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            Finish(Stopwatch.GetTimestamp(), e is SocketException se ? $"socket: {se.SocketErrorCode}" : e.GetType().Name);
            return _done.Task;
        }
        RequestSent = connected;
        receivers.Add(this, socket, request, connected);
        return _done.Task;
    }

    /// <summary>On a receiver's thread: the run ends (<paramref name="reason"/> null: the tool is stopping). Once.</summary>
    public void Finish(long now, string? reason)
    {
        if (_done is null || Interlocked.Exchange(ref _finished, 1) != 0)
        {
            return;
        }
        End(now, reason);
        _done.TrySetResult();
    }

    /// <summary>One read of <paramref name="n"/> bytes into <see cref="ReceiveBuffer"/> at <paramref name="now"/>.</summary>
    public void Received(int n, long now)
    {
        if (FirstByte == 0)
        {
            FirstByte = now;
        }
        else
        {
            var gap = now - LastReceive;
            if (gap > MaxGapTicks)
            {
                MaxGapTicks = gap;
            }
            if (gap > Stopwatch.Frequency && !IsSlow)
            {
                Stalls++;
            }
        }
        LastReceive = now;
        Bytes += n;
        OnBytes(n, now);
    }

    private async Task RunAsync(IPEndPoint endpoint, byte[] request, CancellationToken stop)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
        if (IsSlow)
        {
            // A player on a slow link: the kernel must not soak up seconds of stream on our side.
            socket.ReceiveBufferSize = 16 * 1024;
        }
        _run.Register(socket);
        SslStream? tls = null;
        ConnectStart = Stopwatch.GetTimestamp();
        try
        {
            if (_run.Options.SpreadAddresses && endpoint.Address.Equals(IPAddress.Loopback))
            {
                // Players come from many addresses, not one: each listener from its own loopback address
                // (127.1.x.y), so per-address limits see what they would see in the field.
                socket.Bind(new IPEndPoint(new IPAddress([127, 1, (byte)(_index / 250), (byte)(1 + _index % 250)]), 0));
            }
            await socket.ConnectAsync(endpoint, stop).ConfigureAwait(false);
            if (_run.Options.Tls)
            {
                // https:// --url: a TLS listener as a player is (HTTP/1.x over ALPN http/1.1), certificate not checked.
                tls = new SslStream(new NetworkStream(socket, ownsSocket: false), leaveInnerStreamOpen: false);
                await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions
                {
                    TargetHost = _run.Options.Url.Host,
                    ApplicationProtocols = [SslApplicationProtocol.Http11],
                    RemoteCertificateValidationCallback = static (_, _, _, _) => true,
                }, stop).ConfigureAwait(false);
                await tls.WriteAsync(request, stop).ConfigureAwait(false);
            }
            else
            {
                await socket.SendAsync(request, SocketFlags.None, stop).ConfigureAwait(false);
            }
            var memory = ReceiveBuffer;
            long slowStart = 0;
            while (true)
            {
                var n = tls is null
                    ? await socket.ReceiveAsync(memory, SocketFlags.None, stop).ConfigureAwait(false)
                    : await tls.ReadAsync(memory, stop).ConfigureAwait(false);
                var now = Stopwatch.GetTimestamp();
                if (n == 0)
                {
                    End(now, Status == 0 ? "closed before a response" : Status != 200 ? $"HTTP {Status}" : "closed by server");
                    return;
                }
                if (FirstByte == 0)
                {
                    slowStart = now;
                }
                Received(n, now);
                if (IsSlow)
                {
                    // Token bucket: sleep until the bytes read so far fit the slow rate.
                    var due = slowStart + (long)(Bytes * (double)Stopwatch.Frequency / _run.Options.SlowBytesPerSecond);
                    var wait = due - Stopwatch.GetTimestamp();
                    if (wait > 0)
                    {
                        await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency), stop).ConfigureAwait(false);
                    }
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException or IOException or AuthenticationException)
        {
            End(Stopwatch.GetTimestamp(), stop.IsCancellationRequested ? null : e is SocketException se ? $"socket: {se.SocketErrorCode}" : e.GetType().Name);
        }
        finally
        {
            tls?.Dispose();
            socket.Dispose();
        }
    }

    private void End(long now, string? reason)
    {
        if (EndedAt == 0 && reason is not null && !_run.Stopping)
        {
            EndedAt = now;
            EndReason = reason;
        }
    }

    private void OnBytes(int n, long now)
    {
        var start = _offset + Marker.Size;
        var received = _pool.AsSpan(start, n);
        if (_head is not null)
        {
            // Response head: at most 2 KB, kept until the blank line.
            var take = Math.Min(n, _head.Length - _headLength);
            received[..take].CopyTo(_head.AsSpan(_headLength));
            _headLength += take;
            var end = _head.AsSpan(0, _headLength).IndexOf("\r\n\r\n"u8);
            if (end < 0)
            {
                if (_headLength == _head.Length)
                {
                    Status = -1;
                    _head = null;
                }
                return;
            }
            Status = ParseStatus(_head.AsSpan(0, _headLength));
            // The body starts right after the blank line; the head buffer may hold only part of this read.
            var bodyStart = end + 4 - (_headLength - take);
            _head = null;
            received = received[bodyStart..];
            start += bodyStart;
            _carry = 0;
        }
        // Where the scan window (carry + new bytes) starts in this listener's own body stream.
        var windowBodyOffset = BodyBytes - _carry;
        BodyBytes += received.Length;
        Verifier?.Feed(received);
        var inWindow = _run.Phase == LoadRun.PhaseSteady;

        // Scan the carry (the tail of the previous read) plus the new bytes for markers.
        var window = _pool.AsSpan(start - _carry, _carry + received.Length);
        var consumed = 0;
        while (true)
        {
            var at = window[consumed..].IndexOf(Marker.Magic);
            if (at < 0)
            {
                break;
            }
            at += consumed;
            if (at + Marker.Size > window.Length)
            {
                consumed = at;
                break;
            }
            var sent = Marker.ReadTimestamp(window[at..]);
            Markers++;
            if (inWindow)
            {
                RecordInWindow(new MarkerSeen(windowBodyOffset + at, Marker.ReadStreamOffset(window[at..]), now, sent));
            }
            if (FirstMarker == 0)
            {
                FirstMarker = now;
            }
            // Frames sent before this listener asked are the join burst (the GOP so far): not latency.
            if (sent >= ConnectStart && !IsSlow)
            {
                _run.Latency.Add(now - sent);
            }
            consumed = at + Marker.Size;
        }
        var keepFrom = Math.Max(consumed, window.Length - Carry);
        var keep = window.Length - keepFrom;
        window[keepFrom..].CopyTo(_pool.AsSpan(_offset + Marker.Size - keep, keep));
        _carry = keep;
    }

    private void RecordInWindow(MarkerSeen seen)
    {
        // Full fence: the odd version is visible before any of the fields change.
        var version = _windowVersion;
        Interlocked.Exchange(ref _windowVersion, version + 1);
        if (_windowMarkers == 0)
        {
            _windowFirst = seen;
        }
        _windowLast = seen;
        _windowMarkers++;
        Volatile.Write(ref _windowVersion, version + 2);
    }

    /// <summary>
    /// The first and last markers this listener saw in the steady window and how many it saw there,
    /// read as one consistent snapshot (safe from any thread, at any time).
    /// </summary>
    public (MarkerSeen First, MarkerSeen Last, long Count) Window
    {
        get
        {
            var spin = new SpinWait();
            while (true)
            {
                var before = Volatile.Read(ref _windowVersion);
                if ((before & 1) == 0)
                {
                    var first = _windowFirst;
                    var last = _windowLast;
                    var count = _windowMarkers;
                    Interlocked.MemoryBarrier();
                    if (Volatile.Read(ref _windowVersion) == before)
                    {
                        return (first, last, count);
                    }
                }
                spin.SpinOnce();
            }
        }
    }

    private static int ParseStatus(ReadOnlySpan<byte> head)
    {
        // "HTTP/1.x NNN" or "ICY NNN"
        var space = head.IndexOf((byte)' ');
        if (space < 0 || head.Length < space + 4)
        {
            return -1;
        }
        var code = head.Slice(space + 1, 3);
        return (code[0] - '0') * 100 + (code[1] - '0') * 10 + (code[2] - '0');
    }
}

/// <summary>
/// One marker as a listener saw it: its first byte's offset in the listener's own body stream and in
/// the source's stream, the Stopwatch time of the read that completed it, and its send time.
/// </summary>
internal readonly record struct MarkerSeen(long Own, long Source, long Received, long Sent);
