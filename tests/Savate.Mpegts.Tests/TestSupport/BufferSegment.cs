using System.Buffers;

namespace Savate.Mpegts.Tests.TestSupport;

/// <summary>A minimal segment to build multi-segment sequences, as a Pipe would hand them out.</summary>
internal sealed class BufferSegment : ReadOnlySequenceSegment<byte>
{
    public BufferSegment(ReadOnlyMemory<byte> memory) => Memory = memory;

    public BufferSegment Append(ReadOnlyMemory<byte> memory)
    {
        var next = new BufferSegment(memory) { RunningIndex = RunningIndex + Memory.Length };
        Next = next;
        return next;
    }

    public static ReadOnlySequence<byte> Split(byte[] data, int splitAt)
    {
        var first = new BufferSegment(data.AsMemory(0, splitAt));
        var last = first.Append(data.AsMemory(splitAt));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }
}
