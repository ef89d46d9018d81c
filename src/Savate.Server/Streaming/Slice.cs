using System.Diagnostics;

namespace Savate.Server.Streaming;

/// <summary>
/// An immutable run of whole container units (FLV tags or 188-byte TS packets), held once in memory
/// and shared by every listener: a window (offset, length) of a <see cref="SliceChunk"/> that it shares
/// with the slices built before and after it. The ring holds one reference; a listener takes one for the
/// time of a write (<see cref="TryAddRef"/>), so the slice lets go of its chunk only once nobody can still
/// read it. Slice objects are never reused, so a sequence number read from one is stable (no ABA).
/// </summary>
internal sealed class Slice
{
    private readonly int _offset;
    private SliceChunk? _chunk;
    private byte[]? _array;
    private int _refs = 1;

    /// <summary>A slice of <paramref name="length"/> bytes at <paramref name="offset"/> in <paramref name="chunk"/>; it takes over one chunk reference the caller holds.</summary>
    public Slice(SliceChunk chunk, int offset, int length, long sequence, long startTime, long endTime, bool isKeyframe, JoinHeaders? headers)
    {
        Debug.Assert(offset >= 0 && length >= 0 && offset + length <= chunk.Capacity);
        _chunk = chunk;
        _array = chunk.Array;
        _offset = offset;
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
    public ReadOnlyMemory<byte> Memory => new(_array, _offset, Length);

    public ReadOnlySpan<byte> Span => new(_array, _offset, Length);

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
            _array = null;
            Interlocked.Exchange(ref _chunk, null)?.Release();
        }
        Debug.Assert(refs >= 0, "Slice released more often than referenced.");
    }
}
