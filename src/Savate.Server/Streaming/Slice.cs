using System.Diagnostics;

namespace Savate.Server.Streaming;

/// <summary>
/// An immutable run of whole container units (FLV tags or 188-byte TS packets), held once in memory
/// and shared by every listener. The ring holds one reference; a listener takes one for the time of a
/// write (<see cref="TryAddRef"/>), so a buffer goes back to the pool only once nobody can still read it.
/// Slice objects are never reused, so a sequence number read from one is stable (no ABA).
/// </summary>
internal sealed class Slice
{
    private readonly SlicePool _pool;
    private byte[]? _buffer;
    private int _refs = 1;

    public Slice(SlicePool pool, byte[] buffer, int length, long sequence, long startTime, long endTime, bool isKeyframe, JoinHeaders? headers)
    {
        Debug.Assert(length <= buffer.Length);
        _pool = pool;
        _buffer = buffer;
        Length = length;
        Sequence = sequence;
        StartTime = startTime;
        EndTime = endTime;
        IsKeyframe = isKeyframe;
        Headers = headers;
    }

    public int Length { get; }

    /// <summary>Position in the mount's ring: consecutive, from 0.</summary>
    public long Sequence { get; }

    /// <summary>Media time (ms, on the mount's timeline) of the first unit in the slice.</summary>
    public long StartTime { get; }

    /// <summary>Media time (ms) of the last unit in the slice.</summary>
    public long EndTime { get; }

    /// <summary>The slice starts on a join point (a video keyframe, or any frame of an audio-only stream).</summary>
    public bool IsKeyframe { get; }

    /// <summary>The container header and codec configuration in effect where the slice starts.</summary>
    public JoinHeaders? Headers { get; }

    /// <summary>The bytes. Only valid while the caller holds a reference.</summary>
    public ReadOnlyMemory<byte> Memory => new(_buffer, 0, Length);

    public ReadOnlySpan<byte> Span => new(_buffer, 0, Length);

    /// <summary>Takes a reference unless the slice was already released to the pool.</summary>
    public bool TryAddRef()
    {
        var refs = Volatile.Read(ref _refs);
        while (refs > 0)
        {
            var seen = Interlocked.CompareExchange(ref _refs, refs + 1, refs);
            if (seen == refs)
            {
                return true;
            }
            refs = seen;
        }
        return false;
    }

    public void Release()
    {
        var refs = Interlocked.Decrement(ref _refs);
        if (refs == 0)
        {
            var buffer = Interlocked.Exchange(ref _buffer, null);
            if (buffer is not null)
            {
                _pool.Return(buffer);
            }
        }
        Debug.Assert(refs >= 0, "Slice released more often than referenced.");
    }
}
