using System.Diagnostics;
using System.Threading.Tasks.Sources;

namespace Savate.Server.Streaming;

/// <summary>Where a listener's bytes go: an HTTP response, a socket, or a test's memory.</summary>
internal interface IListenerSink
{
    /// <summary>Writes the buffers in order, as one batch, and flushes. False when the peer is gone.</summary>
    ValueTask<bool> WriteAsync(ReadOnlyMemory<ReadOnlyMemory<byte>> buffers, CancellationToken cancellationToken);

    /// <summary>Closes the connection now; a pending write completes (false or with an exception).</summary>
    void Abort();
}

internal enum ListenerEnd
{
    /// <summary>The stream ended (no source after the grace period) or the mount closed.</summary>
    StreamEnded,
    /// <summary>The client went away.</summary>
    ClientGone,
    /// <summary>Later than evict-lag.</summary>
    EvictedLag,
    /// <summary>Lapped by the ring: the data it needed was gone.</summary>
    EvictedLapped,
    /// <summary>The server is stopping or the request was aborted.</summary>
    Cancelled,
    /// <summary>An operator kicked it (admin API).</summary>
    Kicked,
    /// <summary>An operator moved it to another mount (admin API): its connection goes on there.</summary>
    Moved,
}

/// <summary>
/// One listener's cursor over its mount's ring, and its send loop. Each wake-up sends everything from
/// the cursor to the head in one batch (one flush). Lag is media time between the head and the cursor:
/// beyond max-lag the cursor skips to the newest keyframe; beyond evict-lag, or lapped, the listener is
/// disconnected. A listener that stops reading only ever holds references to slices the ring holds anyway
/// (or, if lapped, the few it was writing), so it cannot grow memory or slow anyone else.
/// </summary>
internal sealed class Listener : IValueTaskSource<ListenerEnd>
{
    // A batch holds at most this many slices (a flush interval's worth is one to three); a listener
    // catching up loops without waiting.
    public const int MaxBatchSlices = 8;

    // How long a listener may wait for its first keyframe before it is told the stream ended.
    private static readonly TimeSpan JoinTimeout = TimeSpan.FromSeconds(30);

    private static long s_nextId;

    private readonly Mount _mount;
    private readonly IListenerSink _sink;
    // The batch being sent: its slices and their buffers. On a send loop a batch is built in the walk's
    // SliceLease (its slices borrowed, its arrays the loop's), and these arrays exist only for the join, an
    // async sink, or a batch that outlives its walk (RetainBatch): about 320 bytes less per listener, and no
    // per-listener arrays to write on each send.
    private Slice?[]? _held;
    private ReadOnlyMemory<byte>[]? _batch;
    private int _heldCount;
    // The held slices are borrowed from the send loop's walk (SliceLease): not this listener's references.
    private bool _borrowed;
    // The lease lending the batch while Pump sends it (RetainBatch copies from it).
    private SliceLease? _lending;
    private long _next = -1;
    private long _pendingTime = long.MinValue;
    private long _bytesSent;
    private int _writing;
    private int _evicted;
    private JoinHeaders? _headers;
    private long _behindSince = long.MinValue;
    private long _lastSkip = long.MinValue;

    private readonly bool _continuation;
    private Mount? _movedTo;

    // Driven by a send loop (a direct sink): the loop's share, and how the listener ends.
    private IDirectListenerSink? _direct;
    private MountShare? _share;
    // RunAsync's wait for the send loop to let go: on the listener itself, no task or completion source of its own.
    private ManualResetValueTaskSourceCore<ListenerEnd> _done = new() { RunContinuationsAsynchronously = true };
    private int _completed;
    private ListenerEnd _endReason;
    private long _inFlightBytes;
    private int _parked;
    private int _cancelled;
    private int _failed;

    /// <summary>Where the listener sits in its share's list (the send loop's alone); -1 when not on one.</summary>
    internal int ShareIndex = -1;

    public Listener(Mount mount, IListenerSink sink, string remote, string? userAgent = null)
    {
        _mount = mount;
        _sink = sink;
        Remote = remote;
        UserAgent = userAgent;
        Id = Interlocked.Increment(ref s_nextId);
        ConnectedAt = DateTimeOffset.UtcNow;
        Epoch = mount.Epoch;
    }

