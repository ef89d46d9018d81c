namespace Savate.Server.Configuration;

/// <summary>yaml <c>hls</c> under a mount (or <c>server.mount-defaults</c>): HLS segmenting of the mount (src/Savate.Server/Hls/README.md).</summary>
public sealed record HlsConfig
{
    /// <summary>yaml <c>enabled</c>: serve <c>{mount}/index.m3u8</c>. Default: true.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>
    /// yaml <c>segment-duration</c>: the shortest segment; each is cut at the first keyframe after it, and the
    /// playlist's TARGETDURATION is this rounded up to the stream's GOP. Default: 2s (hls.js and Safari start
    /// after three segments, so about 6 s behind live).
    /// </summary>
    public TimeSpan SegmentDuration { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>yaml <c>window</c>: segments listed in the media playlist. Default: 6 (RFC 8216 6.2.2 asks for at least 3 target durations).</summary>
    public int Window { get; init; } = 6;

    /// <summary>yaml <c>idle-timeout</c>: segmenting stops this long after the last HLS request. Default: 30s.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>yaml <c>always</c>: segment while the mount plays, even with no HLS client. Default: false (on demand).</summary>
    public bool Always { get; init; }
}
