using System.Diagnostics;

namespace Savate.Server.Streaming;

/// <summary>
/// A mount's ring of slices. One writer (the mount's current source) appends under a lock; any number
/// of listeners read without locking: a slot is read, its sequence checked, and a reference taken with
/// a compare-and-swap that fails once the ring has released the slice. The ring is bounded by media
/// time, by bytes and by slot count; it never evicts the newest keyframe (a joiner always has one)
/// unless the byte bound is exceeded twice over.
/// </summary>
internal sealed class Ring : IDisposable
{
    private readonly Slice?[] _slots;
    private readonly int _mask;
    private readonly KeyframeEntry[] _keyframes;
    private readonly object _writeLock = new();
    private long _head;
    private long _tail;
    private long _bytes;
    private long _headTime = long.MinValue;
    private long _newestKeyframe = -1;
    private int _keyframeCount;
    private int _keyframeFirst;
    private bool _disposed;

    public Ring(long bufferMilliseconds, long maxBytes, int slotCount = 16384)
    {
        if (slotCount <= 1 || (slotCount & (slotCount - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slotCount), "Slot count must be a power of two.");
        }
        _slots = new Slice?[slotCount];
        _mask = slotCount - 1;
        _keyframes = new KeyframeEntry[slotCount];
        BufferMilliseconds = bufferMilliseconds;
        MaxBytes = maxBytes;
    }

    public long BufferMilliseconds { get; set; }

    public long MaxBytes { get; set; }

    /// <summary>The sequence the next slice will get; slices below it exist or existed.</summary>
    public long Head => Volatile.Read(ref _head);

    /// <summary>The oldest sequence still held.</summary>
    public long Tail => Volatile.Read(ref _tail);

    /// <summary>End media time of the newest slice, or <see cref="long.MinValue"/> when empty.</summary>
    public long HeadTime => Volatile.Read(ref _headTime);

    /// <summary>Sequence of the newest slice that starts on a keyframe, or -1.</summary>
    public long NewestKeyframe => Volatile.Read(ref _newestKeyframe);

    public long Bytes => Volatile.Read(ref _bytes);

    public int Count => (int)(Head - Tail);

    public void Append(Slice slice)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Debug.Assert(slice.Sequence == _head, "Slices must be appended in sequence order.");
            Volatile.Write(ref _slots[slice.Sequence & _mask], slice);
            _bytes += slice.Length;
            if (slice.IsKeyframe)
            {
                var index = (_keyframeFirst + _keyframeCount) & _mask;
                _keyframes[index] = new KeyframeEntry(slice.Sequence, slice.StartTime);
                _keyframeCount++;
                Volatile.Write(ref _newestKeyframe, slice.Sequence);
            }
            Volatile.Write(ref _headTime, Math.Max(_headTime, slice.EndTime));
            Volatile.Write(ref _head, slice.Sequence + 1);
            Trim();
        }
    }

    /// <summary>Takes a reference on the slice at <paramref name="sequence"/>; false if it is not (or no longer) held.</summary>
    public bool TryGet(long sequence, out Slice slice)
    {
        if (sequence < Volatile.Read(ref _tail) || sequence >= Volatile.Read(ref _head))
        {
            slice = null!;
            return false;
        }
        var candidate = Volatile.Read(ref _slots[sequence & _mask]);
        if (candidate is null || candidate.Sequence != sequence || !candidate.TryAddRef())
        {
            slice = null!;
            return false;
        }
        slice = candidate;
        return true;
    }

    /// <summary>Start time of the slice at <paramref name="sequence"/> without taking a reference, or null.</summary>
    public long? StartTimeOf(long sequence)
    {
        if (sequence < Volatile.Read(ref _tail) || sequence >= Volatile.Read(ref _head))
        {
            return null;
        }
        var candidate = Volatile.Read(ref _slots[sequence & _mask]);
        return candidate is not null && candidate.Sequence == sequence ? candidate.StartTime : null;
    }

    /// <summary>
    /// Where a new listener starts: the newest keyframe, or with a burst, the newest keyframe at least
    /// <paramref name="burstMilliseconds"/> of media time before it (the oldest one held if none is that old).
    /// Returns -1 when the ring holds no keyframe.
    /// </summary>
    public long FindJoinPoint(long burstMilliseconds)
    {
        lock (_writeLock)
        {
            if (_keyframeCount == 0)
            {
                return -1;
            }
            var newest = _keyframes[(_keyframeFirst + _keyframeCount - 1) & _mask];
            if (burstMilliseconds <= 0)
            {
                return newest.Sequence;
            }
            var target = newest.Time - burstMilliseconds;
            for (var i = _keyframeCount - 1; i >= 0; i--)
            {
                var entry = _keyframes[(_keyframeFirst + i) & _mask];
                if (entry.Time <= target)
                {
                    return entry.Sequence;
                }
            }
            return _keyframes[_keyframeFirst].Sequence;
        }
    }

    /// <summary>
    /// Forgets every join point, so that new listeners wait for the next keyframe: used when a mount's
    /// source is gone for good and what the ring holds is no longer live.
    /// </summary>
    public void ClearJoinPoints()
    {
        lock (_writeLock)
        {
            _keyframeCount = 0;
            _keyframeFirst = 0;
            Volatile.Write(ref _newestKeyframe, -1);
        }
    }

    private void Trim()
    {
        while (_tail < _head)
        {
            var tail = _slots[_tail & _mask]!;
            var count = _head - _tail;
            var keepsKeyframe = _tail < _newestKeyframe;
            var evict = count > _slots.Length - 1
                || _bytes > 2 * MaxBytes
                || (keepsKeyframe && _bytes > MaxBytes)
                || (keepsKeyframe && _headTime - tail.StartTime > BufferMilliseconds);
            if (!evict)
            {
                break;
            }
            EvictTail();
        }
    }

    private void EvictTail()
    {
        var index = _tail & _mask;
        var slice = _slots[index]!;
        Volatile.Write(ref _slots[index], null);
        _bytes -= slice.Length;
        if (_keyframeCount > 0 && _keyframes[_keyframeFirst].Sequence == slice.Sequence)
        {
            _keyframeFirst = (_keyframeFirst + 1) & _mask;
            _keyframeCount--;
            if (_keyframeCount == 0)
            {
                Volatile.Write(ref _newestKeyframe, -1);
            }
        }
        Volatile.Write(ref _tail, _tail + 1);
        slice.Release();
    }

    /// <summary>Releases every slice; listeners that still hold one keep it until they let go.</summary>
    public void Dispose()
    {
        lock (_writeLock)
        {
            if (_disposed)
            {
                return;
            }
            _disposed = true;
            while (_tail < _head)
            {
                EvictTail();
            }
        }
    }

    private readonly record struct KeyframeEntry(long Sequence, long Time);
}
