using System.Threading.Tasks.Sources;

namespace Savate.Server.Streaming;

/// <summary>
/// A generation signal. Two ways to wait, both free of lost wake-ups:
/// <list type="bullet">
/// <item><see cref="WaitTask"/>: take it before looking at the state you wait on; <see cref="Set"/> completes
/// it. Allocates (a task, and a continuation per awaiter), so it is for rare waits (a join, a relay).</item>
/// <item>A <see cref="SignalWaiter"/> per waiter: read <see cref="Generation"/> before looking at the state,
/// then <see cref="SignalWaiter.WaitAsync"/>. Nothing is allocated per wait: this is the listeners' path,
/// one wait per listener per flush interval (the <c>Task.WaitAsync(token)</c> it replaces cost about 150 B
/// per listener per wake in the fan-out benchmark).</item>
/// </list>
/// Continuations run asynchronously, so the setter never runs listener code on its own stack.
/// </summary>
internal sealed class AsyncSignal
{
    private TaskCompletionSource? _current;
    private SignalWaiter? _waiters;
    private long _generation;

    public Task WaitTask
    {
        get
        {
            var current = Volatile.Read(ref _current);
            if (current is not null)
            {
                return current.Task;
            }
            // Created on demand: a Set with no task waiter allocates nothing.
            var created = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            return (Interlocked.CompareExchange(ref _current, created, null) ?? created).Task;
        }
    }

    public long Generation => Volatile.Read(ref _generation);

    /// <summary>Also told of every <see cref="Set"/> (a mount's send-loop shares); must only queue work, never run it.</summary>
    public Action? OnSet { get; set; }

    public void Set()
    {
        Interlocked.Increment(ref _generation);
        OnSet?.Invoke();
        Interlocked.Exchange(ref _current, null)?.TrySetResult();
        var waiter = Interlocked.Exchange(ref _waiters, null);
        // The stack is newest first; wake in arrival order.
        SignalWaiter? ordered = null;
        while (waiter is not null)
        {
            var next = waiter.Next;
            waiter.Next = ordered;
            ordered = waiter;
            waiter = next;
        }
        while (ordered is not null)
        {
            var next = ordered.Next;
            ordered.Next = null;
            Volatile.Write(ref ordered.Queued, 0);
            ordered.TrySignal();
            ordered = next;
        }
    }

    /// <summary>Puts <paramref name="waiter"/> on the list the next <see cref="Set"/> wakes, unless it is on it already.</summary>
    internal void Enqueue(SignalWaiter waiter)
    {
        if (Interlocked.CompareExchange(ref waiter.Queued, 1, 0) != 0)
        {
            return;
        }
        var head = Volatile.Read(ref _waiters);
        while (true)
        {
            waiter.Next = head;
            var seen = Interlocked.CompareExchange(ref _waiters, waiter, head);
            if (ReferenceEquals(seen, head))
            {
                return;
            }
            head = seen;
        }
    }
}

/// <summary>
/// One waiter's reusable wait on an <see cref="AsyncSignal"/>: an <see cref="IValueTaskSource"/> reset for each
/// wait, with the cancellation token registered once for the waiter's lifetime rather than once per wait.
/// One waiter, one wait at a time. A wait may end early (a late wake-up meant for an earlier wait): callers
/// re-check their state after each wait, as they must anyway.
/// </summary>
internal sealed class SignalWaiter : IValueTaskSource, IDisposable
{
    private readonly AsyncSignal _signal;
    private readonly CancellationToken _cancellationToken;
    private CancellationTokenRegistration _registration;
    private ManualResetValueTaskSourceCore<bool> _core;
    // 0: armed (a wait is pending), 1: completed or idle.
    private int _state = 1;

    // Owned by AsyncSignal: the intrusive list link, and whether this waiter is on the list.
    internal SignalWaiter? Next;
    internal int Queued;

    public SignalWaiter(AsyncSignal signal, CancellationToken cancellationToken)
    {
        _signal = signal;
        _cancellationToken = cancellationToken;
        _core.RunContinuationsAsynchronously = true;
        if (cancellationToken.CanBeCanceled)
        {
            _registration = cancellationToken.UnsafeRegister(static s => ((SignalWaiter)s!).TrySignal(), this);
        }
    }

    /// <summary>Completes when the signal is set after <paramref name="generation"/> was read, or on cancellation (throws).</summary>
    public ValueTask WaitAsync(long generation)
    {
        _cancellationToken.ThrowIfCancellationRequested();
        _core.Reset();
        Volatile.Write(ref _state, 0);
        _signal.Enqueue(this);
        // A Set between reading the generation and enqueueing did not see this waiter: catch it here.
        if (_signal.Generation != generation || _cancellationToken.IsCancellationRequested)
        {
            TrySignal();
        }
        return new ValueTask(this, _core.Version);
    }

    internal void TrySignal()
    {
        if (Interlocked.CompareExchange(ref _state, 1, 0) == 0)
        {
            _core.SetResult(true);
        }
    }

    public void GetResult(short token)
    {
        _core.GetResult(token);
        _cancellationToken.ThrowIfCancellationRequested();
    }

    public ValueTaskSourceStatus GetStatus(short token) => _core.GetStatus(token);

    public void OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _core.OnCompleted(continuation, state, token, flags);

    public void Dispose() => _registration.Dispose();
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

    private readonly FlushPacer? _pacer;
    private long _maxInterval;

    public FlushScheduler(AsyncSignal signal, TimeProvider time, TimeSpan interval, FlushPacer? pacer = null, TimeSpan? maxInterval = null)
    {
        _signal = signal;
        _time = time;
        _pacer = pacer;
        _interval = (long)(interval.TotalSeconds * time.TimestampFrequency);
        _maxInterval = (long)((maxInterval ?? interval).TotalSeconds * time.TimestampFrequency);
        _timer = time.CreateTimer(static s => ((FlushScheduler)s!).Fire(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    public TimeSpan Interval
    {
        set => Interlocked.Exchange(ref _interval, (long)(value.TotalSeconds * _time.TimestampFrequency));
    }

    /// <summary>How far the pacer may stretch the interval when the send loops are busy (max-flush-interval).</summary>
    public TimeSpan MaxInterval
    {
        set => Interlocked.Exchange(ref _maxInterval, (long)(value.TotalSeconds * _time.TimestampFrequency));
    }

    /// <summary>The interval in effect now: the configured one, stretched by the pacer under load.</summary>
    public TimeSpan CurrentInterval => TimeSpan.FromSeconds((double)CurrentTicks() / _time.TimestampFrequency);

    private long CurrentTicks()
    {
        var interval = Interlocked.Read(ref _interval);
        return _pacer is null ? interval : _pacer.Stretch(interval, Interlocked.Read(ref _maxInterval));
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
            var interval = CurrentTicks();
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
