using CsCheck;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;

namespace Savate.Fuzz.Tests;

/// <summary>
/// Properties of <see cref="Ring"/> under random sequences of publishes (packed into shared chunks by a
/// <see cref="SliceBuilder"/>, as the ingests do), reads that hold slices for a while, bound changes and
/// join-point resets: the bounds hold, slices stay in order and intact, the newest keyframe is only given up
/// past twice the byte bound, and once every reader let go and the ring is gone, every pooled array is back.
/// </summary>
public class RingPropertyTests
{
    private const int SlotCount = 16;

    /// <summary>One step: 0 publish, 1 read and hold, 2 let go of a held slice, 3 change the bounds, 4 forget join points.</summary>
    public readonly record struct Step(int Kind, int Size, bool Keyframe, int TimeStep, int Pick);

    private static readonly Gen<Step> s_step = Gen.Select(
        Gen.Frequency((10, Gen.Const(0)), (5, Gen.Const(1)), (4, Gen.Const(2)), (1, Gen.Const(3)), (1, Gen.Const(4))),
        Gen.Frequency((8, Gen.Int[1, 3000]), (1, Gen.Int[3000, 70_000])),
        Gen.Frequency((1, Gen.Const(true)), (3, Gen.Const(false))),
        Gen.Int[0, 400],
        Gen.Int[0, 1000],
        (kind, size, keyframe, timeStep, pick) => new Step(kind, size, keyframe, timeStep, pick));

    [Fact]
    public void Append_RandomPublishReadEvictSequences_KeepsBoundsOrderAndReferences()
    {
        Gen.Select(s_step.Array[1, 300], Gen.Int[2_000, 40_000], Gen.Int[100, 5_000]).Sample((steps, maxBytes, bufferMs) =>
        {
            var pool = new SlicePool();
            var ring = new Ring(bufferMs, maxBytes, SlotCount);
            var builder = new SliceBuilder(pool);
            var model = new List<(int Size, bool Keyframe, long Time)>();
            var held = new List<Slice>();
            long time = 0;
            long newestKeyframe = -1;

            foreach (var step in steps)
            {
                switch (step.Kind)
                {
                    case 0:
                        time += step.TimeStep;
                        var sequence = ring.Head;
                        var tailBefore = ring.Tail;
                        if (step.Keyframe)
                        {
                            builder.BeginKeyframe(null);
                        }
                        builder.Append(Fill(step.Size, sequence));
                        builder.MarkTime(time);
                        ring.Append(builder.Build(sequence, time)!);
                        model.Add((step.Size, step.Keyframe, time));
                        if (step.Keyframe)
                        {
                            newestKeyframe = sequence;
                        }
                        CheckAfterAppend(ring, model, newestKeyframe, tailBefore);
                        break;
                    case 1:
                        // Anywhere from just before the tail to just past the head: only held slices are handed out.
                        var wanted = ring.Tail - 2 + (step.Pick % (ring.Count + 4));
                        if (ring.TryGet(wanted, out var slice))
                        {
                            Assert.InRange(wanted, ring.Tail, ring.Head - 1);
                            Assert.Equal(wanted, slice.Sequence);
                            held.Add(slice);
                        }
                        else
                        {
                            Assert.True(wanted < ring.Tail || wanted >= ring.Head, $"slice {wanted} refused while the ring holds {ring.Tail}..{ring.Head - 1}");
                        }
                        break;
                    case 2 when held.Count > 0:
                        var index = step.Pick % held.Count;
                        // A reader still sees its bytes, even if the ring let go of the slice meanwhile.
                        AssertIntact(held[index], model[(int)held[index].Sequence].Size);
                        held[index].Release();
                        held.RemoveAt(index);
                        break;
                    case 3:
                        ring.MaxBytes = 2_000 + (step.Pick * 40);
                        ring.BufferMilliseconds = 100 + (step.Pick * 5);
                        break;
                    case 4:
                        ring.ClearJoinPoints();
                        newestKeyframe = -1;
                        Assert.Equal(-1, ring.NewestKeyframe);
                        Assert.Equal(-1, ring.FindJoinPoint(0));
                        break;
                }
                CheckAlways(ring, model, newestKeyframe);
            }

            foreach (var slice in held)
            {
                AssertIntact(slice, model[(int)slice.Sequence].Size);
                slice.Release();
            }
            builder.Discard();
            ring.Dispose();
            Assert.Equal(0, pool.Outstanding);
            Assert.Equal(0, pool.OutstandingBytes);
        }, iter: 250);
    }

