using System.Runtime.InteropServices;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class SliceBuilderTests
{
    private readonly SlicePool _pool = new();
    private readonly SliceBuilder _builder;
    private long _sequence;

    public SliceBuilderTests() => _builder = new SliceBuilder(_pool);

    private static byte[] Bytes(int length, int seed)
    {
        var bytes = new byte[length];
        for (var i = 0; i < length; i++)
        {
            bytes[i] = (byte)((i * 7) + (seed * 31) + (i >> 8));
        }
        return bytes;
    }

    /// <summary>Builds one slice from <paramref name="units"/>, appended one by one.</summary>
    private Slice Build(params byte[][] units)
    {
        foreach (var unit in units)
        {
            _builder.Append(unit);
        }
        var slice = _builder.Build(_sequence++, 0);
        Assert.NotNull(slice);
        return slice;
    }

    private static ArraySegment<byte> Segment(Slice slice)
    {
        Assert.True(MemoryMarshal.TryGetArray(slice.Memory, out var segment));
        return segment;
    }

    private static void AssertContent(Slice slice, params byte[][] units)
    {
        byte[] expected = [.. units.SelectMany(u => u)];
        Assert.Equal(expected.Length, slice.Length);
        Assert.True(slice.Span.SequenceEqual(expected), "slice bytes differ from what was appended");
        Assert.True(Segment(slice).AsSpan().SequenceEqual(expected), "the slice's array segment differs from what was appended");
    }

    [Fact]
    public void Build_SmallSlices_ShareOneChunk()
    {
        var units = Enumerable.Range(0, 20).Select(i => Bytes(300 + i, i)).ToList();
        var slices = units.Select(u => Build(u)).ToList();

        Assert.Equal(1, _pool.TotalRented);
        Assert.Equal(1, _pool.Outstanding);
        Assert.Equal(SliceChunk.Size, _pool.OutstandingBytes);
        var array = Segment(slices[0]).Array;
        var offset = 0;
        for (var i = 0; i < slices.Count; i++)
        {
            var segment = Segment(slices[i]);
            Assert.Same(array, segment.Array);
            Assert.Equal(offset, segment.Offset);
            offset += units[i].Length;
            AssertContent(slices[i], units[i]);
        }
        foreach (var slice in slices)
        {
            slice.Release();
        }
        Assert.Equal(1, _pool.Outstanding);
        _builder.Discard();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _pool.OutstandingBytes);
    }

    [Fact]
    public void Build_SliceThatDoesNotFit_MovesToANewChunkWithItsBytesIntact()
    {
        var big = Bytes(SliceChunk.Size - 500, 1);
        var first = Build(big);
        var a = Bytes(300, 2);
        var b = Bytes(400, 3);
        var c = Bytes(188, 4);
        // a fits after the first slice; b does not: a moves to a new chunk, then b and c follow it.
        var second = Build(a, b, c);

        Assert.Equal(2, _pool.TotalRented);
        Assert.NotSame(Segment(first).Array, Segment(second).Array);
        Assert.Equal(0, Segment(second).Offset);
        AssertContent(first, big);
        AssertContent(second, a, b, c);

        // The builder let go of the first chunk when it moved: the first slice alone holds it now.
        first.Release();
        Assert.Equal(1, _pool.Outstanding);
        var third = Build(Bytes(50, 5));
        Assert.Same(Segment(second).Array, Segment(third).Array);
        Assert.Equal(a.Length + b.Length + c.Length, Segment(third).Offset);
        second.Release();
        third.Release();
        _builder.Discard();
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public void Build_SliceLargerThanAChunk_GetsAChunkOfItsOwnGrownByDoubling()
    {
        var small = Build(Bytes(1000, 0));
        var units = Enumerable.Range(1, 40).Select(i => Bytes(10_000 + i, i)).ToArray();
        var large = Build(units);

        AssertContent(small, Bytes(1000, 0));
        AssertContent(large, units);
        var segment = Segment(large);
        Assert.Equal(0, segment.Offset);
        Assert.True(segment.Array!.Length >= large.Length);
        Assert.NotSame(Segment(small).Array, segment.Array);
        // 400 KB grown tag by tag: a handful of chunks (64 KiB, then doubling), not one per tag.
        Assert.InRange(_pool.TotalRented, 2, 6);

        // What the large chunk has left is used by the next slices.
        var after = Build(Bytes(2000, 99));
        Assert.Same(segment.Array, Segment(after).Array);
        Assert.Equal(large.Length, Segment(after).Offset);
        AssertContent(after, Bytes(2000, 99));

        small.Release();
        large.Release();
        after.Release();
        _builder.Discard();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _pool.OutstandingBytes);
    }

    [Fact]
    public void Build_SingleUnitLargerThanAChunk_FitsInOneArray()
    {
        var unit = Bytes(3 * SliceChunk.Size + 17, 7);
        var slice = Build(Bytes(100, 1), unit);

        AssertContent(slice, Bytes(100, 1), unit);
        slice.Release();
        _builder.Discard();
        Assert.Equal(0, _pool.Outstanding);
    }

    [Theory]
    [InlineData(new[] { 0, 1, 2 }, false)]
    [InlineData(new[] { 2, 1, 0 }, false)]
    [InlineData(new[] { 1, 2, 0 }, false)]
    [InlineData(new[] { 0, 1, 2 }, true)]
    [InlineData(new[] { 2, 0, 1 }, true)]
    public void Release_ChunkReturnedOnlyOnceTheBuilderMovedOnAndEverySliceLetGo(int[] order, bool builderFirst)
    {
        var slices = new[] { Build(Bytes(100, 0)), Build(Bytes(200, 1)), Build(Bytes(300, 2)) };
        var array = Segment(slices[0]).Array;
        // A listener holding a slice for a write.
        Assert.True(slices[order[^1]].TryAddRef());

        void MoveOn()
        {
            // A slice that does not fit after the others: the builder moves to a new chunk.
            var next = Build(Bytes(SliceChunk.Size - 100, 3));
            Assert.NotSame(array, Segment(next).Array);
            next.Release();
        }

        if (builderFirst)
        {
            MoveOn();
        }
        foreach (var i in order)
        {
            Assert.Equal(builderFirst ? 2 : 1, _pool.Outstanding);
            slices[i].Release();
        }
        // The listener's reference keeps the last slice, and so the chunk.
        Assert.Equal(builderFirst ? 2 : 1, _pool.Outstanding);
        slices[order[^1]].Release();
        Assert.False(slices[order[^1]].TryAddRef());
        if (!builderFirst)
        {
            // Every slice let go, but the builder still writes into the chunk.
            Assert.Equal(1, _pool.Outstanding);
            MoveOn();
        }
        // Only the builder's new chunk is left.
        Assert.Equal(1, _pool.Outstanding);
        Assert.Equal(SliceChunk.Size, _pool.OutstandingBytes);
        _builder.Discard();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(2, _pool.TotalRented);
    }

    [Fact]
    public void Discard_MidSlice_ReleasesTheBuildersReference()
    {
        var built = Build(Bytes(500, 0));
        _builder.BeginKeyframe(null);
        _builder.Append(Bytes(700, 1));
        _builder.MarkTime(40);

        _builder.Discard();
        Assert.True(_builder.IsEmpty);
        Assert.False(_builder.IsKeyframe);
        Assert.Equal(1, _pool.Outstanding);
        AssertContent(built, Bytes(500, 0));
        built.Release();
        Assert.Equal(0, _pool.Outstanding);

        // The builder goes on in a new chunk, with none of the discarded bytes or state.
        var next = Build(Bytes(50, 2));
        Assert.Equal(0, Segment(next).Offset);
        Assert.False(next.IsKeyframe);
        Assert.Equal(0, next.StartTime);
        AssertContent(next, Bytes(50, 2));
        next.Release();
        _builder.Discard();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(2, _pool.TotalRented);
    }

    [Fact]
    public void Discard_WithNothingBuilt_ReturnsTheChunk()
    {
        _builder.Append(Bytes(10, 0));
        Assert.Equal(1, _pool.Outstanding);
        _builder.Discard();
        _builder.Discard();
        Assert.Equal(0, _pool.Outstanding);
        Assert.Null(_builder.Build(0, 0));
    }

    [Fact]
    public void Build_FullChunk_IsLetGoOfAtOnce()
    {
        var slice = Build(Bytes(SliceChunk.Size, 0));
        slice.Release();
        Assert.Equal(0, _pool.Outstanding);
    }

    [Fact]
    public async Task Build_SlicesReleasedConcurrentlyWithBuilding_EveryChunkReturnedAndContentIntact()
    {
        const int Count = 20_000;
        using var queue = new System.Collections.Concurrent.BlockingCollection<Slice>(boundedCapacity: 256);
        var errors = 0;
        var readers = Enumerable.Range(0, 2).Select(_ => Task.Run(() =>
        {
            foreach (var slice in queue.GetConsumingEnumerable())
            {
                if (slice.TryAddRef())
                {
                    var expected = (byte)slice.Sequence;
                    foreach (var b in slice.Span)
                    {
                        if (b != expected)
                        {
                            Interlocked.Increment(ref errors);
                            break;
                        }
                    }
                    slice.Release();
                }
                slice.Release();
            }
        })).ToArray();

        var random = new Random(42);
        for (var i = 0; i < Count; i++)
        {
            var length = random.Next(1, 6000);
            _builder.Append(Enumerable.Repeat((byte)i, length).ToArray());
            queue.Add(_builder.Build(i, 0)!);
        }
        queue.CompleteAdding();
        await Task.WhenAll(readers);
        _builder.Discard();

        Assert.Equal(0, errors);
        Assert.Equal(0, _pool.Outstanding);
        Assert.Equal(0, _pool.OutstandingBytes);
        Assert.True(_pool.TotalRented < Count / 5, $"{_pool.TotalRented} chunks for {Count} slices");
    }
}
