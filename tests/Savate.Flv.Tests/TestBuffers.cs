using System.Buffers;

namespace Savate.Flv.Tests;

/// <summary>Builds multi-segment sequences, as a Pipe hands them out.</summary>
internal sealed class TestSegment : ReadOnlySequenceSegment<byte>
{
    public TestSegment(ReadOnlyMemory<byte> memory, long runningIndex)
    {
        Memory = memory;
        RunningIndex = runningIndex;
    }

    public TestSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new TestSegment(memory, RunningIndex + Memory.Length);
        Next = next;
        return next;
    }
}

internal static class TestBuffers
{
    public static ReadOnlySequence<byte> Split(byte[] bytes, int splitAt)
        => Segments(bytes.AsMemory(0, splitAt), bytes.AsMemory(splitAt));

    public static ReadOnlySequence<byte> Segments(params ReadOnlyMemory<byte>[] parts)
    {
        var first = new TestSegment(parts[0], 0);
        var last = first;
        for (var i = 1; i < parts.Length; i++)
        {
            last = last.Append(parts[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>Every byte in its own segment: every field straddles a boundary.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes)
    {
        var parts = new ReadOnlyMemory<byte>[bytes.Length];
        for (var i = 0; i < bytes.Length; i++)
        {
            parts[i] = bytes.AsMemory(i, 1);
        }

        return Segments(parts);
    }

    public static bool SequenceEquals(ReadOnlySequence<byte> sequence, ReadOnlySpan<byte> expected)
    {
        if (sequence.Length != expected.Length)
        {
            return false;
        }

        var offset = 0;
        foreach (var segment in sequence)
        {
            if (!segment.Span.SequenceEqual(expected.Slice(offset, segment.Length)))
            {
                return false;
            }

            offset += segment.Length;
        }

        return true;
    }
}
