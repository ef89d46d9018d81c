namespace Savate.Server.Streaming;

/// <summary>Counters of a mount. Hot counters are per listener and summed on demand; these are per slice or per event.</summary>
internal sealed class MountStats
{
    private readonly object _rateLock = new();
    private long _bytesIn;
    private long _bytesOutClosed;
    private long _skips;
    private long _evictions;
    private long _sourceConnections;
    private long _listenerConnections;
    private long _lastKeyframeTime = long.MinValue;
    private long _keyframeInterval;
    private long _rateWindowStart = Environment.TickCount64;
    private long _rateWindowBytes;
    private long _bitrate;

    public long BytesIn => Interlocked.Read(ref _bytesIn);

    /// <summary>Bytes sent to listeners that have left.</summary>
    public long BytesOutClosed => Interlocked.Read(ref _bytesOutClosed);

    public long Skips => Interlocked.Read(ref _skips);

    public long Evictions => Interlocked.Read(ref _evictions);

    public long SourceConnections => Interlocked.Read(ref _sourceConnections);

    public long ListenerConnections => Interlocked.Read(ref _listenerConnections);

    /// <summary>Media time between the last two keyframes (ms), 0 before two were seen.</summary>
    public long KeyframeIntervalMs => Interlocked.Read(ref _keyframeInterval);

    /// <summary>Input bits per second over the last complete window of about two seconds.</summary>
    public long InputBitrate
    {
        get
        {
            lock (_rateLock)
            {
                RollWindow(Environment.TickCount64);
                return _bitrate;
            }
        }
    }

    public void AddBytesIn(long bytes)
    {
        Interlocked.Add(ref _bytesIn, bytes);
        lock (_rateLock)
        {
            RollWindow(Environment.TickCount64);
            _rateWindowBytes += bytes;
        }
    }

    public void OnKeyframe(long mediaTime)
    {
        var last = Interlocked.Exchange(ref _lastKeyframeTime, mediaTime);
        if (last != long.MinValue && mediaTime > last)
        {
            Interlocked.Exchange(ref _keyframeInterval, mediaTime - last);
        }
    }

    public void OnListenerClosed(long bytesSent) => Interlocked.Add(ref _bytesOutClosed, bytesSent);

    public void OnSkip() => Interlocked.Increment(ref _skips);

    public void OnEviction() => Interlocked.Increment(ref _evictions);

    public void OnSourceConnected() => Interlocked.Increment(ref _sourceConnections);

    public void OnListenerConnected() => Interlocked.Increment(ref _listenerConnections);

    private void RollWindow(long now)
    {
        const long Window = 2000;
        var elapsed = now - _rateWindowStart;
        if (elapsed < Window)
        {
            return;
        }
        // A window with no bytes at all, or more than one window ago, means the rate is now zero.
        _bitrate = elapsed < 2 * Window ? _rateWindowBytes * 8 * 1000 / elapsed : 0;
        _rateWindowBytes = 0;
        _rateWindowStart = now;
    }
}