    /// <summary>The same client, moved to <paramref name="mount"/>: it already has a container header, so its join sends only the configuration.</summary>
    private Listener(Listener moved, Mount mount)
        : this(mount, moved._sink, moved.Remote, moved.UserAgent)
    {
        Id = moved.Id;
        ConnectedAt = moved.ConnectedAt;
        // One that had not joined yet has had no container header: it joins like any new listener.
        _continuation = moved._continuation || moved._next >= 0;
        Interlocked.Add(ref _bytesSent, moved.BytesSent);
        Skips = moved.Skips;
    }

    public Mount Mount => _mount;

    /// <summary>True for the listener through which a mount plays another one (a fallback or a move carrier), not a client.</summary>
    public bool IsFeed => _sink is Feeds.IngestSink;

    /// <summary>Where an operator moved this listener, once the run returned <see cref="ListenerEnd.Moved"/>.</summary>
    public Mount? MovedTo => Volatile.Read(ref _movedTo);

    /// <summary>
    /// Asks the listener to leave for <paramref name="carrier"/>: it stops taking slices from this mount at
    /// once (a batch already in flight completes) and the run returns <see cref="ListenerEnd.Moved"/>.
    /// </summary>
    public bool RequestMove(Mount carrier)
    {
        if (Interlocked.CompareExchange(ref _movedTo, carrier, null) is not null)
        {
            return false;
        }
        Poke();
        return true;
    }

    /// <summary>The listener that continues this one's connection on <see cref="MovedTo"/> (same id, bytes and skips so far).</summary>
    public Listener ContinueOnMovedMount() => new(this, MovedTo ?? throw new InvalidOperationException("Not moved"));

    public long Id { get; }

    public string Remote { get; }

    public string? UserAgent { get; }

    public DateTimeOffset ConnectedAt { get; }

    public long Epoch { get; }

    public long BytesSent => Interlocked.Read(ref _bytesSent);

    public int Skips { get; private set; }

    /// <summary>Media time between the ring's head and what this listener has not yet had confirmed sent.</summary>
    public long LagMilliseconds
    {
        get
        {
            var pending = Volatile.Read(ref _pendingTime);
            var head = _mount.Ring.HeadTime;
            return pending == long.MinValue || head == long.MinValue ? 0 : Math.Max(0, head - pending);
        }
    }

    public bool IsWriting => Volatile.Read(ref _writing) != 0;

    /// <summary>
    /// Called by the lag monitor: a listener stuck in a write (its peer stopped reading) never reaches
    /// its own lag check, so it is evicted from outside once later than evict-lag (max-lag while the kernel's
    /// TCP memory is under pressure: its send buffer is what a stuck listener holds).
    /// </summary>
    public bool EvictIfStuck(bool memoryPressure = false)
    {
        var limit = memoryPressure ? _mount.Config.MaxLag : _mount.Config.EvictLag;
        if (IsWriting && LagMilliseconds > (long)limit.TotalMilliseconds)
        {
            Evict(ListenerEnd.EvictedLag, memoryPressure ? EvictionReason.StuckPressure : EvictionReason.Stuck);
            return true;
        }
        return false;
    }

    /// <summary>Runs the listener until it ends: joins, then sends until the stream ends, it is evicted, kicked or moved, its client leaves, or the token is cancelled.</summary>
    public Task<ListenerEnd> RunAsync(CancellationToken cancellationToken)
    {
        PrepareJoin();
        return RunAfterJoinAsync(JoinAsync(cancellationToken), cancellationToken);
    }

    /// <summary>
    /// Runs the listener as <see cref="RunAsync(CancellationToken)"/> does, ended by <see cref="Cancel"/> instead of a
    /// token (Http/RawListener). On a direct sink whose join completes at once (a keyframe is in the ring: the usual
    /// case), what is awaited from then on is the listener itself: no state machine is kept for the listener's life
    /// (192 bytes each). A join that waits, or an async sink, runs as <see cref="RunAsync(CancellationToken)"/>.
    /// </summary>
    public ValueTask<ListenerEnd> RunAsync()
    {
        PrepareJoin();
        var join = JoinAsync(CancellationToken.None);
        if (_sink is not IDirectListenerSink direct || !join.IsCompletedSuccessfully)
        {
            return new ValueTask<ListenerEnd>(RunAfterJoinAsync(join, CancellationToken.None));
        }
        if (!join.Result)
        {
            ReleaseHeld();
            return new ValueTask<ListenerEnd>(EndBeforeJoining());
        }
        // The pieces of RunAfterJoinAsync's finally that matter here are done: the join's write released what it
        // held, and a listener on a share releases its own as it leaves it (Pump, Fail, or a parked send's completion).
        JoinShare(direct);
        return new ValueTask<ListenerEnd>(this, _done.Version);
    }

