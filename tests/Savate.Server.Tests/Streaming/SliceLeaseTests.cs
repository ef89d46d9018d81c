using Savate.Server.Configuration;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

/// <summary>
/// The send loops' walk lends its listeners the slices (one reference per slice per walk, <see cref="SliceLease"/>);
/// a batch that outlives the walk (a send the kernel did not take at once) must hold references of its own.
/// </summary>
public class SliceLeaseTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private readonly ManualTimeProvider _time = new();
    private readonly SlicePool _pool = new();

    // Takes the slice at `sequence` from the ring and gives the reference back: the object, to test later whether anyone still holds it.
    private static Slice Peek(Ring ring, long sequence)
    {
        Assert.True(ring.TryGet(sequence, out var slice));
        slice.Release();
        return slice;
    }

    private static bool StillReferenced(Slice slice)
    {
        if (!slice.TryAddRef())
        {
            return false;
        }
        slice.Release();
        return true;
    }

    [Fact]
    public void TryGet_SameSequenceTwice_OneReferenceUntilReleaseAll()
    {
        using var ring = new Ring(1000, 1 << 20);
        var lease = new SliceLease();
        for (var t = 0; t <= 200; t += 40)
        {
            var chunk = SliceChunk.Rent(_pool, 10);
            ring.Append(new Slice(chunk, 0, 10, ring.Head, t, t, t == 0, null));
        }
        var first = Peek(ring, 1);

        Assert.True(lease.TryGet(ring, 1, out var a));
        Assert.True(lease.TryGet(ring, 1, out var b));
        Assert.Same(first, a);
        Assert.Same(a, b);
        // 17 slots apart: the same slot, so the lease drops 1 for 17 (not in the ring: false, and 1 is kept).
        Assert.False(lease.TryGet(ring, 17, out _));
        Assert.True(lease.TryGet(ring, 2, out _));

        // The ring lets go of everything: the lease's references alone keep slices 1 and 2.
        ring.Dispose();
        Assert.True(StillReferenced(first));
        lease.ReleaseAll();
        Assert.False(StillReferenced(first));
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task ParkedSend_KeepsItsSlicesAfterTheWalk_UntilTheSendCompletes()
    {
        using var mount = TestMounts.Create(_time, _pool, new MountConfig { Path = "/live", Buffer = TimeSpan.FromSeconds(1) },
            new ServerConfig { FlushInterval = TimeSpan.FromMilliseconds(40) });
        var source = new SourceSession(mount, "encoder");
        Assert.True(mount.TryClaim(source));
        TestMounts.PublishFlv(mount, 0, keyframe: true);

        // Two listeners on the same share (one send loop walks both, one after the other): one whose socket takes
        // nothing (its send parks), one whose sends mark the walks.
        var parkedSink = new DirectSink(park: true);
        var parked = new Listener(mount, parkedSink, "parked");
        Listener marker;
        var markerSink = new DirectSink(park: false);
        do
        {
            marker = new Listener(mount, markerSink, "marker");
        }
        while (!ReferenceEquals(mount.ShareFor(marker.Id), mount.ShareFor(parked.Id)));
        Assert.True(mount.TryAddListener(parked));
        Assert.True(mount.TryAddListener(marker));
        var parkedRun = parked.RunAsync(CancellationToken.None);
        var markerRun = marker.RunAsync(CancellationToken.None);

        // Both joined (through WriteAsync); the next flush walks them: the parked one's send stays pending.
        await parkedSink.Joined.Task.WaitAsync(s_timeout);
        await markerSink.Joined.Task.WaitAsync(s_timeout);
        var sends = markerSink.NextSend;
        TestMounts.PublishFlv(mount, 40, keyframe: false);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        await parkedSink.Parked.Task.WaitAsync(s_timeout);
        await sends.WaitAsync(s_timeout);
        var lent = Peek(mount.Ring, 1);

        // Another walk of the share: the one that lent slice 1 has ended and released its lease.
        sends = markerSink.NextSend;
        TestMounts.PublishFlv(mount, 80, keyframe: false);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        await sends.WaitAsync(s_timeout);

        // The ring lets go of slice 1 (a keyframe more than the 1 s buffer later): only the parked send still holds it.
        TestMounts.PublishFlv(mount, 5000, keyframe: true);
        Assert.True(mount.Ring.Tail > 1, $"tail {mount.Ring.Tail}");
        Assert.True(StillReferenced(lent), "the parked send's slice was released while the send was pending");
        Assert.Equal(parkedSink.Expected, parkedSink.Pending.ToArray());

        // The send completes: its references go.
        parkedSink.Complete(parked);
        Assert.False(StillReferenced(lent));

        // Both end with the stream (the parked one may have been lapped first), and nothing is left referenced.
        mount.Release(source);
        _time.Advance(TimeSpan.FromMinutes(1));
        Assert.Contains(await parkedRun.WaitAsync(s_timeout), new[] { ListenerEnd.EvictedLapped, ListenerEnd.StreamEnded });
        Assert.Equal(ListenerEnd.StreamEnded, await markerRun.WaitAsync(s_timeout));
        mount.Dispose();
        Assert.Equal(0, _pool.Outstanding);
    }
}
