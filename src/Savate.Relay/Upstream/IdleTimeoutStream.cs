namespace Savate.Relay.Upstream;

/// <summary>
/// Read-only wrapper over a live response body that fails a read which gets no byte in time:
/// <c>firstByteTimeout</c> until the first byte arrives, <c>idleReadTimeout</c> afterwards.
/// A timed-out read throws <see cref="IOException"/> (as a socket timeout would) and sets <see cref="TimedOut"/>;
/// the stream is unusable afterwards, like any network stream whose read was cancelled.
/// </summary>
internal sealed class IdleTimeoutStream : Stream
{
    private readonly Stream _inner;
    private readonly TimeSpan _firstByteTimeout;
    private readonly TimeSpan _idleReadTimeout;
    private readonly CancellationTokenSource _timeout;
    private readonly Action? _onFirstByte;
    private CancellationToken _linkedFor;
    private CancellationTokenSource? _linked;
    private long _bytesRead;

    public IdleTimeoutStream(Stream inner, TimeSpan firstByteTimeout, TimeSpan idleReadTimeout, TimeProvider timeProvider, Action? onFirstByte = null)
    {
        _inner = inner;
        _firstByteTimeout = firstByteTimeout;
        _idleReadTimeout = idleReadTimeout;
        _onFirstByte = onFirstByte;
        // Created with the TimeProvider so CancelAfter runs on the (possibly fake) clock.
        _timeout = new CancellationTokenSource(Timeout.InfiniteTimeSpan, timeProvider);
    }

    public bool TimedOut => TimeoutMessage is not null;

    public string? TimeoutMessage { get; private set; }

    public long BytesRead => Interlocked.Read(ref _bytesRead);

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        var token = GetToken(cancellationToken);
        _timeout.CancelAfter(_bytesRead == 0 ? _firstByteTimeout : _idleReadTimeout);
        int read;
        try
        {
            read = await _inner.ReadAsync(buffer, token).ConfigureAwait(false);
        }
        catch (Exception ex) when (_timeout.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            TimeoutMessage = _bytesRead == 0
                ? $"no first byte within {_firstByteTimeout.TotalMilliseconds:0} ms"
                : $"idle-read timeout: no data for {_idleReadTimeout.TotalMilliseconds:0} ms";
            throw new IOException($"Upstream read failed: {TimeoutMessage}.", new TimeoutException(TimeoutMessage, ex));
        }

        _timeout.CancelAfter(Timeout.InfiniteTimeSpan);
        if (read > 0 && Interlocked.Add(ref _bytesRead, read) == read)
        {
            _onFirstByte?.Invoke();
        }

        return read;
    }

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    public override int Read(byte[] buffer, int offset, int count) =>
        ReadAsync(buffer.AsMemory(offset, count)).AsTask().GetAwaiter().GetResult();

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _linked?.Dispose();
            _timeout.Dispose();
            _inner.Dispose();
        }

        base.Dispose(disposing);
    }

    private CancellationToken GetToken(CancellationToken callerToken)
    {
        if (!callerToken.CanBeCanceled)
        {
            return _timeout.Token;
        }

        // Hosts pass the same token on every read: link once, not per read.
        if (_linked is null || _linkedFor != callerToken)
        {
            _linked?.Dispose();
            _linked = CancellationTokenSource.CreateLinkedTokenSource(callerToken, _timeout.Token);
            _linkedFor = callerToken;
        }

        return _linked.Token;
    }
}