    private void PrepareJoin()
    {
        _held = new Slice?[MaxBatchSlices];
        _batch = new ReadOnlyMemory<byte>[MaxBatchSlices + 1];
    }

    // Why a listener ended without joining.
    private ListenerEnd EndBeforeJoining() =>
        Volatile.Read(ref _evicted) is var e and not 0 ? (ListenerEnd)e
        : Volatile.Read(ref _movedTo) is not null ? ListenerEnd.Moved
        : Volatile.Read(ref _cancelled) != 0 ? ListenerEnd.Cancelled
        : _next < 0 ? ListenerEnd.StreamEnded : ListenerEnd.ClientGone;

    /// <summary>
    /// After the join, a listener on a direct sink is driven by its mount's share on a send loop (SendLoops): it has
    /// no loop, wait or continuation of its own until it ends (<see cref="CompleteDirect"/>).
    /// </summary>
    private void JoinShare(IDirectListenerSink direct)
    {
        _direct = direct;
        // Batches are built in the walk's lease from here (the join's are sent and released).
        _held = null;
        _batch = null;
        _share = _mount.ShareFor(Id);
        _share.Add(this);
    }

    private async Task<ListenerEnd> RunAfterJoinAsync(Task<bool> join, CancellationToken cancellationToken)
    {
        try
        {
            if (!await join.ConfigureAwait(false))
            {
                return EndBeforeJoining();
            }
            if (_sink is IDirectListenerSink direct)
            {
                // Here rather than in a method of its own: each level of awaiting is a state machine per listener.
                using var registration = cancellationToken.UnsafeRegister(static s => ((Listener)s!).OnCancelled(), this);
                JoinShare(direct);
                return await new ValueTask<ListenerEnd>(this, _done.Version).ConfigureAwait(false);
            }
            // One reusable wait for the listener's lifetime, the token registered once: a wake-up
            // allocates nothing (Task.WaitAsync(token) cost ~150 B per listener per wake).
            using var waiter = new SignalWaiter(_mount.Signal, cancellationToken);
            while (true)
            {
                var generation = _mount.Signal.Generation;
                if (Volatile.Read(ref _evicted) == (int)ListenerEnd.Kicked)
                {
                    return ListenerEnd.Kicked;
                }
                if (Volatile.Read(ref _movedTo) is not null)
                {
                    return ListenerEnd.Moved;
                }
                if (Volatile.Read(ref _cancelled) != 0)
                {
                    return ListenerEnd.Cancelled;
                }
                var count = Gather(out var end, null, _held!, _batch!);
                if (end is { } reason)
                {
                    return reason;
                }
                if (count == 0)
                {
                    if (_mount.IsEnded(Epoch))
                    {
                        return ListenerEnd.StreamEnded;
                    }
                    await waiter.WaitAsync(generation).ConfigureAwait(false);
                    continue;
                }
                if (!await WriteBatchAsync(count, cancellationToken).ConfigureAwait(false))
                {
                    return Volatile.Read(ref _evicted) is var e and not 0 ? (ListenerEnd)e : ListenerEnd.ClientGone;
                }
            }
        }
        catch (OperationCanceledException)
        {
            return Volatile.Read(ref _evicted) is var e and not 0 ? (ListenerEnd)e : ListenerEnd.Cancelled;
        }
        catch (Exception) when (Volatile.Read(ref _evicted) != 0)
        {
            return (ListenerEnd)Volatile.Read(ref _evicted);
        }
        finally
        {
            ReleaseHeld();
        }
    }

    private void OnCancelled() => Cancel();

    /// <summary>
    /// Ends the listener as a cancellation of <see cref="RunAsync(CancellationToken)"/>'s token does (its connection is gone, the server
    /// is stopping), for an owner that holds no token source per listener (Http/ListenerConnection): it leaves at its
    /// next step, or at once when it is waiting. Before the run, the run ends as it starts. A write in
    /// progress is not interrupted: the owner aborts the connection for that.
    /// </summary>
    public void Cancel()
    {
        Volatile.Write(ref _cancelled, 1);
        Poke();
    }

