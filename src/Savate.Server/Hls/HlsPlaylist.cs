using System.Globalization;
using System.Text;

namespace Savate.Server.Hls;

/// <summary>
/// A mount's HLS state for its whole life, across segmenter runs, source reconnects and fallback switches: the
/// segments (the playlist window plus as many again that have left it and stay fetchable, RFC 8216 6.2.2), the
/// media sequence and discontinuity sequence counters, the fixed target duration, and the codecs. Thread-safe:
/// one segmenter adds, any number of requests read.
/// </summary>
internal sealed class HlsPlaylist(string runId, int window, long maxBytes)
{
    private readonly object _lock = new();
    private readonly List<HlsSegment> _segments = [];
    private long _bytes;
    private long _nextSequence;
    private long _discontinuitySequence;
    private int _targetDuration;
    private HlsCodecs? _codecs;
    private TaskCompletionSource _added = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Prefix of every segment name: unique to this server run, so no cache serves a segment of an earlier run.</summary>
    public string RunId { get; } = runId;

    public int Window { get; set; } = window;

    public long MaxBytes { get; set; } = maxBytes;

    /// <summary>TARGETDURATION in seconds, fixed by the first segment (0 until then).</summary>
    public int TargetDuration
    {
        get
        {
            lock (_lock)
            {
                return _targetDuration;
            }
        }
    }

    /// <summary>The sequence number the next segment gets.</summary>
    public long NextSequence
    {
        get
        {
            lock (_lock)
            {
                return _nextSequence;
            }
        }
    }

