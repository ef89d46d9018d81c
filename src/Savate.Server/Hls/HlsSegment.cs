namespace Savate.Server.Hls;

/// <summary>
/// One finished MPEG-TS segment: immutable once published, so it is served as it is to every client and
/// cached forever under its unique name. Starts with PAT, PMT and a keyframe (with the random access indicator).
/// </summary>
internal sealed class HlsSegment(long sequence, byte[] data, long startTime, long durationMilliseconds, bool discontinuity, bool startsWithKeyframe)
{
    private int _served;

    /// <summary>EXT-X-MEDIA-SEQUENCE number: monotonic for the mount's life.</summary>
    public long Sequence { get; } = sequence;

    public byte[] Data { get; } = data;

    /// <summary>Media time (ms, mount timeline) of its first frame.</summary>
    public long StartTime { get; } = startTime;

    public long DurationMilliseconds { get; } = durationMilliseconds;

    /// <summary>Preceded by EXT-X-DISCONTINUITY: the codec configuration changed, or segmenting restarted.</summary>
    public bool Discontinuity { get; } = discontinuity;

    /// <summary>False only for a segment cut without a keyframe to keep EXTINF within the target duration.</summary>
    public bool StartsWithKeyframe { get; } = startsWithKeyframe;

    /// <summary>GET answers with this segment's bytes (whole or a range): what a cache in front saves shows here.</summary>
    public int Served => Volatile.Read(ref _served);

    public void OnServed() => Interlocked.Increment(ref _served);
}

/// <summary>Codecs and picture size for the multivariant playlist, from the SPS and the AAC configuration.</summary>
internal sealed record HlsCodecs(string? Video, string? Audio, int Width, int Height)
{
    public string CodecsAttribute => string.Join(",", new[] { Video, Audio }.Where(c => c is not null));
}
