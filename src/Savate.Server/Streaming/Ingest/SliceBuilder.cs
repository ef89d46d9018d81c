using System.Buffers;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// Accumulates whole units copied from a source's buffer into one pooled array, and hands it to the
/// ring as a slice. Copying is the one copy the server makes of a source byte: after it, every listener
/// reads the same array.
/// </summary>
internal sealed class SliceBuilder(SlicePool pool)
{
    // 4 KiB holds a few audio frames or a small video frame; larger slices grow by doubling.
    private const int MinimumBuffer = 4096;

    private byte[]? _buffer;
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

    public Span<byte> Append(in ReadOnlySequence<byte> data)
    {
        var length = checked((int)data.Length);
        var destination = Reserve(length);
        data.CopyTo(destination);
        return destination;
    }

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
        var slice = new Slice(pool, _buffer!, _length, sequence, start, end, _isKeyframe, _headers);
        _buffer = null;
        _length = 0;
        _hasTime = false;
        _isKeyframe = false;
        _headers = null;
        return slice;
    }

    /// <summary>Drops what was accumulated (source gone mid-slice, mount closing).</summary>
    public void Discard()
    {
        if (_buffer is not null)
        {
            pool.Return(_buffer);
            _buffer = null;
        }
        _length = 0;
        _hasTime = false;
        _isKeyframe = false;
        _headers = null;
    }

    private Span<byte> Reserve(int length)
    {
        var needed = _length + length;
        if (_buffer is null)
        {
            _buffer = pool.Rent(Math.Max(needed, MinimumBuffer));
        }
        else if (needed > _buffer.Length)
        {
            var larger = pool.Rent(Math.Max(needed, _buffer.Length * 2));
            _buffer.AsSpan(0, _length).CopyTo(larger);
            pool.Return(_buffer);
            _buffer = larger;
        }
        var span = _buffer.AsSpan(_length, length);
        _length = needed;
        return span;
    }
}
