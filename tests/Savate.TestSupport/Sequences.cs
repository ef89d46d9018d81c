using System.Buffers;

namespace Savate.TestSupport;

/// <summary>
/// Multi-segment byte sequences, as a PipeReader hands them out after several socket reads: what every parser
/// test, fuzz target and benchmark feeds to code that must handle a header or packet straddling segments.
/// </summary>
public static class Sequences
{
    /// <summary>The parts, in order, each its own segment.</summary>
    public static ReadOnlySequence<byte> Of(params ReadOnlyMemory<byte>[] parts)
    {
        if (parts.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }
        var first = new MemorySegment(parts[0], 0);
        var last = first;
        for (var i = 1; i < parts.Length; i++)
        {
            last = last.Append(parts[i]);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Two segments, split at <paramref name="at"/>.</summary>
    public static ReadOnlySequence<byte> SplitAt(ReadOnlyMemory<byte> data, int at) => Of(data[..at], data[at..]);

    /// <summary>Segments of <paramref name="size"/> bytes (the last may be shorter); one segment when it all fits.</summary>
    public static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> data, int size)
    {
        if (data.Length <= size)
        {
            return new ReadOnlySequence<byte>(data);
        }
        var parts = new ReadOnlyMemory<byte>[(data.Length + size - 1) / size];
        for (var i = 0; i < parts.Length; i++)
        {
            var offset = i * size;
            parts[i] = data.Slice(offset, Math.Min(size, data.Length - offset));
        }
        return Of(parts);
    }

    /// <summary>Every byte in its own segment: every field straddles a boundary.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(ReadOnlyMemory<byte> data) => Split(data, 1);

    private sealed class MemorySegment : ReadOnlySequenceSegment<byte>
    {
        public MemorySegment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public MemorySegment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new MemorySegment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
