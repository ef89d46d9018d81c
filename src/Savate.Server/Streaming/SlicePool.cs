using System.Buffers;

namespace Savate.Server.Streaming;

/// <summary>
/// The pool that slice chunks (<see cref="SliceChunk"/>) are rented from, with counters so that tests
/// (and /status.json) can prove every chunk's array came back once the ingest moved on from it and each
/// of its slices left the ring and every listener let go of it.
/// </summary>
internal sealed class SlicePool
{
    private readonly ArrayPool<byte> _pool;
    private long _rented;
    private long _returned;
    private long _outstandingBytes;

    public SlicePool(ArrayPool<byte>? pool = null) => _pool = pool ?? ArrayPool<byte>.Shared;

    /// <summary>Arrays (chunks) rented and not yet returned.</summary>
    public long Outstanding => Interlocked.Read(ref _rented) - Interlocked.Read(ref _returned);

    /// <summary>Bytes held by outstanding arrays (their lengths).</summary>
    public long OutstandingBytes => Interlocked.Read(ref _outstandingBytes);

    public long TotalRented => Interlocked.Read(ref _rented);

    public byte[] Rent(int minimumLength)
    {
        var array = _pool.Rent(minimumLength);
        Interlocked.Increment(ref _rented);
        Interlocked.Add(ref _outstandingBytes, array.Length);
        return array;
    }

    public void Return(byte[] array)
    {
        Interlocked.Add(ref _outstandingBytes, -array.Length);
        Interlocked.Increment(ref _returned);
        _pool.Return(array);
    }
}
