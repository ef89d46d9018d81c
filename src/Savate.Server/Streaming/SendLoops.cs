using System.Collections.Concurrent;
using System.Diagnostics;

namespace Savate.Server.Streaming;

/// <summary>How a direct send went: all taken, the rest continuing in the background, or the peer is gone.</summary>
internal enum DirectSendResult
{
    Done,
    Pending,
    Failed,
}

/// <summary>
/// A sink that can take a batch with one non-blocking gather send from the calling thread (a bare socket:
/// one <c>sendmsg</c>). Listeners on such a sink are driven by the <see cref="SendLoops"/> instead of an async
/// loop of their own; every other sink (Kestrel's response, TLS, a fallback's ingest, a test's memory) keeps
/// the async path through <see cref="IListenerSink.WriteAsync"/>.
/// </summary>
internal interface IDirectListenerSink : IListenerSink
{
    /// <summary>
    /// Sends <paramref name="buffers"/> (<paramref name="bytes"/> in all, as the caller counted them) at once, without
    /// blocking. <see cref="DirectSendResult.Pending"/>: the
    /// kernel took part or nothing; the sink sends the rest when the socket is writable and then calls
    /// <see cref="Listener.OnDirectSendCompleted"/> (possibly before this returns). A sink that keeps the buffers past
    /// this call calls <see cref="Listener.RetainBatch"/> first (they may be borrowed from the walk's
    /// <see cref="SliceLease"/>); they then stay valid until that completion.
    /// </summary>
    DirectSendResult Send(ReadOnlySpan<ReadOnlyMemory<byte>> buffers, long bytes, Listener owner);
}

/// <summary>
/// The send loops: a small fixed set of threads (one per core) that drive every listener on a direct sink. Each
/// loop owns a share of each mount's listeners (<see cref="MountShare"/>). When a mount's flush fires, each loop
/// walks its share and makes one non-blocking send per listener that has data, with everything pending: no
/// task, continuation or allocation per listener, and no thread-pool work at all on the hot path. A listener
/// whose socket is full is parked (its sink finishes the send when the socket is writable) and rejoins the
/// walk once that is done. How long the walks take feeds the <see cref="FlushPacer"/>, which stretches the flush
/// interval when the loops are busy.
/// </summary>
internal sealed class SendLoops
{
    // One loop per core; SAVATE_SEND_LOOPS overrides it (for benchmarks: docs/benchmarks.md).
    private static readonly Lazy<SendLoops> s_shared = new(() => new SendLoops(
        int.TryParse(Environment.GetEnvironmentVariable("SAVATE_SEND_LOOPS"), out var n) && n is >= 1 and <= 64 ? n : Math.Clamp(Environment.ProcessorCount, 1, 16)));

    private readonly SendLoop[] _loops;

    public SendLoops(int count)
    {
        Pacer = new FlushPacer(count);
        _loops = new SendLoop[count];
        for (var i = 0; i < count; i++)
        {
            _loops[i] = new SendLoop(i, Pacer);
        }
    }

    /// <summary>The process's loops (started on first use).</summary>
    public static SendLoops Shared => s_shared.Value;

    public int Count => _loops.Length;

    public FlushPacer Pacer { get; }

    public SendLoop this[int index] => _loops[index];

    /// <summary>One share per loop, for a new mount.</summary>
    public MountShare[] CreateShares(Mount mount)
    {
        var shares = new MountShare[_loops.Length];
        for (var i = 0; i < shares.Length; i++)
        {
            shares[i] = new MountShare(mount, _loops[i]);
        }
        return shares;
    }
}

/// <summary>One send loop: a dedicated thread draining a queue of shares to walk and listeners to revisit.</summary>
internal sealed class SendLoop
{
    private readonly ConcurrentQueue<MountShare> _ready = new();
    private readonly AutoResetEvent _wake = new(false);
    private readonly FlushPacer _pacer;
    private readonly int _index;
    private int _sleeping;

    public SendLoop(int index, FlushPacer pacer)
    {
        _index = index;
        _pacer = pacer;
        var thread = new Thread(Run) { IsBackground = true, Name = $"savate-send-{index}" };
        thread.Start();
    }

