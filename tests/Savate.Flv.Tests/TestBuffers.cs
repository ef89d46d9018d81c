using System.Buffers;
using Savate.TestSupport;

namespace Savate.Flv.Tests;

internal static class TestBuffers
{
    public static ReadOnlySequence<byte> Split(byte[] bytes, int splitAt) => Sequences.SplitAt(bytes, splitAt);

    public static ReadOnlySequence<byte> Segments(params ReadOnlyMemory<byte>[] parts) => Sequences.Of(parts);

    /// <summary>Every byte in its own segment: every field straddles a boundary.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(byte[] bytes) => Sequences.OneBytePerSegment(bytes);

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
