using System.Diagnostics.Metrics;
using Savate.Server.Relaying;
using Savate.Server.Streaming;

namespace Savate.Server.Metrics;

/// <summary>
/// Savate's instruments (meter <c>Savate</c>), in the style of Kestrel's <c>KestrelMetrics</c>: one sealed
/// class from <see cref="IMeterFactory"/>, names under <c>savate.</c> with a unit and a description. Every
/// instrument is observable: it reads the counters the streaming core keeps anyway (<see cref="MountStats"/>,
/// the ring, the listener sets, the relay states, <see cref="RefusalCounters"/>) when a reader collects, so a hot
/// path carries at most one interlocked increment of a preallocated slot. Attributes: <c>mount</c> (the mount
/// path), and a bounded <c>reason</c> or <c>state</c> where a count has causes: cardinality is bounded by the
/// number of mounts times a fixed handful, never by connections (FIELD-NOTES 9).
/// </summary>
internal sealed class SavateMetrics
{
    public const string MeterName = "Savate";

    private readonly MountRegistry _registry;
    private readonly RelayService _relays;
    private readonly Http.AddressLimits _limits;

    public SavateMetrics(IMeterFactory meterFactory, MountRegistry registry, RelayService relays, Http.AddressLimits limits)
    {
        _registry = registry;
        _relays = relays;
        _limits = limits;
        var meter = meterFactory.Create(MeterName);

        // Per mount.
        meter.CreateObservableUpDownCounter("savate.mount.listeners", () => PerMount(m => (long)Admin.ListenerMover.ListenersOf(m).Count),
            "{listener}", "Client listeners of the mount now, including those an operator moved to it (not the feeds of mounts playing it as a fallback).");
        meter.CreateObservableCounter("savate.mount.listener.connections", () => PerMount(m => m.Stats.ListenerConnections),
            "{connection}", "Listener connections accepted on the mount since it was created.");
        meter.CreateObservableCounter("savate.mount.received", () => PerMount(m => m.Stats.BytesIn),
            "By", "Bytes received from the mount's sources.");
        meter.CreateObservableCounter("savate.mount.sent", () => PerMount(BytesOut),
            "By", "Bytes sent to the mount's listeners (those connected now and those gone).");
        meter.CreateObservableCounter("savate.mount.skips", ObserveSkips,
            "{skip}", "Times a listener was skipped to the newest keyframe, by reason (max-lag).");
        meter.CreateObservableCounter("savate.mount.evictions", ObserveEvictions,
            "{eviction}", "Listeners disconnected by the server, by reason: evict-lag, lapped (by the ring), stuck (in a write past evict-lag), stuck-tcp-pressure (past max-lag while the kernel's TCP memory is under pressure).");
        meter.CreateObservableCounter("savate.mount.source.connections", () => PerMount(m => m.Stats.SourceConnections),
            "{connection}", "Sources that claimed the mount since it was created.");
        meter.CreateObservableCounter("savate.mount.source.drops", ObserveSourceDrops,
            "{source}", "Sources that let go of the mount, by reason: completed, timed-out, bad-data, connection-lost, cancelled (kicked or shutdown), over-limit, refused (never streamed).");
        meter.CreateObservableUpDownCounter("savate.mount.source.connected", () => PerMount(m => m.Source is null ? 0L : 1L),
            "{source}", "1 while a live source pushes to the mount, else 0.");
        meter.CreateObservableCounter("savate.mount.switches", () => PerMount(m => m.Switches),
            "{switch}", "Switches between the live source and fallbacks.");
        meter.CreateObservableUpDownCounter("savate.mount.ring.size", () => PerMount(m => m.Ring.Bytes),
            "By", "Bytes of media the mount's ring holds.");
        meter.CreateObservableGauge("savate.mount.ring.duration", () => PerMount(RingSeconds),
            "s", "Media time the mount's ring holds.");
        meter.CreateObservableGauge("savate.mount.input.bitrate", () => PerMount(m => m.Stats.InputBitrate),
            "bit/s", "Input bitrate over the last two seconds.");

        // Relays, per relayed mount.
        meter.CreateObservableUpDownCounter("savate.relay.streaming", ObserveRelayStreaming,
            "{relay}", "1 while the relay pulls its upstream, else 0 (idle, connecting or backing off).");
        meter.CreateObservableUpDownCounter("savate.relay.state", ObserveRelayState,
            "{relay}", "1 for the relay's current state (tag state: idle, connecting, streaming, backing-off, stopped), 0 for the others.");
        meter.CreateObservableCounter("savate.relay.reconnects", ObserveRelayReconnects,
            "{reconnect}", "Times the relay connected again after losing its upstream.");

        // Server-wide.
        meter.CreateObservableUpDownCounter("savate.listeners", () => (long)_registry.ListenerCount,
            "{listener}", "Listeners connected to the server now (server.max-listeners applies to this).");
        meter.CreateObservableUpDownCounter("savate.sources", () => (long)_registry.Mounts.Count(m => m.Source is not null),
            "{source}", "Live sources connected now.");
        meter.CreateObservableUpDownCounter("savate.buffer.size", () => _registry.Pool.OutstandingBytes,
            "By", "Bytes of slice buffers in use across all mounts.");
        meter.CreateObservableCounter("savate.connections.refused", ObserveRefused,
            "{connection}", "Connections and requests refused or shed, by reason (max-listeners, mount-full, no-source, pending-limit, pending-shed, fd-limit, head-timeout, bad-request, head-too-large, uri-too-long, dynamic-mount-limit, source-unauthorized, source-conflict, source-unsupported, per-address-limit, per-address-rate).");
        meter.CreateObservableCounter("savate.listeners.redirected", () => _registry.Refusals.Redirects,
            "{listener}", "New listeners sent to a slave (302, server.redirect).");
        meter.CreateObservableGauge("savate.send.flush.stretch", () => Streaming.SendLoops.Shared.Pacer.Factor,
            "1", "How far the send loops stretch the flush interval now: 1 is flush-interval as configured; at most max-flush-interval / flush-interval (the loops are busy).");
    }