    /// <summary>Queues <paramref name="share"/> for the loop (once until it is walked).</summary>
    public void Schedule(MountShare share)
    {
        if (Interlocked.Exchange(ref share.Queued, 1) != 0)
        {
            return;
        }
        _ready.Enqueue(share);
        if (Volatile.Read(ref _sleeping) != 0)
        {
            _wake.Set();
        }
    }

    private void Run()
    {
        LoopPriority.Lower();
        while (true)
        {
            // A full fence between saying so and looking: a producer enqueues, then reads _sleeping.
            Interlocked.Exchange(ref _sleeping, 1);
            if (_ready.IsEmpty)
            {
                _wake.WaitOne();
            }
            Volatile.Write(ref _sleeping, 0);
            // The pacer is told when the loop starts draining and when it rests, and counts the time between as busy,
            // window by window, including a drain still under way when a window closes. Each walk used to be reported as
            // it ended: at 10,000 listeners and more a walk lasts as long as a window or longer, so a window saw no walk,
            // one or two of them (load 0, 0.8 or 1.6 of its length), and the stretch swung between 1 and its bound every
            // second or so (docs/benchmarks.md, round 10). Wall time, not the loop's CPU time: a loop that waits for a
            // core is late all the same, and stretching then spares the machine (at 5,000: the same latency for 66% of a
            // core instead of 87% measured on the loops' CPU clock, docs/benchmarks.md round 4).
            _pacer.Begin(_index, Stopwatch.GetTimestamp());
            while (_ready.TryDequeue(out var share))
            {
                Volatile.Write(ref share.Queued, 0);
                try
                {
                    share.Walk();
                }
                catch (Exception e)
                {
                    // A bug in one mount's walk must not take every listener of the process with it.
                    Trace.TraceError($"savate: send loop {_index}: {e}");
                }
            }
            _pacer.End(_index, Stopwatch.GetTimestamp());
        }
    }
}

/// <summary>
/// A mount's listeners on one <see cref="SendLoop"/>. The list is the loop's alone; other threads hand it
/// new listeners and listeners to revisit (a parked send done, a kick, a move, a cancellation) through queues,
/// and a flush asks for a walk of the whole share.
/// </summary>
internal sealed class MountShare
{
    private readonly List<Listener> _listeners = [];
    private readonly ConcurrentQueue<Listener> _incoming = new();
    private readonly ConcurrentQueue<Listener> _revisit = new();
    private readonly SliceLease _lease = new();
    private int _flush;

    // Owned by the loop: whether the share is in its queue.
    internal int Queued;

    public MountShare(Mount mount, SendLoop loop)
    {
        Mount = mount;
        Loop = loop;
    }

    public Mount Mount { get; }

    public SendLoop Loop { get; }

    /// <summary>Listeners handed to this share and not yet ended.</summary>
    public int Count => Volatile.Read(ref _members);

    // Counted up before a listener is queued and down once it has left the list: a flush is never skipped
    // while a listener is on its way in.
    private int _members;

    /// <summary>A flush: every listener of the share gets what is pending.</summary>
    public void RequestFlush()
    {
        if (Volatile.Read(ref _members) == 0)
        {
            return;
        }
        Volatile.Write(ref _flush, 1);
        Loop.Schedule(this);
    }

    public void Add(Listener listener)
    {
        Interlocked.Increment(ref _members);
        _incoming.Enqueue(listener);
        Loop.Schedule(this);
    }

    public void Revisit(Listener listener)
    {
        _revisit.Enqueue(listener);
        Loop.Schedule(this);
    }

    /// <summary>On the loop's thread: new listeners joined and pumped, revisits pumped, then the walk if a flush asked.</summary>
    public void Walk()
    {
        try
        {
            WalkListeners();
        }
        finally
        {
            _lease.ReleaseAll();
        }
    }

