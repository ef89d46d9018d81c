namespace Savate.Server.Configuration;

/// <summary>An item of yaml <c>mounts</c> (or <c>server.mount-defaults</c>): one stream path and how it is served.</summary>
public sealed record MountConfig
{
    /// <summary>yaml <c>path</c>: the URL path, starting with <c>/</c>. Required.</summary>
    public required string Path { get; init; }

    /// <summary>yaml <c>format</c>: <c>auto</c>, <c>flv</c> or <c>mpegts</c>. Default: auto.</summary>
    public MountFormat Format { get; init; } = MountFormat.Auto;

    /// <summary>yaml <c>source-password</c>: overrides <see cref="ServerConfig.SourcePassword"/>. Default: the server's.</summary>
    public string? SourcePassword { get; init; }

    /// <summary>yaml <c>max-listeners</c>: listeners of this mount. Default: none (only the server-wide limit).</summary>
    public int? MaxListeners { get; init; }

    /// <summary>yaml <c>burst</c>: media sent at once to a new listener, from the last keyframe. Default: 0s (start at the live edge).</summary>
    public TimeSpan Burst { get; init; } = TimeSpan.Zero;

    /// <summary>yaml <c>max-lag</c>: a listener further behind is skipped to the next keyframe. Default: 5s.</summary>
    public TimeSpan MaxLag { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>yaml <c>evict-lag</c>: a listener further behind is disconnected. Default: 15s.</summary>
    public TimeSpan EvictLag { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>yaml <c>buffer</c>: media time held by the ring. Default: 30s (twice the default evict-lag).</summary>
    public TimeSpan Buffer { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>yaml <c>buffer-bytes</c> (size syntax): byte bound of the ring. Default: 64 MiB (30s at about 17 Mbit/s).</summary>
    public long BufferBytes { get; init; } = 64L * 1024 * 1024;

    /// <summary>yaml <c>grace</c>: how long listeners are held after the source leaves, before falling back. Default: 2s.</summary>
    public TimeSpan Grace { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>yaml <c>fallback</c>: what listeners get when the source is gone, tried in order. Default: none (disconnect).</summary>
    public IReadOnlyList<FallbackConfig> Fallback { get; init => field = ValueList<FallbackConfig>.From(value); } = ValueList<FallbackConfig>.Empty;

    /// <summary>yaml <c>override</c>: whether listeners move back from a fallback when the source returns. Default: true.</summary>
    public bool Override { get; init; } = true;

    /// <summary>yaml <c>hls</c>: HLS segmenting of this mount. Default: enabled, on demand (<see cref="HlsConfig"/>).</summary>
    public HlsConfig Hls { get; init; } = new();

    /// <summary>yaml <c>listener-auth</c>: who may watch (HTTP-FLV/TS, HEAD, HLS). Default: anyone (<see cref="AuthConfig.None"/>).</summary>
    public AuthConfig ListenerAuth { get; init; } = AuthConfig.None;

    /// <summary>yaml <c>source-auth</c>: who may publish, besides the source password. Default: only the password.</summary>
    public AuthConfig SourceAuth { get; init; } = AuthConfig.None;

    /// <summary>yaml <c>listener-ip</c>: CIDR allow/deny lists for listeners, on top of the server's. Default: none.</summary>
    public Auth.IpRules ListenerIp { get; init; } = Auth.IpRules.None;

    /// <summary>yaml <c>source-ip</c>: CIDR allow/deny lists for sources, on top of the server's. Default: none.</summary>
    public Auth.IpRules SourceIp { get; init; } = Auth.IpRules.None;

    /// <summary>
    /// yaml <c>referers</c>: origins (<c>scheme://host[:port]</c>) a browser player may be embedded in; a listener whose Referer
    /// or Origin names another origin gets 403, one with neither header is let in. Default: none (no check).
    /// </summary>
    public IReadOnlyList<string> Referers { get; init => field = ValueList<string>.From(value); } = ValueList<string>.Empty;

    /// <summary>yaml <c>title</c>: shown on the status page. Default: none.</summary>
    public string? Title { get; init; }
}