    private IEnumerable<Measurement<long>> PerMount(Func<Mount, long> read)
    {
        foreach (var mount in _registry.Mounts)
        {
            yield return new Measurement<long>(read(mount), new KeyValuePair<string, object?>("mount", mount.Path));
        }
    }

    private IEnumerable<Measurement<double>> PerMount(Func<Mount, double> read)
    {
        foreach (var mount in _registry.Mounts)
        {
            yield return new Measurement<double>(read(mount), new KeyValuePair<string, object?>("mount", mount.Path));
        }
    }

    private static long BytesOut(Mount mount)
    {
        long bytes = mount.Stats.BytesOutClosed;
        foreach (var listener in mount.SnapshotListeners())
        {
            bytes += listener.BytesSent;
        }
        return bytes;
    }

    private static double RingSeconds(Mount mount)
    {
        var ring = mount.Ring;
        var head = ring.HeadTime;
        return ring.StartTimeOf(ring.Tail) is { } tail && head != long.MinValue ? (head - tail) / 1000.0 : 0;
    }

    private IEnumerable<Measurement<long>> ObserveSkips()
    {
        foreach (var mount in _registry.Mounts)
        {
            yield return new Measurement<long>(mount.Stats.Skips, Tag("mount", mount.Path), s_reasonMaxLag);
        }
    }

    private IEnumerable<Measurement<long>> ObserveEvictions()
    {
        foreach (var mount in _registry.Mounts)
        {
            for (var i = 0; i < MountStats.EvictionReasons.Length; i++)
            {
                yield return new Measurement<long>(mount.Stats.EvictionsFor((EvictionReason)i), Tag("mount", mount.Path), Tag("reason", MountStats.EvictionReasons[i]));
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveSourceDrops()
    {
        foreach (var mount in _registry.Mounts)
        {
            for (var i = 0; i < MountStats.SourceEndReasons.Length; i++)
            {
                yield return new Measurement<long>(mount.Stats.SourceEndsAt(i), Tag("mount", mount.Path), Tag("reason", MountStats.SourceEndReasons[i]));
            }
        }
    }

    private IEnumerable<Measurement<long>> ObserveRefused()
    {
        foreach (var reason in RefusalCounters.Reasons)
        {
            yield return new Measurement<long>(_registry.Refusals.Count(reason), Tag("reason", RefusalCounters.Tag(reason)));
        }
        // The per-address caps keep their own counts (Http/AddressLimits).
        yield return new Measurement<long>(_limits.RefusedConcurrent, s_reasonPerAddressLimit);
        yield return new Measurement<long>(_limits.RefusedRate, s_reasonPerAddressRate);
    }

    private static readonly KeyValuePair<string, object?> s_reasonPerAddressLimit = Tag("reason", "per-address-limit");
    private static readonly KeyValuePair<string, object?> s_reasonPerAddressRate = Tag("reason", "per-address-rate");

    private static readonly KeyValuePair<string, object?> s_reasonMaxLag = Tag("reason", "max-lag");

    private static readonly (Savate.Relay.RelayState State, string Tag)[] s_relayStates =
    [
        (Savate.Relay.RelayState.Idle, "idle"),
        (Savate.Relay.RelayState.Connecting, "connecting"),
        (Savate.Relay.RelayState.Streaming, "streaming"),
        (Savate.Relay.RelayState.BackingOff, "backing-off"),
        (Savate.Relay.RelayState.Stopped, "stopped"),
    ];

    private IEnumerable<Measurement<long>> ObserveRelayState()
    {
        foreach (var relay in _relays.Statuses)
        {
            foreach (var (state, tag) in s_relayStates)
            {
                yield return new Measurement<long>(relay.State == state ? 1 : 0, Tag("mount", relay.Mount), Tag("state", tag));
            }
        }
    }

    private static KeyValuePair<string, object?> Tag(string name, string value) => new(name, value);

    private IEnumerable<Measurement<long>> ObserveRelayStreaming()
    {
        foreach (var relay in _relays.Statuses)
        {
            yield return new Measurement<long>(relay.State == Savate.Relay.RelayState.Streaming ? 1 : 0, new KeyValuePair<string, object?>("mount", relay.Mount));
        }
    }

    private IEnumerable<Measurement<long>> ObserveRelayReconnects()
    {
        foreach (var relay in _relays.Statuses)
        {
            yield return new Measurement<long>(relay.Reconnects, new KeyValuePair<string, object?>("mount", relay.Mount));
        }
    }
}
