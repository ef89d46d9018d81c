using System.Runtime.CompilerServices;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Streaming.Ingest;

namespace Savate.Server.Streaming;

/// <summary>What a listener joining now would be served.</summary>
internal enum MountAvailability
{
    /// <summary>A source is on, or just left and may come back within the grace period.</summary>
    Playable,
    /// <summary>No source: nothing to send.</summary>
    NoSource,
}

/// <summary>
/// A mount point: its ring, its current source, its listeners and its counters. No HTTP types here:
/// sources hand it slices through an <see cref="IContainerIngest"/>, listeners read its ring through
/// <see cref="Listener"/>.
/// </summary>
internal sealed class Mount : IDisposable
{
    private readonly object _lock = new();
    private readonly object _publishLock = new();
    private readonly HashSet<Listener> _listeners = [];
    private readonly FlushScheduler _flush;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly Action<Mount>? _onIdle;
    private JoinHeaders? _headers;
    private SourceSession? _source;
    private MountFormat _detectedFormat;
    private ITimer? _graceTimer;
    private bool _inGrace;
    private long _epoch;
    private long _endedBefore;
    private bool _disposed;

    public Mount(MountConfig config, ServerConfig server, SlicePool pool, TimeProvider time, ILogger logger, bool isDynamic = false, Action<Mount>? onIdle = null)
    {
        Config = config;
        Server = server;
        Pool = pool;
        IsDynamic = isDynamic;
        _time = time;
        _logger = logger;
        _onIdle = onIdle;
        Ring = new Ring((long)config.Buffer.TotalMilliseconds, config.BufferBytes);
        _flush = new FlushScheduler(Signal, time, server.FlushInterval);
    }

    public string Path => Config.Path;

    public MountConfig Config { get; private set; }

    public ServerConfig Server { get; private set; }

    public bool IsDynamic { get; }

    public SlicePool Pool { get; }

    public Ring Ring { get; }

    public AsyncSignal Signal { get; } = new();

    public MediaTimeline Timeline { get; } = new();

    public MountStats Stats { get; } = new();

    public ILogger Logger => _logger;

    public TimeProvider Time => _time;

    /// <summary>The configured format, else the one the current (or last) source turned out to send.</summary>
    public MountFormat Format => Config.Format != MountFormat.Auto ? Config.Format : (MountFormat)Volatile.Read(ref Unsafe.As<MountFormat, int>(ref _detectedFormat));

    public JoinHeaders? Headers
    {
        get => Volatile.Read(ref _headers);
        set => Volatile.Write(ref _headers, value);
    }

    public SourceSession? Source => Volatile.Read(ref _source);

    public bool InGrace
    {
        get
        {
            lock (_lock)
            {
                return _inGrace;
            }
        }
    }

    public int ListenerCount
    {
        get
        {
            lock (_lock)
            {
                return _listeners.Count;
            }
        }
    }

    /// <summary>The epoch a listener joining now belongs to.</summary>
    public long Epoch => Volatile.Read(ref _epoch);

    public MountAvailability Availability
    {
        get
        {
            lock (_lock)
            {
                return _source is not null || _inGrace ? MountAvailability.Playable : MountAvailability.NoSource;
            }
        }
    }

    /// <summary>True once the stream a listener of <paramref name="epoch"/> was following has ended for good.</summary>
    public bool IsEnded(long epoch) => epoch < Volatile.Read(ref _endedBefore);

    /// <summary>Applies a reloaded configuration (listeners and the source stay).</summary>
    public void Reconfigure(MountConfig config, ServerConfig server)
    {
        Config = config;
        Server = server;
        Ring.BufferMilliseconds = (long)config.Buffer.TotalMilliseconds;
        Ring.MaxBytes = config.BufferBytes;
        _flush.Interval = server.FlushInterval;
    }

    /// <summary>Claims the mount for a source; false (409) when another source has it.</summary>
    public bool TryClaim(SourceSession source)
    {
        lock (_lock)
        {
            if (_disposed || _source is not null)
            {
                return false;
            }
            _source = source;
            _inGrace = false;
            _graceTimer?.Dispose();
            _graceTimer = null;
        }
        Stats.OnSourceConnected();
        return true;
    }

    /// <summary>
    /// Fixes the format of the claimed mount. False (415) when the mount is declared with the other
    /// format, or when listeners are following a stream of the other format.
    /// </summary>
    public bool TrySetFormat(MountFormat format)
    {
        lock (_lock)
        {
            if (Config.Format != MountFormat.Auto)
            {
                return Config.Format == format;
            }
            if (_detectedFormat != MountFormat.Auto && _detectedFormat != format && _listeners.Count > 0)
            {
                return false;
            }
            _detectedFormat = format;
            return true;
        }
    }

    /// <summary>The source is gone: listeners are held for the grace period, then closed.</summary>
    public void Release(SourceSession source)
    {
        lock (_lock)
        {
            if (_source != source)
            {
                return;
            }
            _source = null;
            _inGrace = true;
            _graceTimer?.Dispose();
            _graceTimer = _disposed ? null : _time.CreateTimer(static s => ((Mount)s!).OnGraceExpired(), this, Config.Grace, Timeout.InfiniteTimeSpan);
        }
        _flush.FireNow();
    }

    private void OnGraceExpired()
    {
        int closed;
        lock (_lock)
        {
            if (_source is not null || !_inGrace)
            {
                return;
            }
            _inGrace = false;
            closed = _listeners.Count;
            _epoch++;
            Volatile.Write(ref _endedBefore, _epoch);
            Ring.ClearJoinPoints();
            if (closed == 0 && Config.Format == MountFormat.Auto)
            {
                _detectedFormat = MountFormat.Auto;
            }
        }
        StreamingLog.MountIdle(_logger, Path, closed);
        _flush.FireNow();
        _onIdle?.Invoke(this);
    }

    public bool TryAddListener(Listener listener)
    {
        lock (_lock)
        {
            if (_disposed || (Config.MaxListeners is { } max && _listeners.Count >= max))
            {
                return false;
            }
            _listeners.Add(listener);
        }
        Stats.OnListenerConnected();
        return true;
    }

    public void RemoveListener(Listener listener)
    {
        lock (_lock)
        {
            if (!_listeners.Remove(listener))
            {
                return;
            }
        }
        Stats.OnListenerClosed(listener.BytesSent);
    }

    /// <summary>A copy of the listener list (status, monitor).</summary>
    public Listener[] SnapshotListeners()
    {
        lock (_lock)
        {
            return [.. _listeners];
        }
    }

    /// <summary>Builds the pending slice and appends it to the ring, then schedules a listener wake-up.</summary>
    public void Publish(SliceBuilder builder)
    {
        lock (_publishLock)
        {
            var slice = builder.Build(Ring.Head, Timeline.HasOutput ? Timeline.LastTime : 0);
            if (slice is null)
            {
                return;
            }
            if (slice.IsKeyframe)
            {
                Stats.OnKeyframe(slice.StartTime);
            }
            Ring.Append(slice);
        }
        _flush.Publish();
    }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            _graceTimer?.Dispose();
            _epoch++;
            Volatile.Write(ref _endedBefore, _epoch);
        }
        _flush.FireNow();
        _flush.Dispose();
        Ring.Dispose();
    }
}
