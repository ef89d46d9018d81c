using System.Collections.Concurrent;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Admin;

/// <summary>
/// Moves a mount's listeners to another mount (admin <c>move</c>, Icecast <c>moveclients</c>) without
/// breaking their streams. Each listener's output follows its old mount's timeline, so it cannot simply
/// read the destination's ring. Instead the move builds a private <em>carrier</em> mount that continues the
/// old mount's timeline (FLV timestamps, TS continuity counters, PCR/PTS/DTS and PSI version) and plays the
/// destination exactly as a fallback mount is played (Streaming/README.md): its listeners switch at the
/// destination's next keyframe, get its configuration in-band, and their timestamps go on rising. The
/// listeners leave the old mount at once (a batch in flight completes) and continue on the carrier over
/// the same connection. The carrier goes when its last listener leaves; when the destination loses its
/// source, its listeners get the destination's grace period, then a clean end.
/// </summary>
internal static class ListenerMover
{
    // The carrier's timeline starts this far (ms) after the old mount's last output: a listener may still
    // send a slice published between the move and its next loop (one frame at most), and must never go back.
    private const long TimelineMargin = 200;

    private static readonly ConcurrentDictionary<Mount, byte> s_carriers = new();

    internal readonly record struct MoveResult(int Moved, string? Error);

    public static MoveResult Move(MountRegistry registry, Mount from, Mount to)
    {
        if (ReferenceEquals(from, to))
        {
            return new MoveResult(0, "The destination is the mount itself");
        }
        if (to.Source is null || to.Format == MountFormat.Auto)
        {
            return new MoveResult(0, $"{to.Path} has no live source to move listeners to");
        }
        if (from.Format != MountFormat.Auto && from.Format != to.Format)
        {
            return new MoveResult(0, $"{from.Path} carries {Describe(from.Format)} and {to.Path} {Describe(to.Format)}: listeners cannot change format");
        }
        // Listeners moved to this mount before sit on carriers with timelines of their own: each group gets
        // its own carrier, continuing the timeline its listeners follow.
        var moved = 0;
        foreach (var group in CarriersOf(from).Prepend(from))
        {
            var listeners = group.SnapshotListeners().Where(l => !l.IsFeed).ToList();
            if (listeners.Count > 0)
            {
                moved += MoveGroup(registry, group, listeners, to);
            }
        }
        return new MoveResult(moved, null);
    }

    private static int MoveGroup(MountRegistry registry, Mount from, List<Listener> listeners, Mount to)
    {
        var carrier = new Mount(to.Config with { Fallback = [new FallbackConfig { Mount = to.Path }], Override = true, MaxListeners = null },
            to.Server, registry.Pool, registry.Time, to.Logger, findMount: registry.Find)
        {
            CarrierFor = to,
        };
        carrier.TrySetFormat(to.Format);
        var moved = 0;
        foreach (var listener in listeners)
        {
            if (listener.RequestMove(carrier))
            {
                moved++;
            }
        }
        // Only now: every moved listener has stopped taking new slices from the old mount.
        carrier.Timeline.ContinueFrom(from.Timeline, TimelineMargin);
        carrier.TsOutput.CopyFrom(from.TsOutput, TimelineMargin * 90);
        s_carriers[carrier] = 0;
        carrier.Start();
        return moved;
    }

    private static IEnumerable<Mount> CarriersOf(Mount mount) =>
        s_carriers.Keys.Where(carrier => ReferenceEquals(carrier.CarrierFor, mount)).ToList();

    /// <summary>A mount's client listeners, including those moved to it (they sit on its carriers).</summary>
    public static List<Listener> ListenersOf(Mount mount)
    {
        var listeners = mount.SnapshotListeners().Where(l => !l.IsFeed).ToList();
        foreach (var carrier in CarriersOf(mount))
        {
            listeners.AddRange(carrier.SnapshotListeners().Where(l => !l.IsFeed));
        }
        return listeners;
    }

    /// <summary>
    /// After a listener's run ended: when an operator moved it, its continuation on the carrier (same connection, id,
    /// bytes and skips) replaces it and the caller runs that one. False when the listener is done (on the mount it must
    /// leave). A step called in the caller's own loop, not an async method awaited by it: each level of awaiting is
    /// a state machine held for the listener's life.
    /// </summary>
    public static bool TryFollowMove(ref Listener listener, ListenerEnd end)
    {
        if (end != ListenerEnd.Moved || listener.MovedTo is not { } carrier)
        {
            return false;
        }
        var next = listener.ContinueOnMovedMount();
        if (!carrier.TryAddListener(next))
        {
            RetireIfIdle(carrier);
            return false;
        }
        listener.Mount.RemoveListener(listener);
        listener = next;
        return true;
    }

    /// <summary>Disposes a carrier whose last listener left (called as each listener leaves a mount).</summary>
    public static void RetireIfIdle(Mount mount)
    {
        if (mount.CarrierFor is not null && mount.SnapshotListeners().All(l => l.IsFeed) && s_carriers.TryRemove(mount, out _))
        {
            mount.Dispose();
        }
    }

    private static string Describe(MountFormat format) => format == MountFormat.Flv ? "FLV" : "MPEG-TS";
}
