namespace Savate.TestSupport;

/// <summary>
/// A clock that moves only when told to (as YARP's TestTimeProvider): <see cref="Advance"/> moves it and
/// fires every timer that came due, in due order, on the caller's thread.
/// </summary>
public sealed class ManualTimeProvider : TimeProvider
{
    private readonly object _lock = new();
    private readonly List<ManualTimer> _timers = [];
    private DateTimeOffset _now;
    private long _timestamp;

    public ManualTimeProvider(DateTimeOffset? start = null)
    {
        _now = start ?? new DateTimeOffset(2024, 1, 1, 0, 0, 0, TimeSpan.Zero);
    }

    /// <summary>Ticks per second of <see cref="GetTimestamp"/>: TimeSpan ticks, so conversions are exact.</summary>
    public override long TimestampFrequency => TimeSpan.TicksPerSecond;

    /// <summary>
    /// The step of the clock timers count on, as system timers count on Environment.TickCount64 (4 ms steps on
    /// Linux), coarser than <see cref="GetTimestamp"/>: a timer armed between two steps counts from the step before
    /// and can fire up to a step early, never at the step it was armed in. Zero: timers fire exactly on time.
    /// </summary>
    public TimeSpan TimerGranularity { get; set; }

    /// <summary>Timers created and not disposed.</summary>
    public int ActiveTimers
    {
        get
        {
            lock (_lock)
            {
                return _timers.Count;
            }
        }
    }

    public override DateTimeOffset GetUtcNow()
    {
        lock (_lock)
        {
            return _now;
        }
    }

    public override long GetTimestamp()
    {
        lock (_lock)
        {
            return _timestamp;
        }
    }

    public void SetUtcNow(DateTimeOffset now)
    {
        lock (_lock)
        {
            _now = now;
        }
    }

    public override ITimer CreateTimer(TimerCallback callback, object? state, TimeSpan dueTime, TimeSpan period)
    {
        var timer = new ManualTimer(this, callback, state);
        lock (_lock)
        {
            _timers.Add(timer);
        }
        timer.Change(dueTime, period);
        return timer;
    }

    /// <summary>Moves the clock forward, firing due timers (periodic ones as often as they came due) outside the lock.</summary>
    public void Advance(TimeSpan delta)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(delta, TimeSpan.Zero);
        long target;
        lock (_lock)
        {
            target = _timestamp + delta.Ticks;
        }
        while (true)
        {
            ManualTimer? due = null;
            lock (_lock)
            {
                foreach (var timer in _timers)
                {
                    if (timer.DueAt is { } at && at <= target && (due is null || at < due.DueAt))
                    {
                        due = timer;
                    }
                }
                if (due is null)
                {
                    _now += TimeSpan.FromTicks(target - _timestamp);
                    _timestamp = target;
                    return;
                }
                var at2 = due.DueAt!.Value;
                _now += TimeSpan.FromTicks(at2 - _timestamp);
                _timestamp = at2;
                due.DueAt = due.Period > 0 ? at2 + due.Period : null;
            }
            due.Fire();
        }
    }

    // Under _lock.
    private long DueAt(long due)
    {
        var step = TimerGranularity.Ticks;
        if (step <= 0 || due == 0)
        {
            return _timestamp + due;
        }
        // The first step at which the coarse clock (the timestamp rounded down to a step) reached its value at arming plus due.
        var at = _timestamp / step * step + due;
        return (at + step - 1) / step * step;
    }

    private void Remove(ManualTimer timer)
    {
        lock (_lock)
        {
            _timers.Remove(timer);
        }
    }

    private sealed class ManualTimer(ManualTimeProvider owner, TimerCallback callback, object? state) : ITimer
    {
        // Guarded by owner._lock.
        public long? DueAt { get; set; }

        public long Period { get; private set; }

        private bool _disposed;

        public bool Change(TimeSpan dueTime, TimeSpan period)
        {
            lock (owner._lock)
            {
                if (_disposed)
                {
                    return false;
                }
                DueAt = dueTime == Timeout.InfiniteTimeSpan ? null : owner.DueAt(Math.Max(0, dueTime.Ticks));
                Period = period == Timeout.InfiniteTimeSpan || period <= TimeSpan.Zero ? 0 : period.Ticks;
                return true;
            }
        }

        public void Fire() => callback(state);

        public void Dispose()
        {
            lock (owner._lock)
            {
                _disposed = true;
                DueAt = null;
            }
            owner.Remove(this);
        }

        public ValueTask DisposeAsync()
        {
            Dispose();
            return ValueTask.CompletedTask;
        }
    }
}
