namespace Savate.Server.Streaming.Ingest;

internal enum Track
{
    Video,
    Audio,
}

/// <summary>
/// The mount's own timeline, in milliseconds, kept across sources: what it last sent per track.
/// A new source (or a jump inside one) is re-based so that it continues just after the last output,
/// and each track is clamped to be non-decreasing (FIELD-NOTES 5.6: timestamps that reset after a
/// reconnect break players).
/// </summary>
internal sealed class MediaTimeline
{
    /// <summary>Gap inserted between the last output and the first unit of a new source: one 25 fps frame.</summary>
    public const long SpliceGap = 40;

    /// <summary>A jump backwards beyond this (ms) within a source is a discontinuity, not interleaving.</summary>
    public const long MaxBackwardJump = 1000;

    /// <summary>A jump forwards beyond this (ms) within a source is a discontinuity.</summary>
    public const long MaxForwardJump = 10_000;

    private readonly object _lock = new();

    public bool HasOutput { get; private set; }

    /// <summary>Largest time output on any track.</summary>
    public long LastTime { get; private set; }

    public long LastVideo { get; private set; } = long.MinValue;

    public long LastAudio { get; private set; } = long.MinValue;

    /// <summary>Counts re-basings (source switches and jumps).</summary>
    public long Discontinuities { get; private set; }

    /// <summary>
    /// Starts this (unused) timeline where <paramref name="other"/> is now, <paramref name="margin"/> ms later:
    /// listeners moved from another mount continue their timeline (Admin/ListenerMover).
    /// </summary>
    public void ContinueFrom(MediaTimeline other, long margin)
    {
        lock (other._lock)
        lock (_lock)
        {
            if (!other.HasOutput)
            {
                return;
            }
            HasOutput = true;
            LastTime = other.LastTime + margin;
            LastVideo = other.LastVideo == long.MinValue ? long.MinValue : other.LastVideo + margin;
            LastAudio = other.LastAudio == long.MinValue ? long.MinValue : other.LastAudio + margin;
        }
    }

    /// <summary>Counts a re-basing done by a feed that rewrites its own timestamps.</summary>
    public void NoteDiscontinuity()
    {
        lock (_lock)
        {
            Discontinuities++;
        }
    }

    /// <summary>Records a time that the feed already put on the mount's timeline (MPEG-TS rewrites its own).</summary>
    public void Observe(long time, Track track)
    {
        lock (_lock)
        {
            if (track == Track.Video)
            {
                LastVideo = Math.Max(LastVideo, time);
            }
            else
            {
                LastAudio = Math.Max(LastAudio, time);
            }
            if (!HasOutput || time > LastTime)
            {
                LastTime = time;
            }
            HasOutput = true;
        }
    }

    /// <summary>Maps a source time to the mount's timeline, using and updating the session's offset.</summary>
    public long Map(long sourceTime, Track track, ref TimelineOffset offset)
    {
        lock (_lock)
        {
            if (!offset.IsSet)
            {
                offset = new TimelineOffset(HasOutput ? LastTime + SpliceGap - sourceTime : 0);
                if (HasOutput)
                {
                    Discontinuities++;
                }
            }
            var time = sourceTime + offset.Value;
            if (HasOutput && (time < LastTime - MaxBackwardJump || time > LastTime + MaxForwardJump))
            {
                offset = new TimelineOffset(LastTime + SpliceGap - sourceTime);
                time = sourceTime + offset.Value;
                Discontinuities++;
            }
            time = Math.Max(time, 0);
            if (track == Track.Video)
            {
                time = Math.Max(time, LastVideo);
                LastVideo = time;
            }
            else
            {
                time = Math.Max(time, LastAudio);
                LastAudio = time;
            }
            if (!HasOutput || time > LastTime)
            {
                LastTime = time;
            }
            HasOutput = true;
            return time;
        }
    }
}

/// <summary>A source session's offset onto the mount timeline.</summary>
internal readonly struct TimelineOffset(long value)
{
    public long Value { get; } = value;

    public bool IsSet { get; } = true;
}
