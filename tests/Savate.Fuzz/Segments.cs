using System.Buffers;

namespace Savate.Fuzz;

/// <summary>Builds multi-segment sequences, as a PipeReader hands out after several socket reads.</summary>
internal static class Segments
{
    /// <summary>
    /// A split size drawn from the input itself (so a crash file replays the same way), 1 to 257 bytes:
    /// small enough that headers and packets straddle segments.
    /// </summary>
    public static int SplitSize(ReadOnlySpan<byte> input)
    {
        var hash = (uint)input.Length;
        foreach (var b in input[..Math.Min(input.Length, 64)])
        {
            hash = (hash * 31) + b;
        }
        return (int)(hash % 257) + 1;
    }

    /// <summary>The bytes as a sequence of segments of <paramref name="size"/> bytes (the last may be shorter).</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> data, int size)
    {
        if (data.Length <= size)
        {
            return new ReadOnlySequence<byte>(data);
        }
        var first = new Segment(data[..size], 0);
        var last = first;
        for (var offset = size; offset < data.Length; offset += size)
        {
            last = last.Append(data.Slice(offset, Math.Min(size, data.Length - offset)));
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
