using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.AspNetCore.Http;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>GET /status.json: per mount state and counters. Lists are always arrays (FIELD-NOTES 7).</summary>
internal static class StatusHandler
{
    private static readonly DateTimeOffset s_started = DateTimeOffset.UtcNow;

    public static StatusDocument Build(MountRegistry registry, IReadOnlyList<Savate.Relay.RelayStatus>? relays = null)
    {
        var mounts = registry.Mounts.Select(BuildMount).ToArray();
        return new StatusDocument(
            new ServerStatus(
                "savate",
                typeof(StatusHandler).Assembly.GetName().Version?.ToString() ?? "0",
                s_started,
                (long)(DateTimeOffset.UtcNow - s_started).TotalSeconds,
                registry.ListenerCount,
                registry.Config.Server.MaxListeners,
                mounts.Count(m => m.SourceConnected),
                registry.Pool.OutstandingBytes),
            mounts,
            [.. (relays ?? []).Select(r => new RelayStatusDto(r.Mount, r.State.ToString().ToLowerInvariant() switch
            {
                "backingoff" => "backing-off",
                var state => state,
            }, r.Upstream, r.Connects, r.Reconnects, r.LastError, r.Since, r.OnDemand))]);
    }

    public static Task WriteAsync(HttpContext context, MountRegistry registry, IReadOnlyList<Savate.Relay.RelayStatus>? relays = null)
    {
        context.Response.ContentType = "application/json; charset=utf-8";
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.AccessControlAllowOrigin = "*";
        if (HttpMethods.IsHead(context.Request.Method))
        {
            return Task.CompletedTask;
        }
        return JsonSerializer.SerializeAsync(context.Response.Body, Build(registry, relays), StatusJsonContext.Default.StatusDocument, context.RequestAborted);
    }

    private static MountStatus BuildMount(Mount mount)
    {
        var listeners = mount.SnapshotListeners();
        var source = mount.Source;
        var ring = mount.Ring;
        var headTime = ring.HeadTime;
        var tailTime = ring.StartTimeOf(ring.Tail);
        var state = source is not null ? "live" : mount.InGrace ? "grace" : mount.Availability == MountAvailability.Playable ? "fallback" : "idle";
        return new MountStatus(
            mount.Path,
            mount.Config.Title,
            mount.Format switch { MountFormat.Flv => "flv", MountFormat.Mpegts => "mpegts", _ => "auto" },
            ListenerHandler.ContentTypeOf(mount.Format),
            state,
            mount.Playing,
            mount.Switches,
            source is not null,
            source is null ? null : new SourceStatus(source.ConnectedAt, source.BytesIn),
            mount.IsDynamic,
            mount.IsRelayed,
            mount.Headers?.Codecs.ToArray() ?? [],
            mount.Stats.InputBitrate,
            listeners.Length,
            mount.Config.MaxListeners,
            mount.Stats.BytesIn,
            mount.Stats.BytesOutClosed + listeners.Sum(l => l.BytesSent),
            mount.Stats.KeyframeIntervalMs,
            mount.Stats.Skips,
            mount.Stats.Evictions,
            mount.Stats.SourceConnections,
            mount.Stats.ListenerConnections,
            new RingStatus(ring.Count, ring.Bytes, tailTime is { } t && headTime != long.MinValue ? headTime - t : 0, ring.Head));
    }
}

internal sealed record StatusDocument(ServerStatus Server, MountStatus[] Mounts, RelayStatusDto[] Relays);

internal sealed record RelayStatusDto(string Mount, string State, string? Upstream, long Connects, long Reconnects, string? LastError, DateTimeOffset Since, bool OnDemand);

internal sealed record ServerStatus(string Name, string Version, DateTimeOffset Started, long UptimeSeconds, int Listeners, int MaxListeners, int Sources, long BufferBytes);

/// <summary>A mount's source, as anyone may see it: not its address nor its user agent (for an authenticated admin API).</summary>
internal sealed record SourceStatus(DateTimeOffset ConnectedAt, long BytesIn);

internal sealed record RingStatus(int Slices, long Bytes, long DurationMs, long Head);

internal sealed record MountStatus(
    string Path,
    string? Title,
    string Format,
    string ContentType,
    string State,
    string Playing,
    long Switches,
    bool SourceConnected,
    SourceStatus? Source,
    bool Dynamic,
    bool Relayed,
    string[] Codecs,
    long InputBitrate,
    int Listeners,
    int? MaxListeners,
    long BytesIn,
    long BytesOut,
    long KeyframeIntervalMs,
    long Skips,
    long Evictions,
    long SourceConnections,
    long ListenerConnections,
    RingStatus Ring);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(StatusDocument))]
internal sealed partial class StatusJsonContext : JsonSerializerContext;