    private void WalkListeners()
    {
        while (_incoming.TryDequeue(out var joined))
        {
            joined.ShareIndex = _listeners.Count;
            _listeners.Add(joined);
            Pump(joined);
        }
        while (_revisit.TryDequeue(out var listener))
        {
            // Ended already (a revisit can be queued twice), or not yet taken from the incoming queue.
            if (listener.ShareIndex >= 0 && listener.ShareIndex < _listeners.Count && ReferenceEquals(_listeners[listener.ShareIndex], listener))
            {
                Pump(listener);
            }
        }
        if (Interlocked.Exchange(ref _flush, 0) != 0)
        {
            // Backwards: an ended listener is swapped out with the last, which has been walked already.
            for (var i = _listeners.Count - 1; i >= 0; i--)
            {
                if (i < _listeners.Count)
                {
                    Pump(_listeners[i]);
                }
            }
        }
    }

    private void Pump(Listener listener)
    {
        bool ended;
        try
        {
            ended = listener.Pump(_lease);
        }
        catch (Exception e)
        {
            // A bug must cost one listener, not the share: it is closed and leaves.
            Trace.TraceError($"savate: listener {listener.Id} on {Mount.Path}: {e}");
            listener.Fail();
            ended = true;
        }
        if (ended)
        {
            var index = listener.ShareIndex;
            var last = _listeners.Count - 1;
            if (index != last)
            {
                _listeners[index] = _listeners[last];
                _listeners[index].ShareIndex = index;
            }
            _listeners.RemoveAt(last);
            listener.ShareIndex = -1;
            Interlocked.Decrement(ref _members);
            listener.CompleteDirect();
        }
    }
}

/// <summary>
/// Batching that adapts to load: the flush interval is <c>flush-interval</c> while the send loops keep up and
/// stretches, up to <c>max-flush-interval</c>, when they are busy (fewer, larger writes per listener; latency
/// grows gently instead of stalling). Every quarter second the busiest loop's share of that time spent draining
/// (walks and sends, in wall time, a drain under way counted up to the moment) decides: above 95% (its walks follow
/// each other with hardly a pause: it is falling behind), the interval grows in proportion (aiming at 85%: at most
/// a sixth more per quarter second); below 75%, it shrinks by a fifth.
/// </summary>
internal sealed class FlushPacer
{
    // Busy share of a loop (walking, sends included, in wall time) above which the interval stretches, what it aims for,
    // and below which it shrinks back. A loop that walks for 90% of each interval keeps up: the interval stays as
    // configured. With 85% / 70% / 60%, 5,000 listeners beside the load tool (whose threads take the loops' cores
    // now and then, which wall time counts) stretched the interval to about 110 ms: half the sends, but each larger
    // and dearer, p99 latency 174-211 ms against 120-131 ms now (docs/benchmarks.md, round 6).
    private const double StretchAbove = 0.95;
    private const double Target = 0.85;
    private const double ShrinkBelow = 0.75;

    // Per loop, under the lock: busy time counted in the current window, whether a drain is under way and when it began.
    private readonly long[] _busy;
    private readonly long[] _since;
    private readonly bool[] _draining;
    private readonly Lock _lock = new();
    private readonly TimeProvider _time;
    private readonly long _window;
    private long _windowStart;
    private double _factor = 1;
    private double _ceiling = 250.0 / 40;

    /// <param name="loops">How many loops report.</param>
    /// <param name="time">The clock busy times are measured with (its timestamps).</param>
    public FlushPacer(int loops, TimeProvider? time = null)
    {
        _busy = new long[loops];
        _since = new long[loops];
        _draining = new bool[loops];
        _time = time ?? TimeProvider.System;
        _window = _time.TimestampFrequency / 4;
        _windowStart = _time.GetTimestamp();
    }

    /// <summary>The configured bounds (server-wide keys): the stretch never exceeds their ratio.</summary>
    public void Configure(TimeSpan flushInterval, TimeSpan maxFlushInterval)
    {
        lock (_lock)
        {
            _ceiling = flushInterval <= TimeSpan.Zero ? 1 : Math.Max(1, maxFlushInterval / flushInterval);
            _factor = Math.Min(_factor, _ceiling);
        }
    }

    /// <summary>How far the interval is stretched now (1: not at all).</summary>
    public double Factor
    {
        get
        {
            Evaluate(_time.GetTimestamp());
            return Volatile.Read(ref _factor);
        }
    }

