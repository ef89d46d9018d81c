using System.Diagnostics;

namespace Savate.Server.Streaming;

/// <summary>
/// A mount's ring of slices. One writer (the mount's current source) appends under a lock; any number
/// of listeners read without locking: a slot is read, its sequence checked, and a reference taken with
/// a compare-and-swap that fails once the ring has released the slice. The ring is bounded by media
/// time, by bytes and by slot count; it never evicts the newest keyframe (a joiner always has one)
/// unless the byte bound is exceeded twice over. Its slot arrays start small and double as the ring fills, up to the
/// slot count: a mount holds what its stream needs (about 1,000 slots for 30 s at 25 slices a second), not 16,384
/// slots of index (400 KB a mount) whatever its rate.
/// </summary>
internal sealed class Ring : IDisposable
{
    // The slots the readers see: read after the head (a slice only in a grown array is published after it).
    private Slice?[] _slots;
    // Writer's, under the lock: the keyframes held, oldest at _keyframeFirst, as many entries as slots.
    private KeyframeEntry[] _keyframes;
    private readonly int _maxSlots;
    private readonly object _writeLock = new();
    private long _head;
    private long _tail;
    private long _bytes;
    private long _headTime = long.MinValue;
    private long _newestKeyframe = -1;
    private int _keyframeCount;
    private int _keyframeFirst;
    private bool _disposed;

    public const int InitialSlots = 256;

    public Ring(long bufferMilliseconds, long maxBytes, int slotCount = 16384)
    {
        if (slotCount <= 1 || (slotCount & (slotCount - 1)) != 0)
        {
            throw new ArgumentOutOfRangeException(nameof(slotCount), "Slot count must be a power of two.");
        }
        _maxSlots = slotCount;
        _slots = new Slice?[Math.Min(InitialSlots, slotCount)];
        _keyframes = new KeyframeEntry[_slots.Length];
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

    /// <summary>Slots the ring has now (it doubles as it fills, up to the slot count it was made with).</summary>
    public int Capacity => Volatile.Read(ref _slots).Length;

    public void Append(Slice slice)
    {
        lock (_writeLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            Debug.Assert(slice.Sequence == _head, "Slices must be appended in sequence order.");
            if (_head - _tail >= _slots.Length - 1 && _slots.Length < _maxSlots)
            {
                Grow();
            }
            var mask = _slots.Length - 1;
            Volatile.Write(ref _slots[slice.Sequence & mask], slice);
            _bytes += slice.Length;
            if (slice.IsKeyframe)
            {
                var index = (_keyframeFirst + _keyframeCount) & mask;
                _keyframes[index] = new KeyframeEntry(slice.Sequence, slice.StartTime);
                _keyframeCount++;
                Volatile.Write(ref _newestKeyframe, slice.Sequence);
            }
            Volatile.Write(ref _headTime, Math.Max(_headTime, slice.EndTime));
            Volatile.Write(ref _head, slice.Sequence + 1);
            Trim();
        }
    }

    // Under the lock: twice the slots, the live ones copied to their places in the new array, which is then published.
    // A reader that read the head before this and the old array after it finds what it looks for there (the old array
    // is never cleared; an evicted slice refuses its reference).
    private void Grow()
    {
        var old = _slots;
        var oldMask = old.Length - 1;
        var slots = new Slice?[old.Length * 2];
        var mask = slots.Length - 1;
        for (var sequence = _tail; sequence < _head; sequence++)
        {
            slots[sequence & mask] = old[sequence & oldMask];
        }
        var keyframes = new KeyframeEntry[slots.Length];
        for (var i = 0; i < _keyframeCount; i++)
        {
            keyframes[i] = _keyframes[(_keyframeFirst + i) & oldMask];
        }
        _keyframes = keyframes;
        _keyframeFirst = 0;
        Volatile.Write(ref _slots, slots);
    }

    /// <summary>Takes a reference on the slice at <paramref name="sequence"/>; false if it is not (or no longer) held.</summary>
    public bool TryGet(long sequence, out Slice slice)
    {
        if (sequence < Volatile.Read(ref _tail) || sequence >= Volatile.Read(ref _head))
        {
            slice = null!;
            return false;
        }
        var slots = Volatile.Read(ref _slots);
        var candidate = Volatile.Read(ref slots[sequence & (slots.Length - 1)]);
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
        var slots = Volatile.Read(ref _slots);
        var candidate = Volatile.Read(ref slots[sequence & (slots.Length - 1)]);
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
            var mask = _keyframes.Length - 1;
            var newest = _keyframes[(_keyframeFirst + _keyframeCount - 1) & mask];
            if (burstMilliseconds <= 0)
            {
                return newest.Sequence;
            }
            var target = newest.Time - burstMilliseconds;
            for (var i = _keyframeCount - 1; i >= 0; i--)
            {
                var entry = _keyframes[(_keyframeFirst + i) & mask];
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
            var tail = _slots[_tail & (_slots.Length - 1)]!;
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
        var mask = _slots.Length - 1;
        var index = _tail & mask;
        var slice = _slots[index]!;
        Volatile.Write(ref _slots[index], null);
        _bytes -= slice.Length;
        if (_keyframeCount > 0 && _keyframes[_keyframeFirst].Sequence == slice.Sequence)
        {
            _keyframeFirst = (_keyframeFirst + 1) & mask;
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
