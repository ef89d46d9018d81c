namespace Savate.Server.Streaming;

/// <summary>Counters of a mount. Hot counters are per listener and summed on demand; these are per slice or per event.</summary>
internal sealed class MountStats
{
    private readonly object _rateLock = new();
    private long _bytesIn;
    private long _bytesOutClosed;
    private long _skips;
    private readonly long[] _evictions = new long[EvictionReasons.Length];
    private readonly long[] _sourceEnds = new long[SourceEndReasons.Length];
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

    /// <summary>Every eviction, whatever its reason.</summary>
    public long Evictions
    {
        get
        {
            long sum = 0;
            for (var i = 0; i < _evictions.Length; i++)
            {
                sum += Interlocked.Read(ref _evictions[i]);
            }
            return sum;
        }
    }

    /// <summary>The <c>reason</c> tag of each <see cref="EvictionReason"/>, in enum order.</summary>
    public static readonly string[] EvictionReasons = ["evict-lag", "lapped", "stuck", "stuck-tcp-pressure"];

    /// <summary>
    /// The <c>reason</c> tag of each way a source's session ends (<see cref="SourceEnd"/> in enum order), then
    /// <c>refused</c>: claimed the mount but never streamed (not FLV/TS after sniffing, nothing sent in time).
    /// </summary>
    public static readonly string[] SourceEndReasons = ["completed", "timed-out", "bad-data", "connection-lost", "cancelled", "over-limit", "refused"];

    public long EvictionsFor(EvictionReason reason) => Interlocked.Read(ref _evictions[(int)reason]);

    /// <summary>Sources gone, by <see cref="SourceEndReasons"/> index.</summary>
    public long SourceEndsAt(int index) => Interlocked.Read(ref _sourceEnds[index]);

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

    public void OnEviction(EvictionReason reason) => Interlocked.Increment(ref _evictions[(int)reason]);

    /// <summary>A source let go of the mount; null: it never streamed.</summary>
    public void OnSourceEnded(SourceEnd? end) => Interlocked.Increment(ref _sourceEnds[end is { } e ? (int)e : SourceEndReasons.Length - 1]);

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

/// <summary>Why a listener was evicted (metrics tag <c>reason</c>, <see cref="MountStats.EvictionReasons"/>).</summary>
internal enum EvictionReason
{
    /// <summary>Later than evict-lag at its own lag check.</summary>
    Lag,
    /// <summary>Lapped by the ring: the data it needed was gone.</summary>
    Lapped,
    /// <summary>Stuck in a write (its peer stopped reading) for longer than evict-lag.</summary>
    Stuck,
    /// <summary>Stuck in a write for longer than max-lag while the kernel's TCP memory was under pressure.</summary>
    StuckPressure,
}