    /// <summary>Something changed that the listener must notice now (kick, move, cancellation).</summary>
    private void Poke()
    {
        if (Volatile.Read(ref _share) is { } share)
        {
            share.Revisit(this);
        }
        else
        {
            _mount.Signal.Set();
        }
    }

    /// <summary>
    /// On the send loop's thread: sends what is pending (a listener catching up loops while it fills
    /// batches), applying the lag policy. Returns true when the listener is done.
    /// </summary>
    internal bool Pump(SliceLease lease)
    {
        if (Volatile.Read(ref _parked) != 0)
        {
            return false;
        }
        while (true)
        {
            ListenerEnd? end = Volatile.Read(ref _evicted) is var e and not 0 ? (ListenerEnd)e
                : Volatile.Read(ref _movedTo) is not null ? ListenerEnd.Moved
                : Volatile.Read(ref _failed) != 0 ? ListenerEnd.ClientGone
                : Volatile.Read(ref _cancelled) != 0 ? ListenerEnd.Cancelled
                : null;
            var batch = lease.Batch;
            var count = end is null ? Gather(out end, lease, lease.Held, batch) : 0;
            if (end is null && count == 0 && _mount.IsEnded(Epoch))
            {
                end = ListenerEnd.StreamEnded;
            }
            if (end is { } reason)
            {
                ReleaseHeld();
                _endReason = reason;
                return true;
            }
            if (count == 0)
            {
                return false;
            }
            long bytes = 0;
            for (var i = 0; i < count; i++)
            {
                bytes += batch[i].Length;
            }
            var full = _heldCount == MaxBatchSlices;
            _inFlightBytes = bytes;
            Volatile.Write(ref _writing, 1);
            Volatile.Write(ref _parked, 1);
            _lending = lease;
            var result = _direct!.Send(batch.AsSpan(0, count), bytes, this);
            _lending = null;
            Array.Clear(batch, 0, count);
            if (result == DirectSendResult.Pending)
            {
                // The sink calls OnDirectSendCompleted when the socket has taken the rest.
                return false;
            }
            FinishDirectSend(result == DirectSendResult.Done);
            if (result == DirectSendResult.Done && !full && !_mount.IsEnded(Epoch))
            {
                return false;
            }
            // Failed: the next turn ends it. A full batch: more is pending (a listener catching up). The stream ended:
            // the next turn ends it once all is sent, since the flush that said so may have been folded into this one
            // (two requests before one walk) and no other walk would come.
        }
    }

    /// <summary>
    /// Called by a direct sink before it keeps the batch past <see cref="IDirectListenerSink.Send"/> (a send left for
    /// the socket engine): slices borrowed from the walk become this listener's own references, since the walk
    /// lets go of its own at its end.
    /// </summary>
    internal void RetainBatch()
    {
        if (!_borrowed)
        {
            return;
        }
        var lent = _lending!.Held;
        var own = _held ??= new Slice?[MaxBatchSlices];
        for (var i = 0; i < _heldCount; i++)
        {
            var slice = lent[i]!;
            if (!slice.TryAddRef())
            {
                // The lease holds a reference for the whole walk, so this cannot happen.
                throw new InvalidOperationException($"Slice {slice.Sequence} released while borrowed.");
            }
            own[i] = slice;
        }
        _borrowed = false;
    }

    /// <summary>A parked send is done (from the sink's completion, any thread): the listener rejoins its loop's walk.</summary>
    internal void OnDirectSendCompleted(bool ok)
    {
        FinishDirectSend(ok);
        // Null only when the listener already left after a fault (Fail): nothing to rejoin.
        Volatile.Read(ref _share)?.Revisit(this);
    }

    private void FinishDirectSend(bool ok)
    {
        Volatile.Write(ref _writing, 0);
        ReleaseHeld();
        if (ok)
        {
            Interlocked.Add(ref _bytesSent, _inFlightBytes);
            var head = _mount.Ring.StartTimeOf(_next);
            Volatile.Write(ref _pendingTime, head ?? _mount.Ring.HeadTime);
        }
        else
        {
            Volatile.Write(ref _failed, 1);
        }
        Volatile.Write(ref _parked, 0);
    }