    /// <summary>The interval for a mount whose base is <paramref name="baseInterval"/> and bound <paramref name="maxInterval"/> (any one unit).</summary>
    public long Stretch(long baseInterval, long maxInterval)
    {
        var factor = Factor;
        return factor <= 1 ? baseInterval : Math.Min(Math.Max(baseInterval, maxInterval), (long)(baseInterval * factor));
    }

    /// <summary><paramref name="loop"/> starts draining its queue at <paramref name="at"/> (a timestamp of the pacer's clock).</summary>
    public void Begin(int loop, long at)
    {
        lock (_lock)
        {
            _since[loop] = at;
            _draining[loop] = true;
        }
    }

    /// <summary><paramref name="loop"/> has drained its queue at <paramref name="at"/> and rests.</summary>
    public void End(int loop, long at)
    {
        lock (_lock)
        {
            _busy[loop] += DrainingInWindow(loop, at);
            _draining[loop] = false;
        }
        Evaluate(at);
    }

    // Under the lock: how much of the loop's drain under way, up to `at`, falls in the current window (what fell in
    // windows already closed was counted when they closed); 0 while it rests.
    private long DrainingInWindow(int loop, long at) =>
        _draining[loop] ? Math.Max(0, at - Math.Max(_since[loop], _windowStart)) : 0;

    private void Evaluate(long now)
    {
        if (now - Volatile.Read(ref _windowStart) < _window)
        {
            return;
        }
        lock (_lock)
        {
            var elapsed = now - _windowStart;
            if (elapsed < _window)
            {
                return;
            }
            long busiest = 0;
            for (var i = 0; i < _busy.Length; i++)
            {
                var busy = _busy[i] + DrainingInWindow(i, now);
                _busy[i] = 0;
                busiest = Math.Max(busiest, busy);
            }
            _windowStart = now;
            var load = Math.Min(1, (double)busiest / elapsed);
            var factor = _factor;
            if (load > StretchAbove)
            {
                factor = Math.Min(_ceiling, factor * load / Target);
            }
            else if (load < ShrinkBelow)
            {
                // A fifth less per quarter second that passed (a long quiet spell undoes the stretch at once).
                factor = Math.Max(1, factor * Math.Pow(0.8, Math.Min(64, (double)elapsed / _window)));
            }
            Volatile.Write(ref _factor, factor);
        }
    }
}

/// <summary>
/// The send loops run at a slightly lower scheduling priority (nice +2 on Linux; <c>SAVATE_SEND_LOOP_NICE</c>
/// overrides it, 0 keeps the default) than the rest of the process: the fan-out is bulk work that keeps both cores
/// busy at a few thousand listeners, and a join (request, first bytes, on the thread pool), a source's read or an
/// admin request waiting behind it made new listeners wait: at 5,000 listeners, first byte p99 was 100-300 ms once
/// the load tool left the loops more of the machine; 35 ms at nice +2 (+5: 39-70 ms, but the loops then gave the
/// load tool so much that the pacer stretched; docs/benchmarks.md round 6). It costs the loops nothing while the
/// rest of the process is idle, which is nearly always.
/// </summary>
internal static partial class LoopPriority
{
    private static readonly int s_nice = int.TryParse(Environment.GetEnvironmentVariable("SAVATE_SEND_LOOP_NICE"), out var n) ? Math.Clamp(n, -20, 19) : 2;

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "setpriority", SetLastError = true)]
    private static partial int SetPriority(int which, uint who, int priority);

    [System.Runtime.InteropServices.LibraryImport("libc", EntryPoint = "gettid")]
    private static partial int GetTid();

    /// <summary>On the calling thread (a send loop's, once at its start): nice it. Failures are ignored (the loop runs at the default priority).</summary>
    public static void Lower()
    {
        if (s_nice == 0 || !OperatingSystem.IsLinux())
        {
            return;
        }
        try
        {
            // PRIO_PROCESS with a thread id: on Linux, the nice value is per thread.
            SetPriority(0, (uint)GetTid(), s_nice);
        }
        catch (Exception e) when (e is EntryPointNotFoundException or DllNotFoundException)
        {
        }
    }
}
