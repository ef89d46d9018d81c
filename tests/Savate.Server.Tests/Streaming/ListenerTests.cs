using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Flv;
using Savate.Server.Configuration;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

/// <summary>
/// Listener send loops over a mount fed by hand. A listener whose sink completes writes synchronously runs
/// synchronously until it waits for the mount's signal, so <c>RunAsync</c> returns once it is parked; with a
/// 40 ms flush interval on a manual clock, publishes after the first are only delivered on <c>Advance</c>.
/// </summary>
public class ListenerTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private static readonly byte[] s_avc = FlvSynth.AvcConfig(0);
    private static readonly byte[] s_aac = FlvSynth.AacConfig(0);

    private readonly ManualTimeProvider _time = new();
    private readonly SlicePool _pool = new();
    private readonly FlvJoinHeaders _headers = new(FlvSynth.Header(), null, s_avc, s_aac, ["h264", "aac"]);

    private Mount CreateMount(MountConfig? config = null, Action<Mount>? onIdle = null) =>
        TestMounts.Create(_time, _pool, config ?? new MountConfig { Path = "/live" }, new ServerConfig { FlushInterval = TimeSpan.FromMilliseconds(40) }, onIdle);

    /// <summary>A source on the mount with a first keyframe out, and a listener following it: the source, and the listener's run.</summary>
    private (SourceSession Source, Task<ListenerEnd> Run) StartFollowingSource(Mount mount)
    {
        var source = new SourceSession(mount, "encoder");
        Assert.True(mount.TryClaim(source));
        Keyframe(mount, 0);
        var listener = new Listener(mount, new MemorySink(), "test");
        Assert.True(mount.TryAddListener(listener));
        return (source, listener.RunAsync(CancellationToken.None));
    }

    private void Keyframe(Mount mount, long time, FlvJoinHeaders? headers = null) =>
        TestMounts.PublishRaw(mount, FlvSynth.Keyframe((uint)time), time, time, keyframe: true, headers ?? _headers);

    private static void Inter(Mount mount, long time) =>
        TestMounts.PublishRaw(mount, FlvSynth.Inter((uint)time), time, time, keyframe: false);

    private static async Task<T> Within<T>(Task<T> task) => await task.WaitAsync(s_timeout);

    private static async Task Within(Task task) => await task.WaitAsync(s_timeout);

    /// <summary>Advances past the flush interval and waits for the listener's next write.</summary>
    private async Task FlushAndWaitForWrite(MemorySink sink)
    {
        var next = sink.NextWrite;
        _time.Advance(TimeSpan.FromMilliseconds(40));
        await Within(next);
    }

    [Fact]
    public async Task RunAsync_NewListener_GetsJoinHeadersThenKeyframe()
    {
        using var mount = CreateMount();
        Keyframe(mount, 0);
        Inter(mount, 40);
        Keyframe(mount, 80);
        var sink = new MemorySink();
        var listener = new Listener(mount, sink, "test");
        Assert.True(mount.TryAddListener(listener));
        var run = listener.RunAsync(CancellationToken.None);

        Assert.False(run.IsCompleted);
        var join = _headers.BuildJoin(80);
        var bytes = sink.Bytes;
        Assert.Equal(join, bytes.AsSpan(0, join.Length).ToArray());
        var tags = FlvSynth.Tags(bytes.AsSpan(join.Length));
        Assert.True(FlvSynth.IsVideoKeyframe(tags[0]));
        Assert.Equal(80u, tags[0].Header.Timestamp);
        Assert.Single(tags);

        mount.Dispose();
        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
    }

    [Fact]
    public async Task RunAsync_NoKeyframeYet_WaitsForOne()
    {
        using var mount = CreateMount();
        var sink = new MemorySink();
        var run = new Listener(mount, sink, "test").RunAsync(CancellationToken.None);
        Assert.Equal(0, sink.WriteCount);

        var next = sink.NextWrite;
        Keyframe(mount, 0);
        await Within(next);
        Assert.True(FlvSynth.IsVideoKeyframe(FlvSynth.Tags(sink.Bytes)[^1]));
        mount.Dispose();
        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
    }

    [Fact]
    public async Task RunAsync_SeveralPublishesWithinInterval_OneWriteWithAll()
    {
        using var mount = CreateMount();
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var run = new Listener(mount, sink, "test").RunAsync(CancellationToken.None);
        Assert.Equal(1, sink.WriteCount);

        Inter(mount, 40);
        Inter(mount, 80);
        Inter(mount, 120);
        Assert.Equal(1, sink.WriteCount);
        await FlushAndWaitForWrite(sink);

        Assert.Equal([2, 3], sink.BatchSizes);
        Assert.Equal([40u, 80u, 120u], FlvSynth.Tags(sink.Batches[1]).Select(t => t.Header.Timestamp));
        mount.Dispose();
        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
    }

    [Fact]
    public async Task RunAsync_LagBeyondMaxLag_SkipsToNewestKeyframe()
    {
        using var mount = CreateMount(new MountConfig { Path = "/live", MaxLag = TimeSpan.FromSeconds(1), EvictLag = TimeSpan.FromSeconds(10) });
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var listener = new Listener(mount, sink, "test");
        var run = listener.RunAsync(CancellationToken.None);

        for (var t = 100; t <= 2000; t += 100)
        {
            if (t % 1000 == 0)
            {
                Keyframe(mount, t);
            }
            else
            {
                Inter(mount, t);
            }
        }
        Inter(mount, 2100);
        await FlushAndWaitForWrite(sink);

        Assert.Equal(1, listener.Skips);
        Assert.Equal(1, mount.Stats.Skips);
        var tags = FlvSynth.Tags(sink.Batches[1]);
        Assert.True(FlvSynth.IsVideoKeyframe(tags[0]));
        Assert.Equal([2000u, 2100u], tags.Select(t => t.Header.Timestamp));
        mount.Dispose();
        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
    }

    [Fact]
    public async Task RunAsync_SkipOverNewSequenceHeader_SendsHeaderUpdateFirst()
    {
        using var mount = CreateMount(new MountConfig { Path = "/live", MaxLag = TimeSpan.FromSeconds(1), EvictLag = TimeSpan.FromSeconds(10) });
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var listener = new Listener(mount, sink, "test");
        var run = listener.RunAsync(CancellationToken.None);

        var changed = new FlvJoinHeaders(FlvSynth.Header(), null, FlvSynth.AvcConfig(0, variant: 9), s_aac, ["h264", "aac"]);
        Inter(mount, 500);
        Keyframe(mount, 2000, changed);
        await FlushAndWaitForWrite(sink);

        var update = changed.BuildUpdate(2000);
        Assert.Equal(update, sink.Batches[1].AsSpan(0, update.Length).ToArray());
        Assert.True(FlvSynth.IsVideoKeyframe(FlvSynth.Tags(sink.Batches[1].AsSpan(update.Length))[0]));
        mount.Dispose();
        await Within(run);
    }

    [Fact]
    public async Task RunAsync_LagBeyondEvictLag_EvictedAndAborted()
    {
        using var mount = CreateMount(new MountConfig { Path = "/live", MaxLag = TimeSpan.FromSeconds(1), EvictLag = TimeSpan.FromSeconds(3) });
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var listener = new Listener(mount, sink, "test");
        Assert.True(mount.TryAddListener(listener));
        var run = listener.RunAsync(CancellationToken.None);

        for (var t = 100; t <= 4000; t += 100)
        {
            Inter(mount, t);
        }
        _time.Advance(TimeSpan.FromMilliseconds(40));

        Assert.Equal(ListenerEnd.EvictedLag, await Within(run));
        Assert.Equal(1, sink.AbortCount);
        Assert.Equal(1, mount.Stats.Evictions);
        Assert.Equal(0, mount.Stats.Skips);
    }

    [Fact]
    public async Task RunAsync_Lapped_EvictedLapped()
    {
        using var mount = CreateMount(new MountConfig { Path = "/live", BufferBytes = 1000 });
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var run = new Listener(mount, sink, "test").RunAsync(CancellationToken.None);

        // Keyframes 1 ms apart: no lag to speak of, but the byte bound drops what the listener needs next.
        for (var t = 1; t < 100; t++)
        {
            Keyframe(mount, t);
        }
        Assert.True(mount.Ring.Tail > 1);
        _time.Advance(TimeSpan.FromMilliseconds(40));

        Assert.Equal(ListenerEnd.EvictedLapped, await Within(run));
        Assert.Equal(1, sink.AbortCount);
        Assert.Equal(1, mount.Stats.Evictions);
    }

    [Fact]
    public async Task EvictIfStuck_BlockedSink_DoesNotBlockPublishOrOthersAndIsEvictedPastEvictLag()
    {
        var config = new MountConfig { Path = "/live", MaxLag = TimeSpan.FromSeconds(100), EvictLag = TimeSpan.FromSeconds(3) };
        using var registry = new MountRegistry(new SavateConfig { Server = new ServerConfig { FlushInterval = TimeSpan.FromMilliseconds(40) }, Mounts = [config] },
            _time, NullLoggerFactory.Instance, _pool);
        var monitor = new LagMonitor(registry, _time, Microsoft.Extensions.Logging.Abstractions.NullLogger<LagMonitor>.Instance);
        var mount = registry.Find("/live")!;
        Keyframe(mount, 0);

        var stuckSink = new MemorySink();
        var stuck = new Listener(mount, stuckSink, "stuck");
        Assert.True(mount.TryAddListener(stuck));
        var stuckRun = stuck.RunAsync(CancellationToken.None);
        stuckSink.Block();

        var healthySink = new MemorySink();
        var healthy = new Listener(mount, healthySink, "healthy");
        Assert.True(mount.TryAddListener(healthy));
        var healthyRun = healthy.RunAsync(CancellationToken.None);

        // 15 slices: one batch (a batch holds at most 16).
        for (var t = 100; t <= 1500; t += 100)
        {
            Inter(mount, t);
        }
        var stuckWrite = stuckSink.NextWrite;
        await FlushAndWaitForWrite(healthySink);
        await Within(stuckWrite);
        Assert.True(stuck.IsWriting);
        Assert.Equal(1500u, FlvSynth.Tags(healthySink.Bytes)[^1].Header.Timestamp);

        monitor.CheckAll();
        Assert.False(stuck.EvictIfStuck());
        Assert.False(stuckRun.IsCompleted);
        Assert.Equal(0, stuckSink.AbortCount);

        // The stuck write started at 100 ms: past 3100 it is more than evict-lag late.
        for (var t = 1600; t <= 3200; t += 100)
        {
            Inter(mount, t);
        }
        Assert.True(stuck.LagMilliseconds > 3000);
        monitor.CheckAll();

        Assert.Equal(ListenerEnd.EvictedLag, await Within(stuckRun));
        Assert.Equal(1, stuckSink.AbortCount);
        Assert.Equal(1, mount.Stats.Evictions);
        Assert.False(healthyRun.IsCompleted);
        Assert.False(healthy.EvictIfStuck());
        mount.RemoveListener(stuck);

        registry.Dispose();
        await Within(healthyRun);
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task Dispose_AfterListenersFinish_EveryBufferReturned()
    {
        var mount = CreateMount();
        var runs = new List<Task<ListenerEnd>>();
        Keyframe(mount, 0);
        for (var i = 0; i < 3; i++)
        {
            runs.Add(new Listener(mount, new MemorySink(), "test").RunAsync(CancellationToken.None));
        }
        for (var t = 40; t < 2000; t += 40)
        {
            if (t % 400 == 0)
            {
                Keyframe(mount, t);
            }
            else
            {
                Inter(mount, t);
            }
            if (t % 200 == 0)
            {
                _time.Advance(TimeSpan.FromMilliseconds(40));
            }
        }

        mount.Dispose();
        await Within(Task.WhenAll(runs));
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _pool.OutstandingBytes);
    }

    [Fact]
    public async Task RunAsync_MountDisposedWhileListenerBehind_StreamEndedNotEvicted()
    {
        var mount = CreateMount();
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var listener = new Listener(mount, sink, "test");
        Assert.True(mount.TryAddListener(listener));
        var run = listener.RunAsync(CancellationToken.None);
        Inter(mount, 40);
        Inter(mount, 80);

        // The mount closes before the listener woke for the last slices: the stream ended, nobody was lapped.
        mount.Dispose();

        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
        Assert.Equal(0, mount.Stats.Evictions);
        Assert.Equal(0, sink.AbortCount);
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task RunAsync_EvictedDuringJoinWrite_ReturnsEvictedLag()
    {
        using var mount = CreateMount(new MountConfig { Path = "/live", MaxLag = TimeSpan.FromSeconds(1), EvictLag = TimeSpan.FromSeconds(3) });
        Keyframe(mount, 0);
        var sink = new MemorySink();
        sink.Block();
        var listener = new Listener(mount, sink, "test");
        Assert.True(mount.TryAddListener(listener));
        var run = listener.RunAsync(CancellationToken.None);
        Assert.True(listener.IsWriting);
        for (var t = 100; t <= 3500; t += 100)
        {
            Inter(mount, t);
        }

        Assert.True(listener.EvictIfStuck());

        Assert.Equal(ListenerEnd.EvictedLag, await Within(run));
        Assert.Equal(1, mount.Stats.Evictions);
        Assert.Equal(1, sink.AbortCount);
    }

    [Fact]
    public async Task RunAsync_ClientGoneDuringJoinWrite_ReturnsClientGone()
    {
        using var mount = CreateMount();
        Keyframe(mount, 0);
        var sink = new MemorySink();
        sink.Block();
        var run = new Listener(mount, sink, "test").RunAsync(CancellationToken.None);

        sink.Abort();

        Assert.Equal(ListenerEnd.ClientGone, await Within(run));
        Assert.False(mount.IsEnded(mount.Epoch));
    }

    [Fact]
    public async Task Dispose_ListenerDroppedMidWrite_EveryBufferReturned()
    {
        var mount = CreateMount();
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var run = new Listener(mount, sink, "test").RunAsync(CancellationToken.None);
        sink.Block();
        // More than one batch's worth after the keyframe: the batch in flight is a full one.
        var frames = Listener.MaxBatchSlices + 2;
        for (var t = 40; t <= 40 * frames; t += 40)
        {
            Inter(mount, t);
        }
        await FlushAndWaitForWrite(sink);
        Assert.Equal(Listener.MaxBatchSlices, sink.BatchSizes[^1]);

        mount.Dispose();
        // The ring let go; the slices of the batch in flight are still held by the listener.
        Assert.Equal(Listener.MaxBatchSlices, _pool.Outstanding);
        sink.Abort();

        Assert.Equal(ListenerEnd.ClientGone, await Within(run));
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task RunAsync_SourceReleased_WaitsThroughGraceThenStreamEnded()
    {
        using var mount = CreateMount(new MountConfig { Path = "/live", Grace = TimeSpan.FromSeconds(2) });
        var (source, run) = StartFollowingSource(mount);

        mount.Release(source);
        Assert.True(mount.InGrace);
        Assert.Equal(MountAvailability.Playable, mount.Availability);
        _time.Advance(TimeSpan.FromSeconds(1.9));
        await Task.Yield();
        Assert.False(run.IsCompleted);

        _time.Advance(TimeSpan.FromMilliseconds(100));
        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
        Assert.False(mount.InGrace);
        Assert.Equal(MountAvailability.NoSource, mount.Availability);
        Assert.Equal(-1, mount.Ring.FindJoinPoint(0));
    }

    [Fact]
    public async Task RunAsync_GraceTimerFiresEarly_GraceStillEnds()
    {
        // System timers count on a coarser clock than timestamps and can fire a few ms early. That once left the
        // mount in grace for good: its listeners never closed, a dynamic mount was never removed.
        _time.TimerGranularity = TimeSpan.FromMilliseconds(4);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        var idle = 0;
        using var mount = CreateMount(new MountConfig { Path = "/live", Grace = TimeSpan.FromSeconds(2) }, _ => idle++);
        var (source, run) = StartFollowingSource(mount);

        // Grace until 2.001 s; its timer counts from 0 and fires at 2.000 s.
        mount.Release(source);
        _time.Advance(TimeSpan.FromMilliseconds(1999));
        await Task.Yield();
        Assert.True(mount.InGrace);
        Assert.False(run.IsCompleted);

        _time.Advance(TimeSpan.FromMilliseconds(10));
        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
        Assert.False(mount.InGrace);
        Assert.Equal(1, idle);
    }

    [Fact]
    public async Task RunAsync_NewSourceWithinGrace_SameListenerContinues()
    {
        using var mount = CreateMount(new MountConfig { Path = "/live", Grace = TimeSpan.FromSeconds(2) });
        var first = new SourceSession(mount, "encoder");
        Assert.True(mount.TryClaim(first));
        Keyframe(mount, 0);
        var sink = new MemorySink();
        var listener = new Listener(mount, sink, "test");
        Assert.True(mount.TryAddListener(listener));
        var run = listener.RunAsync(CancellationToken.None);

        mount.Release(first);
        _time.Advance(TimeSpan.FromSeconds(1));
        var second = new SourceSession(mount, "encoder");
        Assert.True(mount.TryClaim(second));
        // Grace ends when the new source plays, from its first keyframe: not at the claim (it could still be
        // refused), nor when its ingest is attached (it may trickle or go silent after its header).
        Assert.True(mount.InGrace);
        var ingest = new FlvIngest(mount);
        mount.AttachLiveIngest(second, ingest);
        ingest.Process(new ReadOnlySequence<byte>(FlvSynth.Header()));
        Assert.True(mount.InGrace);
        ingest.Process(new ReadOnlySequence<byte>(FlvSynth.Keyframe(0)));
        Assert.False(mount.InGrace);
        Assert.Equal("live", mount.Playing);
        // From here the test publishes the source's slices itself.
        ingest.Abandon();
        // A second after the last flush, this publish wakes the listener at once: take the write to
        // wait for before publishing, or the write may come first and the wait never end.
        var written = sink.NextWrite;
        Keyframe(mount, 1040);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        await Within(written);
        _time.Advance(TimeSpan.FromSeconds(5));
        await Task.Yield();

        Assert.False(run.IsCompleted);
        Assert.Equal([0u, 1040u], FlvSynth.Tags(sink.Bytes).Where(FlvSynth.IsVideoKeyframe).Select(t => t.Header.Timestamp));
        mount.Release(second);
        mount.Dispose();
        Assert.Equal(ListenerEnd.StreamEnded, await Within(run));
    }

    [Fact]
    public async Task RunAsync_ContinuationReentersMountUnderPublisherLock_DoesNotDeadlock()
    {
        // The publisher holds a non-reentrant lock while publishing (as an ingest holding its own state would),
        // and the listener's write takes the same lock to publish and to add a listener. Were the listener
        // woken on the publisher's stack, its wait below would time out: AsyncSignal must run it elsewhere.
        using var mount = TestMounts.Create(_time, _pool);
        using var sourceLock = new SemaphoreSlim(1, 1);
        Keyframe(mount, 0);
        var reentered = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        var sink = new MemorySink();
        var listener = new Listener(mount, sink, "test");
        var run = listener.RunAsync(CancellationToken.None);
        sink.OnWrite = s =>
        {
            if (s.WriteCount != 2)
            {
                return;
            }
            if (!sourceLock.Wait(TimeSpan.FromSeconds(5)))
            {
                reentered.TrySetResult(false);
                return;
            }
            try
            {
                Inter(mount, 80);
                reentered.TrySetResult(mount.TryAddListener(new Listener(mount, new MemorySink(), "nested")));
            }
            finally
            {
                sourceLock.Release();
            }
        };

        var publisher = Task.Run(() =>
        {
            sourceLock.Wait();
            try
            {
                Inter(mount, 40);
            }
            finally
            {
                sourceLock.Release();
            }
        });

        await Within(publisher);
        Assert.True(await Within(reentered.Task));
        Assert.Equal(2, mount.Ring.Head - 1);
        mount.Dispose();
        await Within(run);
    }
}