    /// <summary>On the send loop's thread, after a fault in <see cref="Pump"/>: the connection is closed and the listener ends.</summary>
    internal void Fail()
    {
        _endReason = ListenerEnd.ClientGone;
        if (Volatile.Read(ref _parked) == 0)
        {
            ReleaseHeld();
        }
        _sink.Abort();
    }

    /// <summary>On the send loop's thread, once the listener left its share: the run returns.</summary>
    internal void CompleteDirect()
    {
        Volatile.Write(ref _share, null);
        if (Interlocked.Exchange(ref _completed, 1) == 0)
        {
            _done.SetResult(_endReason);
        }
    }

    ListenerEnd IValueTaskSource<ListenerEnd>.GetResult(short token) => _done.GetResult(token);

    ValueTaskSourceStatus IValueTaskSource<ListenerEnd>.GetStatus(short token) => _done.GetStatus(token);

    void IValueTaskSource<ListenerEnd>.OnCompleted(Action<object?> continuation, object? state, short token, ValueTaskSourceOnCompletedFlags flags) =>
        _done.OnCompleted(continuation, state, token, flags);

    /// <summary>Waits for a join point, then sends the join headers and the keyframe slice.</summary>
    private async Task<bool> JoinAsync(CancellationToken cancellationToken)
    {
        var burst = (long)_mount.Config.Burst.TotalMilliseconds;
        var started = _mount.Time.GetTimestamp();
        while (true)
        {
            var wait = _mount.Signal.WaitTask;
            if (_mount.IsEnded(Epoch) || Volatile.Read(ref _evicted) != 0 || Volatile.Read(ref _movedTo) is not null || Volatile.Read(ref _cancelled) != 0)
            {
                return false;
            }
            var start = _mount.Ring.FindJoinPoint(burst);
            if (start >= 0 && _mount.Ring.TryGet(start, out var first))
            {
                _headers = first.Headers;
                _held![0] = first;
                _heldCount = 1;
                var count = 0;
                var join = _continuation ? first.Headers?.BuildUpdate(first.StartTime) : first.Headers?.BuildJoin(first.StartTime);
                if (join is { Length: > 0 })
                {
                    _batch![count++] = join;
                }
                _batch![count++] = first.Memory;
                _next = start + 1;
                Volatile.Write(ref _pendingTime, first.StartTime);
                return await WriteBatchAsync(count, cancellationToken).ConfigureAwait(false);
            }
            // A stream that never yields a join point (a relay whose upstream stays away, a source with
            // no keyframe) does not keep a player hanging forever.
            var remaining = JoinTimeout - _mount.Time.GetElapsedTime(started);
            if (remaining <= TimeSpan.Zero)
            {
                return false;
            }
            try
            {
                await wait.WaitAsync(remaining, _mount.Time, cancellationToken).ConfigureAwait(false);
            }
            catch (TimeoutException)
            {
                return false;
            }
        }
    }

