using System.Buffers;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// Accumulates whole units copied from a source's buffer into a pooled chunk, and hands them to the
/// ring as a slice. Copying is the one copy the server makes of a source byte: after it, every listener
/// reads the same array. Consecutive slices are packed into the same <see cref="SliceChunk"/> (each just
/// after the previous one's end); the builder holds a reference on the chunk it writes into, and lets go
/// of it when it moves to a new one, on <see cref="Discard"/>, which is also how an ingest that ends
/// lets go of it.
/// </summary>
internal sealed class SliceBuilder(SlicePool pool)
{
    private SliceChunk? _chunk;
    private int _start;
    private int _length;
    private long _startTime;
    private long _endTime;
    private bool _hasTime;
    private bool _isKeyframe;
    private JoinHeaders? _headers;

    public bool IsEmpty => _length == 0;

    public int Length => _length;

    public bool IsKeyframe => _isKeyframe;

    /// <summary>Marks the (empty) slice being built as starting on a join point with these headers.</summary>
    public void BeginKeyframe(JoinHeaders? headers)
    {
        System.Diagnostics.Debug.Assert(_length == 0);
        _isKeyframe = true;
        _headers = headers;
    }

    /// <summary>Copies a unit into the slice; the returned bytes (to patch in place) are valid until the next call.</summary>
    public Span<byte> Append(in ReadOnlySequence<byte> data)
    {
        var length = checked((int)data.Length);
        var destination = Reserve(length);
        data.CopyTo(destination);
        return destination;
    }

    /// <inheritdoc cref="Append(in ReadOnlySequence{byte})"/>
    public Span<byte> Append(ReadOnlySpan<byte> data)
    {
        var destination = Reserve(data.Length);
        data.CopyTo(destination);
        return destination;
    }

    /// <summary>Records the media time of a unit in the slice.</summary>
    public void MarkTime(long time)
    {
        if (!_hasTime)
        {
            _startTime = time;
            _endTime = time;
            _hasTime = true;
        }
        else if (time > _endTime)
        {
            _endTime = time;
        }
    }

    /// <summary>Turns the bytes into a slice (the builder is then empty), or returns null when there are none.</summary>
    public Slice? Build(long sequence, long defaultTime)
    {
        if (_length == 0)
        {
            return null;
        }
        var start = _hasTime ? _startTime : defaultTime;
        var end = _hasTime ? _endTime : defaultTime;
        var chunk = _chunk!;
        chunk.AddRef();
        var slice = new Slice(chunk, _start, _length, sequence, start, end, _isKeyframe, _headers);
        _start += _length;
        _length = 0;
        _hasTime = false;
        _isKeyframe = false;
        _headers = null;
        if (_start == chunk.Capacity)
        {
            // Full: its array goes back as soon as its slices do.
            ReleaseChunk();
        }
        return slice;
    }

    /// <summary>
    /// Drops what was accumulated (source gone mid-slice, feed switched, mount closing) and lets go of the
    /// chunk: the ingest calls it whenever its feed ends, so no chunk outlives its slices.
    /// </summary>
    public void Discard()
    {
        ReleaseChunk();
        _length = 0;
        _hasTime = false;
        _isKeyframe = false;
        _headers = null;
    }

    private Span<byte> Reserve(int length)
    {
        var needed = _length + length;
        if (_chunk is null || _start + needed > _chunk.Capacity)
        {
            MoveToNewChunk(needed);
        }
        var span = _chunk!.Array.AsSpan(_start + _length, length);
        _length = needed;
        return span;
    }

    /// <summary>Starts a chunk with room for <paramref name="needed"/> bytes and moves the part of the slice already written into it.</summary>
    private void MoveToNewChunk(int needed)
    {
        // A slice larger than a shared chunk gets a chunk of its own, with room to double: a keyframe
        // grows tag by tag, and should not be copied at every one.
        var size = needed <= SliceChunk.Size ? SliceChunk.Size : Math.Max(needed, 2 * _length);
        var chunk = SliceChunk.Rent(pool, size);
        if (_chunk is not null)
        {
            _chunk.Array.AsSpan(_start, _length).CopyTo(chunk.Array);
            _chunk.Release();
        }
        _chunk = chunk;
        _start = 0;
    }

    private void ReleaseChunk()
    {
        if (_chunk is not null)
        {
            _chunk.Release();
            _chunk = null;
        }
        _start = 0;
    }
}
