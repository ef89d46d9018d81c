using System.Buffers.Binary;
using System.Diagnostics;

namespace Savate.LoadTest;

/// <summary>
/// The 24-byte marker every video frame carries: 8 magic bytes, the Stopwatch timestamp taken just
/// before the frame was handed to the socket, and the marker's own offset in the source's stream
/// (the byte index of its first magic byte in the body the source has sent since its first byte; HTTP
/// chunk framing is not counted). Both numbers are little endian. Source and listeners live in the
/// same process, so Stopwatch ticks compare directly; the offset lets a listener line its own byte
/// count up with the source's at the same frame (see <see cref="ListenerClient"/>).
/// </summary>
internal static class Marker
{
    public const int Size = 24;

    public static ReadOnlySpan<byte> Magic => [0x53, 0x56, 0x4C, 0x44, 0x54, 0x53, 0xA5, 0x5A];

    public static void Write(Span<byte> destination, long timestamp, long streamOffset)
    {
        Magic.CopyTo(destination);
        BinaryPrimitives.WriteInt64LittleEndian(destination[8..], timestamp);
        BinaryPrimitives.WriteInt64LittleEndian(destination[16..], streamOffset);
    }

    public static long ReadTimestamp(ReadOnlySpan<byte> marker) => BinaryPrimitives.ReadInt64LittleEndian(marker[8..]);

    public static long ReadStreamOffset(ReadOnlySpan<byte> marker) => BinaryPrimitives.ReadInt64LittleEndian(marker[16..]);

    public static long Now() => Stopwatch.GetTimestamp();
}