    /// <summary>Collects the slices from the cursor to the head, applying the lag policy. Returns the batch size.</summary>
    private int Gather(out ListenerEnd? end, SliceLease? lease, Slice?[] heldSlices, ReadOnlyMemory<byte>[] batch)
    {
        end = null;
        var ring = _mount.Ring;
        var head = ring.Head;
        if (_next >= head)
        {
            return 0;
        }
        var config = _mount.Config;
        var startTime = ring.StartTimeOf(_next);
        if (startTime is null)
        {
            end = _mount.IsEnded(Epoch) ? ListenerEnd.StreamEnded : Evict(ListenerEnd.EvictedLapped);
            return 0;
        }
        var lag = ring.HeadTime - startTime.Value;
        if (lag > (long)config.EvictLag.TotalMilliseconds)
        {
            end = Evict(ListenerEnd.EvictedLag);
            return 0;
        }
        // A skip makes the lag small but not the listener fast: lateness counts from when it was last
        // caught up by sending (and stayed so for max-lag after a skip), so a persistently slow reader
        // is evicted about evict-lag after it fell behind, not evict-lag after each skip.
        var maxLag = (long)config.MaxLag.TotalMilliseconds;
        var headTime = ring.HeadTime;
        if (_behindSince == long.MinValue || (lag <= maxLag / 4 && (_lastSkip == long.MinValue || headTime - _lastSkip > maxLag)))
        {
            _behindSince = headTime;
        }
        else if (_lastSkip >= _behindSince && headTime - _behindSince > (long)config.EvictLag.TotalMilliseconds)
        {
            end = Evict(ListenerEnd.EvictedLag);
            return 0;
        }
        var skipped = false;
        if (lag > maxLag)
        {
            var keyframe = ring.NewestKeyframe;
            if (keyframe > _next)
            {
                _next = keyframe;
                _lastSkip = headTime;
                skipped = true;
                Skips++;
                _mount.Stats.OnSkip();
                StreamingLog.ListenerSkipped(_mount.Logger, Id, _mount.Path, lag);
            }
        }

        var count = 0;
        var held = 0;
        for (var sequence = _next; sequence < head && held < MaxBatchSlices; sequence++)
        {
            if (!(lease is null ? ring.TryGet(sequence, out var slice) : lease.TryGet(ring, sequence, out slice)))
            {
                if (held == 0)
                {
                    end = _mount.IsEnded(Epoch) ? ListenerEnd.StreamEnded : Evict(ListenerEnd.EvictedLapped);
                    return 0;
                }
                break;
            }
            if (held == 0)
            {
                Volatile.Write(ref _pendingTime, slice.StartTime);
                if (skipped && slice.Headers is { } headers && !ReferenceEquals(headers.Configuration, _headers?.Configuration) && count < batch.Length - 1)
                {
                    // The skip jumped over in-band configuration changes: send the new ones first.
                    batch[count++] = headers.BuildUpdate(slice.StartTime);
                }
            }
            if (slice.IsKeyframe && slice.Headers is not null)
            {
                _headers = slice.Headers;
            }
            heldSlices[held++] = slice;
            batch[count++] = slice.Memory;
        }
        _next += held;
        _heldCount = held;
        _borrowed = lease is not null && held > 0;
        return count;
    }

    private async ValueTask<bool> WriteBatchAsync(int count, CancellationToken cancellationToken)
    {
        var batch = _batch!;
        long bytes = 0;
        for (var i = 0; i < count; i++)
        {
            bytes += batch[i].Length;
        }
        Volatile.Write(ref _writing, 1);
        bool ok;
        try
        {
            ok = await _sink.WriteAsync(batch.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _writing, 0);
            Array.Clear(batch, 0, count);
            ReleaseHeld();
        }
        if (ok)
        {
            Interlocked.Add(ref _bytesSent, bytes);
            var head = _mount.Ring.StartTimeOf(_next);
            Volatile.Write(ref _pendingTime, head ?? _mount.Ring.HeadTime);
        }
        return ok && Volatile.Read(ref _evicted) == 0;
    }

    /// <summary>Disconnects the listener now (admin kick): the same path as an eviction, without counting one.</summary>
    public bool Kick()
    {
        if (Interlocked.CompareExchange(ref _evicted, (int)ListenerEnd.Kicked, 0) != 0)
        {
            return false;
        }
        _sink.Abort();
        // A listener waiting for data (not in a write) notices at its next wake-up.
        Poke();
        return true;
    }

    private ListenerEnd Evict(ListenerEnd reason, EvictionReason? why = null)
    {
        Debug.Assert(reason is ListenerEnd.EvictedLag or ListenerEnd.EvictedLapped);
        if (Interlocked.CompareExchange(ref _evicted, (int)reason, 0) == 0)
        {
            _mount.Stats.OnEviction(why ?? (reason == ListenerEnd.EvictedLag ? EvictionReason.Lag : EvictionReason.Lapped));
            StreamingLog.ListenerEvicted(_mount.Logger, Id, _mount.Path,
                reason == ListenerEnd.EvictedLag
                    ? why == EvictionReason.StuckPressure
                        ? $"more than {_mount.Config.MaxLag.TotalSeconds:0.###} s late while the kernel's TCP memory is under pressure ({LagMilliseconds} ms)"
                        : $"more than {_mount.Config.EvictLag.TotalSeconds:0.###} s late ({LagMilliseconds} ms)"
                    : "lapped by the ring");
            _sink.Abort();
        }
        return reason;
    }

    private void ReleaseHeld()
    {
        _heldCount = 0;
        if (_borrowed)
        {
            // The walk's lease holds them (in its own arrays).
            _borrowed = false;
            return;
        }
        if (_held is not { } held)
        {
            return;
        }
        for (var i = 0; i < held.Length; i++)
        {
            if (held[i] is { } slice)
            {
                held[i] = null;
                slice.Release();
            }
        }
    }
}
