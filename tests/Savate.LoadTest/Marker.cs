using System.Buffers.Binary;
using System.Diagnostics;

namespace Savate.LoadTest;

/// <summary>
/// The 16-byte send-time marker every video frame carries: 8 magic bytes, then the Stopwatch timestamp
/// (little endian) taken just before the frame was handed to the socket. Source and listeners live in
/// the same process, so Stopwatch ticks compare directly.
/// </summary>
internal static class Marker
{
    public const int Size = 16;

    public static ReadOnlySpan<byte> Magic => [0x53, 0x56, 0x4C, 0x44, 0x54, 0x53, 0xA5, 0x5A];

    public static void Write(Span<byte> destination, long timestamp)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], timestamp);
    }

    public static long Now() => Stopwatch.GetTimestamp();
}
