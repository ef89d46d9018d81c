namespace Savate.Server.Streaming;

/// <summary>
/// A generation signal: waiters take <see cref="WaitTask"/> (before they look at the state they wait
/// on, so no wake-up is lost), and <see cref="Set"/> completes it and starts a new generation.
/// Continuations run asynchronously, so the setter never runs listener code on its own stack.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource _current = NewSource();

    public Task WaitTask => Volatile.Read(ref _current).Task;

    public void Set()
    {
        var previous = Interlocked.Exchange(ref _current, NewSource());
        previous.TrySetResult();
    }

    private static TaskCompletionSource NewSource() => new(TaskCreationOptions.RunContinuationsAsynchronously);
}

/// <summary>
/// Coalesces a mount's "new data" notifications so that listeners wake at most once per flush interval:
/// the first publish after a quiet period wakes them at once, later ones within the interval are folded
/// into one wake-up at its end. This is what turns one write per source read into one write per
/// listener per interval (FIELD-NOTES 5.2: the cost is syscalls, not bytes).
/// </summary>
internal sealed class FlushScheduler : IDisposable
{
    private readonly AsyncSignal _signal;
    private readonly TimeProvider _time;
    private readonly ITimer _timer;
    private readonly object _lock = new();
    private long _interval;
    private long _lastFire = long.MinValue;
    private bool _pending;

    public FlushScheduler(AsyncSignal signal, TimeProvider time, TimeSpan interval)
    {
        _signal = signal;
        _time = time;
        _interval = (long)(interval.TotalSeconds * time.TimestampFrequency);
        _timer = time.CreateTimer(static s => ((FlushScheduler)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public TimeSpan Interval
    {
        set => Interlocked.Exchange(ref _interval, (long)(value.TotalSeconds * _time.TimestampFrequency));
    }

    /// <summary>Data was published: wake listeners now, or at the end of the current interval.</summary>
    public void Publish()
    {
        bool fireNow;
        lock (_lock)
        {
            if (_pending)
            {
                return;
            }
            var now = _time.GetTimestamp();
            var interval = Interlocked.Read(ref _interval);
            var due = _lastFire == long.MinValue ? now : _lastFire + interval;
            fireNow = due <= now;
            if (fireNow)
            {
                _lastFire = now;
            }
            else
            {
                _pending = true;
                _timer.Change(TimeSpan.FromSeconds((double)(due - now) / _time.TimestampFrequency), Timeout.InfiniteTimeSpan);
            }
        }
        if (fireNow)
        {
            _signal.Set();
        }
    }

    /// <summary>Wake listeners now (state change: source ended, mount closing).</summary>
    public void FireNow() => _signal.Set();

    private void Fire()
    {
        lock (_lock)
        {
            _pending = false;
            _lastFire = _time.GetTimestamp();
        }
        _signal.Set();
    }

    public void Dispose() => _timer.Dispose();
}
