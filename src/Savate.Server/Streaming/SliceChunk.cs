using System.Diagnostics;

namespace Savate.Server.Streaming;

/// <summary>
/// One pooled array that consecutive slices of a feed are packed into, with a reference count: the
/// <see cref="Ingest.SliceBuilder"/> holds one while it writes into the chunk, and each slice in it holds
/// one. The array goes back to the pool when the last of them lets go. A slice is usually one frame (a few
/// hundred bytes to a few KB): one array per slice wasted about two thirds of the ring's memory.
/// Slices are released from listener threads while the ingest writes further in the same chunk, hence
/// the interlocked count; the builder's own reference keeps the array out of the pool while it writes.
/// </summary>
internal sealed class SliceChunk
{
    /// <summary>The size of a shared chunk. A slice larger than this gets a chunk of its own.</summary>
    public const int Size = 64 * 1024;

    private readonly SlicePool _pool;
    private byte[]? _array;
    private int _refs = 1;

    private SliceChunk(SlicePool pool, byte[] array)
    {
        _pool = pool;
        _array = array;
        Capacity = array.Length;
    }

    /// <summary>Rents a chunk of at least <paramref name="minimumLength"/> bytes; the caller holds its one reference.</summary>
    public static SliceChunk Rent(SlicePool pool, int minimumLength) => new(pool, pool.Rent(minimumLength));

    /// <summary>The array's length (the pool may hand out more than was asked for).</summary>
    public int Capacity { get; }

    /// <summary>The array. Only valid while the caller holds a reference.</summary>
    public byte[] Array => _array ?? throw new ObjectDisposedException(nameof(SliceChunk));

    /// <summary>Takes one more reference; the caller must already hold one.</summary>
    public void AddRef()
    {
        var refs = Interlocked.Increment(ref _refs);
        Debug.Assert(refs > 1, "Chunk referenced after it went back to the pool.");
    }

    public void Release()
    {
        var refs = Interlocked.Decrement(ref _refs);
        if (refs == 0)
        {
            var array = Interlocked.Exchange(ref _array, null);
            if (array is not null)
            {
                _pool.Return(array);
            }
        }
        Debug.Assert(refs >= 0, "Chunk released more often than referenced.");
    }
}
