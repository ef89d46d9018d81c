using System.Diagnostics.CodeAnalysis;

namespace Savate.Mpegts;

internal static class ThrowHelper
{
    [DoesNotReturn]
    public static void ThrowNoSync(long garbageBytes, int maxResyncBytes) =>
        throw new TsFormatException(
            TsError.NoSync,
            $"No MPEG-TS sync found: {garbageBytes} bytes without 0x47 repeating at a 188-byte stride (limit {maxResyncBytes}). The input is probably not MPEG-TS.");

    [DoesNotReturn]
    public static void ThrowPacketTooShort(string paramName) =>
        throw new ArgumentException($"A TS packet is {TsPacketHeader.PacketSize} bytes.", paramName);
}