    public long Bytes
    {
        get
        {
            lock (_lock)
            {
                return _bytes;
            }
        }
    }

    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _segments.Count;
            }
        }
    }

    /// <summary>Completes when the next segment is added.</summary>
    public Task SegmentAdded
    {
        get
        {
            lock (_lock)
            {
                return _added.Task;
            }
        }
    }

    public HlsCodecs? Codecs
    {
        get
        {
            lock (_lock)
            {
                return _codecs;
            }
        }
        set
        {
            lock (_lock)
            {
                _codecs = value;
            }
        }
    }

    /// <summary>Fixes TARGETDURATION once; later calls keep the first value (raising it mid-stream breaks iOS).</summary>
    public int FixTargetDuration(int seconds)
    {
        lock (_lock)
        {
            if (_targetDuration == 0)
            {
                _targetDuration = Math.Max(1, seconds);
            }
            return _targetDuration;
        }
    }

    /// <summary>Adds a finished segment with the next sequence number and drops what no longer needs keeping.</summary>
    public HlsSegment Add(byte[] data, long startTime, long durationMilliseconds, bool discontinuity, bool startsWithKeyframe)
    {
        TaskCompletionSource added;
        HlsSegment segment;
        lock (_lock)
        {
            segment = new HlsSegment(_nextSequence++, data, startTime, durationMilliseconds, discontinuity, startsWithKeyframe);
            _segments.Add(segment);
            _bytes += data.Length;
            // Keep the window, plus as many segments again after they leave it; the byte bound wins over both
            // (but never drops the window's newest segments below 3).
            var window = Math.Max(1, Window);
            while (_segments.Count > 2 * window || (_bytes > MaxBytes && _segments.Count > 3))
            {
                RemoveOldest();
            }
            added = _added;
            _added = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        }
        added.TrySetResult();
        return segment;
    }

    public HlsSegment? Find(long sequence)
    {
        lock (_lock)
        {
            if (_segments.Count == 0)
            {
                return null;
            }
            var index = sequence - _segments[0].Sequence;
            return index >= 0 && index < _segments.Count ? _segments[(int)index] : null;
        }
    }

    /// <summary>The segments of the playlist window, oldest first, and the discontinuity sequence of the first.</summary>
    public (HlsSegment[] Segments, long DiscontinuitySequence, int TargetDuration) Snapshot()
    {
        lock (_lock)
        {
            var first = Math.Max(0, _segments.Count - Math.Max(1, Window));
            var discontinuitySequence = _discontinuitySequence;
            for (var i = 0; i < first; i++)
            {
                discontinuitySequence += _segments[i].Discontinuity ? 1 : 0;
            }
            return ([.. _segments.Skip(first)], discontinuitySequence, _targetDuration);
        }
    }

    public string SegmentName(long sequence) => $"{RunId}-{sequence.ToString(CultureInfo.InvariantCulture)}.ts";

    /// <summary>Parses a name made by <see cref="SegmentName"/>; false for anything else (other runs included).</summary>
    public bool TryParseSegmentName(string name, out long sequence)
    {
        if (name.Length > RunId.Length + 4
            && name.StartsWith(RunId, StringComparison.Ordinal)
            && name[RunId.Length] == '-'
            && name.EndsWith(".ts", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(RunId.Length + 1, name.Length - RunId.Length - 4), NumberStyles.None, CultureInfo.InvariantCulture, out sequence))
        {
            return true;
        }
        sequence = -1;
        return false;
    }

    /// <summary>The media playlist (RFC 8216 4.3), or null before the first segment.</summary>
    public string? RenderMediaPlaylist()
    {
        var (segments, discontinuitySequence, target) = Snapshot();
        if (segments.Length == 0)
        {
            return null;
        }
        var text = new StringBuilder(256 + 48 * segments.Length);
        text.Append("#EXTM3U\n#EXT-X-VERSION:3\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-TARGETDURATION:{target}\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-MEDIA-SEQUENCE:{segments[0].Sequence}\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-DISCONTINUITY-SEQUENCE:{discontinuitySequence}\n");
        text.Append("#EXT-X-INDEPENDENT-SEGMENTS\n");
        AppendStart(text, segments);
        for (var i = 0; i < segments.Length; i++)
        {
            var segment = segments[i];
            // EXT-X-DISCONTINUITY-SEQUENCE counts the tags of segments before the window (RFC 8216 4.3.3.3),
            // so a tag on the first listed segment is still written here.
            if (segment.Discontinuity)
            {
                text.Append("#EXT-X-DISCONTINUITY\n");
            }
            text.Append(CultureInfo.InvariantCulture, $"#EXTINF:{segment.DurationMilliseconds / 1000.0:0.000},\n");
            text.Append(SegmentName(segment.Sequence)).Append('\n');
        }
        return text.ToString();
    }

    // How many segments from the end a player starts (hls.js's default, liveSyncDurationCount), and how far into that
    // segment: past the composition offset of its first keyframe (B-frames show it 40-120 ms after it is decoded).
    private const int StartSegmentsFromEnd = 3;
    private const int StartIntoSegmentMilliseconds = 250;

    /// <summary>
    /// EXT-X-START (RFC 8216 4.3.5.2): a quarter second into the third segment from the end, PRECISE. A segment's video
    /// with B-frames is buffered only from its keyframe's presentation time, while hls.js lines the segment up with
    /// its decode time: started at the segment's very beginning, the player sits in a hole of a frame or two and
    /// reports bufferSeekOverHole. Starting just inside the segment plays the same frames without that hole.
    /// </summary>
    private static void AppendStart(StringBuilder text, HlsSegment[] segments)
    {
        var first = Math.Max(0, segments.Length - StartSegmentsFromEnd);
        if (segments[first].DurationMilliseconds < 2 * StartIntoSegmentMilliseconds)
        {
            return;
        }
        long fromEnd = 0;
        for (var i = first; i < segments.Length; i++)
        {
            fromEnd += segments[i].DurationMilliseconds;
        }
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-START:TIME-OFFSET={-(fromEnd - StartIntoSegmentMilliseconds) / 1000.0:0.000},PRECISE=YES\n");
    }

    /// <summary>The multivariant playlist: one variant, with BANDWIDTH from the segments, CODECS and RESOLUTION from the SPS.</summary>
    public string? RenderMultivariantPlaylist(string mediaPlaylist)
    {
        var (segments, _, _) = Snapshot();
        var codecs = Codecs;
        if (segments.Length == 0)
        {
            return null;
        }
        long peak = 0;
        long bytes = 0;
        long milliseconds = 0;
        foreach (var segment in segments)
        {
            var duration = Math.Max(1, segment.DurationMilliseconds);
            peak = Math.Max(peak, segment.Data.Length * 8000L / duration);
            bytes += segment.Data.Length;
            milliseconds += duration;
        }
        var average = bytes * 8000L / Math.Max(1, milliseconds);
        var text = new StringBuilder(256);
        text.Append("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-INDEPENDENT-SEGMENTS\n");
        text.Append(CultureInfo.InvariantCulture, $"#EXT-X-STREAM-INF:BANDWIDTH={peak},AVERAGE-BANDWIDTH={average}");
        if (codecs is not null && codecs.CodecsAttribute.Length > 0)
        {
            text.Append(CultureInfo.InvariantCulture, $",CODECS=\"{codecs.CodecsAttribute}\"");
        }
        if (codecs is { Width: > 0, Height: > 0 })
        {
            text.Append(CultureInfo.InvariantCulture, $",RESOLUTION={codecs.Width}x{codecs.Height}");
        }
        text.Append('\n').Append(mediaPlaylist).Append('\n');
        return text.ToString();
    }

    private void RemoveOldest()
    {
        var oldest = _segments[0];
        _segments.RemoveAt(0);
        _bytes -= oldest.Data.Length;
        _discontinuitySequence += oldest.Discontinuity ? 1 : 0;
    }
}