    private static void CheckAlways(Ring ring, List<(int Size, bool Keyframe, long Time)> model, long newestKeyframe)
    {
        Assert.Equal(model.Count, ring.Head);
        Assert.InRange(ring.Count, 0, SlotCount - 1);
        Assert.InRange(ring.Tail, 0, ring.Head);
        long bytes = 0;
        long previousStart = long.MinValue;
        for (var sequence = ring.Tail; sequence < ring.Head; sequence++)
        {
            Assert.True(ring.TryGet(sequence, out var slice), $"slice {sequence} between tail and head is not held");
            Assert.Equal(sequence, slice.Sequence);
            Assert.Equal(model[(int)sequence].Keyframe, slice.IsKeyframe);
            Assert.Equal(model[(int)sequence].Time, slice.StartTime);
            Assert.True(slice.StartTime >= previousStart, "slices out of time order");
            previousStart = slice.StartTime;
            AssertIntact(slice, model[(int)sequence].Size);
            bytes += slice.Length;
            slice.Release();
        }
        Assert.Equal(bytes, ring.Bytes);
        // The newest keyframe the ring offers is the newest one published since the last reset, while held.
        var expected = newestKeyframe >= ring.Tail ? newestKeyframe : -1;
        Assert.Equal(expected, ring.NewestKeyframe);
        Assert.Equal(expected, ring.FindJoinPoint(0));
    }

    private static void CheckAfterAppend(Ring ring, List<(int Size, bool Keyframe, long Time)> model, long newestKeyframe, long tailBefore)
    {
        Assert.True(ring.Bytes <= 2 * ring.MaxBytes, $"{ring.Bytes} bytes held, bound {ring.MaxBytes}");
        if (newestKeyframe >= tailBefore && newestKeyframe < ring.Tail)
        {
            // The newest keyframe went in this append: only because what followed it was over twice the byte bound (or the slots).
            var fromKeyframe = model.Skip((int)newestKeyframe).Sum(s => (long)s.Size);
            Assert.True(fromKeyframe > 2 * ring.MaxBytes || model.Count - newestKeyframe > SlotCount - 1,
                $"keyframe {newestKeyframe} evicted with {fromKeyframe} bytes after it (bound {ring.MaxBytes})");
        }
        if (ring.NewestKeyframe > ring.Tail)
        {
            // Slices before the newest keyframe are only kept within the byte and time bounds.
            Assert.True(ring.Bytes <= ring.MaxBytes, $"{ring.Bytes} bytes held before a newer keyframe, bound {ring.MaxBytes}");
            Assert.True(ring.HeadTime - ring.StartTimeOf(ring.Tail) <= ring.BufferMilliseconds, "more media time held than the buffer");
        }
    }

    private static byte[] Fill(int size, long sequence)
    {
        var bytes = new byte[size];
        Array.Fill(bytes, (byte)sequence);
        bytes[0] = (byte)(sequence >> 8);
        return bytes;
    }

    private static void AssertIntact(Slice slice, int size)
    {
        Assert.Equal(size, slice.Length);
        var span = slice.Span;
        Assert.Equal((byte)(slice.Sequence >> 8), span[0]);
        var overwritten = span[1..].IndexOfAnyExcept((byte)slice.Sequence);
        Assert.True(overwritten < 0, $"slice {slice.Sequence} byte {overwritten + 1} overwritten");
    }
}
