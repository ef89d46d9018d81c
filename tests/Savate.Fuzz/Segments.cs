using System.Buffers;
using Savate.TestSupport;

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
    public static ReadOnlySequence<byte> Split(ReadOnlyMemory<byte> data, int size) => Sequences.Split(data, size);
}
