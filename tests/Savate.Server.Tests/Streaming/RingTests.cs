using Savate.Server.Streaming;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class RingTests
{
    private readonly SlicePool _pool = new();

    private Slice Make(Ring ring, long start, bool keyframe = false, int length = 100, long? end = null)
    {
        var chunk = SliceChunk.Rent(_pool, length);
        chunk.Array.AsSpan(0, length).Fill((byte)ring.Head);
        return new Slice(chunk, 0, length, ring.Head, start, end ?? start, keyframe, null);
    }

    private void Append(Ring ring, long start, bool keyframe = false, int length = 100) => ring.Append(Make(ring, start, keyframe, length));

    [Fact]
    public void Append_ThenTryGet_ReturnsSliceAndTakesReference()
    {
        using var ring = new Ring(10_000, 1 << 20);
        Append(ring, 0, keyframe: true);
        Append(ring, 40);

        Assert.Equal(2, ring.Head);
        Assert.Equal(0, ring.Tail);
        Assert.Equal(200, ring.Bytes);
        Assert.Equal(40, ring.HeadTime);
        Assert.Equal(0, ring.NewestKeyframe);
        Assert.True(ring.TryGet(1, out var slice));
        Assert.Equal(1, slice.Sequence);
        Assert.Equal(1, slice.Span[0]);
        slice.Release();
        Assert.False(ring.TryGet(2, out _));
        Assert.False(ring.TryGet(-1, out _));
    }

    [Fact]
    public void Append_BeyondBufferTime_EvictsOlderGops()
    {
        using var ring = new Ring(1000, 1 << 20);
        for (var t = 0; t <= 3000; t += 100)
        {
            Append(ring, t, keyframe: t % 500 == 0);
        }

        // Head time 3000: every slice that starts more than 1000 ms earlier and is before the newest keyframe goes.
        Assert.True(ring.StartTimeOf(ring.Tail) >= 2000, $"tail starts at {ring.StartTimeOf(ring.Tail)}");
        Assert.Equal(2000, ring.StartTimeOf(ring.Tail));
        Assert.Equal(ring.Head - ring.Tail, ring.Count);
    }

    [Fact]
    public void Append_BeyondMaxBytes_EvictsDownToBound()
    {
        using var ring = new Ring(1_000_000, 1000);
        for (var i = 0; i < 30; i++)
        {
            Append(ring, i * 40, keyframe: i % 3 == 0);
        }
        Assert.True(ring.Bytes <= 1000, $"{ring.Bytes} bytes held");
        Assert.Equal(ring.Count * 100, ring.Bytes);
    }

    [Fact]
    public void Append_BeyondSlotCount_HoldsAtMostSlotsMinusOne()
    {
        using var ring = new Ring(1_000_000, 1 << 30, slotCount: 8);
        for (var i = 0; i < 20; i++)
        {
            Append(ring, i, keyframe: i == 0);
        }
        Assert.Equal(7, ring.Count);
        Assert.Equal(13, ring.Tail);
        for (var s = ring.Tail; s < ring.Head; s++)
        {
            Assert.True(ring.TryGet(s, out var slice));
            Assert.Equal(s, slice.Sequence);
            slice.Release();
        }
    }

    [Fact]
    public void Append_OverTimeAndBytes_KeepsNewestKeyframeUntilTwiceMaxBytes()
    {
        using var ring = new Ring(100, 1000);
        Append(ring, 0, keyframe: true);
        // A long GOP: past the buffer time and the byte bound, but under twice the bytes.
        for (var i = 1; i < 20; i++)
        {
            Append(ring, i * 100);
        }
        Assert.Equal(0, ring.Tail);
        Assert.Equal(0, ring.NewestKeyframe);
        Assert.Equal(0, ring.FindJoinPoint(0));
        Assert.Equal(2000, ring.Bytes);

        Append(ring, 2000);
        Assert.True(ring.Bytes <= 2000);
        Assert.Equal(1, ring.Tail);
        Assert.Equal(-1, ring.NewestKeyframe);
        Assert.Equal(-1, ring.FindJoinPoint(0));
    }

    [Fact]
    public void FindJoinPoint_NoBurst_ReturnsNewestKeyframe()
    {
        using var ring = new Ring(100_000, 1 << 20);
        Assert.Equal(-1, ring.FindJoinPoint(0));
        for (var i = 0; i < 10; i++)
        {
            Append(ring, i * 500, keyframe: i % 2 == 0);
        }
        Assert.Equal(8, ring.FindJoinPoint(0));
    }

    [Fact]
    public void FindJoinPoint_Burst_ReturnsKeyframeAtLeastBurstBeforeNewestElseOldest()
    {
        using var ring = new Ring(100_000, 1 << 20);
        // Keyframes at 0, 1000, 2000, 3000, 4000 ms (sequences 0, 2, 4, 6, 8).
        for (var i = 0; i < 10; i++)
        {
            Append(ring, i * 500, keyframe: i % 2 == 0);
        }
        Assert.Equal(6, ring.FindJoinPoint(1000));
        Assert.Equal(4, ring.FindJoinPoint(1500));
        Assert.Equal(4, ring.FindJoinPoint(2000));
        Assert.Equal(0, ring.FindJoinPoint(4000));
        Assert.Equal(0, ring.FindJoinPoint(60_000));
    }

    [Fact]
    public void Append_PastTheInitialSlots_Grows_KeepingEverySliceAndJoinPointInPlace()
    {
        // The index starts small and doubles as the ring fills (a mount holds what its stream needs), up to the slot
        // count; the keyframes' ring is laid out again with it, wrapped or not.
        using var ring = new Ring(1_000_000, 1 << 30, slotCount: 4 * Ring.InitialSlots);
        Assert.Equal(Ring.InitialSlots, ring.Capacity);
        var count = 3 * Ring.InitialSlots;
        for (var i = 0; i < count; i++)
        {
            Append(ring, i * 40, keyframe: i % 50 == 0, length: 10);
        }

        Assert.Equal(4 * Ring.InitialSlots, ring.Capacity);
        Assert.Equal(0, ring.Tail);
        for (var sequence = 0; sequence < count; sequence++)
        {
            Assert.True(ring.TryGet(sequence, out var slice), $"slice {sequence}");
            Assert.Equal(sequence, slice.Sequence);
            Assert.Equal((byte)sequence, slice.Span[0]);
            Assert.Equal(sequence * 40, ring.StartTimeOf(sequence));
            slice.Release();
        }
        Assert.Equal(750, ring.FindJoinPoint(0));
        Assert.Equal(700, ring.FindJoinPoint(2000));
        Assert.Equal(0, ring.FindJoinPoint(1_000_000));

        // At the slot count it no longer grows: the oldest go, and the join points with them.
        for (var i = count; i < 5 * Ring.InitialSlots; i++)
        {
            Append(ring, i * 40, keyframe: i % 50 == 0, length: 10);
        }
        Assert.Equal(4 * Ring.InitialSlots, ring.Capacity);
        Assert.Equal(4 * Ring.InitialSlots - 1, ring.Count);
        Assert.False(ring.TryGet(ring.Tail - 1, out _));
        Assert.Equal(1250, ring.FindJoinPoint(0));
        Assert.Equal(300, ring.FindJoinPoint(1_000_000));
    }

    [Fact]
    public async Task TryGet_WhileTheRingGrows_NeverMissesAHeldSlice()
    {
        // Readers read without the lock while the writer grows the index: every sequence below the head they read is
        // found (a miss would look like a lapped listener and evict it). Forty rings grown to 16,384 slots: 240 growths.
        Ring? current = null;
        var misses = 0;
        var reads = 0L;
        using var stop = new CancellationTokenSource();
        var started = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Factory.StartNew(() =>
        {
            Interlocked.Increment(ref started);
            while (!stop.IsCancellationRequested)
            {
                if (Volatile.Read(ref current) is not { } ring)
                {
                    continue;
                }
                var head = ring.Head;
                for (var sequence = Math.Max(ring.Tail, head - 16); sequence < head; sequence++)
                {
                    Interlocked.Increment(ref reads);
                    if (ring.TryGet(sequence, out var slice))
                    {
                        slice.Release();
                    }
                    else if (sequence >= ring.Tail)
                    {
                        Interlocked.Increment(ref misses);
                    }
                }
            }
        }, TaskCreationOptions.LongRunning)).ToArray();
        await Wait.UntilAsync(() => Volatile.Read(ref started) == 2, TimeSpan.FromSeconds(10), "the readers to start");

        for (var r = 0; r < 40; r++)
        {
            using var ring = new Ring(1_000_000, 1 << 30);
            Volatile.Write(ref current, ring);
            for (var i = 0; i < 16_000; i++)
            {
                Append(ring, i * 40, keyframe: i % 50 == 0, length: 1);
            }
            Assert.Equal(16_384, ring.Capacity);
            Volatile.Write(ref current, null);
        }
        stop.Cancel();
        await Task.WhenAll(readers);

        Assert.True(Interlocked.Read(ref reads) > 10_000, $"the readers ran ({reads} reads)");
        Assert.Equal(0, misses);
    }

    [Fact]
    public void TryGet_AfterEviction_Fails()
    {
        using var ring = new Ring(100_000, 1 << 20, slotCount: 4);
        Append(ring, 0, keyframe: true);
        for (var i = 1; i < 10; i++)
        {
            Append(ring, i * 10, keyframe: true);
        }
        Assert.False(ring.TryGet(0, out _));
        Assert.False(ring.TryGet(ring.Tail - 1, out _));
        Assert.Null(ring.StartTimeOf(ring.Tail - 1));
        Assert.True(ring.TryGet(ring.Tail, out var slice));
        slice.Release();
    }

    [Fact]
    public void ClearJoinPoints_ThenFindJoinPoint_WaitsForNextKeyframe()
    {
        using var ring = new Ring(100_000, 1 << 20);
        Append(ring, 0, keyframe: true);
        Append(ring, 40);
        ring.ClearJoinPoints();

        Assert.Equal(-1, ring.FindJoinPoint(0));
        Assert.Equal(-1, ring.NewestKeyframe);
        Append(ring, 80);
        Assert.Equal(-1, ring.FindJoinPoint(0));
        Append(ring, 120, keyframe: true);
        Assert.Equal(3, ring.FindJoinPoint(0));
        Assert.Equal(3, ring.FindJoinPoint(10_000));
    }

    [Fact]
    public void Dispose_ReturnsEveryBuffer()
    {
        var ring = new Ring(1000, 1 << 20);
        for (var i = 0; i < 50; i++)
        {
            Append(ring, i * 100, keyframe: i % 10 == 0);
        }
        Assert.NotEqual(0, _pool.Outstanding);
        ring.Dispose();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _pool.OutstandingBytes);
        Assert.Throws<ObjectDisposedException>(() => Append(ring, 9999));
    }

    [Fact]
    public void Dispose_SliceHeldByReader_ReturnedWhenReaderReleases()
    {
        var ring = new Ring(1000, 1 << 20);
        Append(ring, 0, keyframe: true);
        Append(ring, 40);
        Assert.True(ring.TryGet(1, out var held));

        ring.Dispose();
        Assert.Equal(1, _pool.Outstanding);
        Assert.Equal(1, held.Span[0]);
        Assert.False(held.TryAddRef() && Release(held), "a held slice can still be referenced, but the ring no longer hands it out");
        Assert.False(ring.TryGet(1, out _));

        held.Release();
        Assert.Equal(0, _pool.Outstanding);
        Assert.False(held.TryAddRef());
    }

    [Fact]
    public void TryGet_SliceEvictedWhileHeld_BufferReturnedOnlyOnRelease()
    {
        using var ring = new Ring(100_000, 1 << 20, slotCount: 4);
        Append(ring, 0, keyframe: true);
        Assert.True(ring.TryGet(0, out var held));
        for (var i = 1; i < 6; i++)
        {
            Append(ring, i, keyframe: true);
        }
        Assert.False(ring.TryGet(0, out _));
        Assert.Equal(ring.Count + 1, _pool.Outstanding);
        held.Release();
        Assert.Equal(ring.Count, _pool.Outstanding);
    }

    private static bool Release(Slice slice)
    {
        slice.Release();
        return false;
    }
}
