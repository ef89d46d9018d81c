using System.Diagnostics.Metrics;
using Savate.Server.Relaying;
using Savate.Server.Streaming;

namespace Savate.Server.Metrics;

/// <summary>
/// Savate's instruments (meter <c>Savate</c>), in the style of Kestrel's <c>KestrelMetrics</c>: one sealed
/// class from <see cref="IMeterFactory"/>, names under <c>savate.</c> with a unit and a description. Every
/// instrument is observable: it reads the counters the streaming core keeps anyway (<see cref="MountStats"/>,
/// the ring, the listener sets, the relay states) when a reader collects, so the hot paths carry no metric
/// code at all. The attributes are <c>mount</c> (the mount path) and, on refusals, a fixed <c>reason</c>: cardinality is bounded by the number of
/// mounts, never by connections (FIELD-NOTES 9).
/// </summary>
internal sealed class SavateMetrics
{
    public const string MeterName = "Savate";

    private readonly MountRegistry _registry;
    private readonly RelayService _relays;

    public SavateMetrics(IMeterFactory meterFactory, MountRegistry registry, RelayService relays, Http.AddressLimits limits)
    {
        _registry = registry;
        _relays = relays;
        var meter = meterFactory.Create(MeterName);

        // Per mount.
        meter.CreateObservableUpDownCounter("savate.mount.listeners", () => PerMount(m => (long)m.ListenerCount),
            "{listener}", "Listeners connected to the mount now (a fallback or move feed counts as one).");
        meter.CreateObservableCounter("savate.mount.listener.connections", () => PerMount(m => m.Stats.ListenerConnections),
            "{connection}", "Listener connections accepted on the mount since it was created.");
        meter.CreateObservableCounter("savate.mount.received", () => PerMount(m => m.Stats.BytesIn),
            "By", "Bytes received from the mount's sources.");
        meter.CreateObservableCounter("savate.mount.sent", () => PerMount(BytesOut),
            "By", "Bytes sent to the mount's listeners (those connected now and those gone).");
        meter.CreateObservableCounter("savate.mount.skips", () => PerMount(m => m.Stats.Skips),
            "{skip}", "Times a listener later than max-lag was skipped to the newest keyframe.");
        meter.CreateObservableCounter("savate.mount.evictions", () => PerMount(m => m.Stats.Evictions),
            "{eviction}", "Listeners disconnected for lag (later than evict-lag, or lapped by the ring).");
        meter.CreateObservableCounter("savate.mount.source.connections", () => PerMount(m => m.Stats.SourceConnections),
            "{connection}", "Sources that claimed the mount since it was created.");
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
        meter.CreateObservableCounter("savate.relay.reconnects", ObserveRelayReconnects,
            "{reconnect}", "Times the relay connected again after losing its upstream.");

        // Server-wide.
        meter.CreateObservableUpDownCounter("savate.listeners", () => (long)_registry.ListenerCount,
            "{listener}", "Listeners connected to the server now (server.max-listeners applies to this).");
        meter.CreateObservableUpDownCounter("savate.sources", () => (long)_registry.Mounts.Count(m => m.Source is not null),
            "{source}", "Live sources connected now.");
        meter.CreateObservableCounter("savate.connections.refused", () => (IEnumerable<Measurement<long>>)[
                new(limits.RefusedConcurrent, new KeyValuePair<string, object?>("reason", "per-address-limit")),
                new(limits.RefusedRate, new KeyValuePair<string, object?>("reason", "per-address-rate"))],
            "{connection}", "Requests refused by a per-address cap (reason: per-address-limit, per-address-rate).");
        meter.CreateObservableUpDownCounter("savate.buffer.size", () => _registry.Pool.OutstandingBytes,
            "By", "Bytes of slice buffers in use across all mounts.");
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
