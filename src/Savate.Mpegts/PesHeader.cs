namespace Savate.Mpegts;

/// <summary>The start of a PES packet (ISO 13818-1 2.4.3.6), as much as a relay needs.</summary>
internal static class PesHeader
{
    /// <summary>
    /// Reads PTS/DTS from a payload that starts a PES. Returns the offset of the elementary
    /// stream data within <paramref name="payload"/>, or -1 when it is not a PES start.
    /// </summary>
    public static int Parse(ReadOnlySpan<byte> payload, out long pts, out long dts)
    {
        pts = -1;
        dts = -1;
        if (payload.Length < 6 || payload[0] != 0 || payload[1] != 0 || payload[2] != 1)
        {
            return -1;
        }

        if (!HasOptionalHeader(payload[3]))
        {
            return 6;
        }

        if (payload.Length < 9)
        {
            return payload.Length;
        }

        // Lenient: the '10' bits of byte 6 and the marker bits are not enforced, muxers get them wrong.
        var flags = payload[7] >> 6;
        var esOffset = Math.Min(9 + payload[8], payload.Length);
        var header = payload[..esOffset];
        if ((flags & 2) != 0 && header.Length >= 14)
        {
            pts = ReadTimestamp(header.Slice(9, 5));
            if (flags == 3 && header.Length >= 19)
            {
                dts = ReadTimestamp(header.Slice(14, 5));
            }
        }

        return esOffset;
    }

    /// <summary>Reads the 33-bit timestamp spread over 5 bytes with marker bits.</summary>
    public static long ReadTimestamp(ReadOnlySpan<byte> ts) =>
        (((long)(ts[0] >> 1) & 0x07) << 30)
        | ((long)ts[1] << 22)
        | ((long)(ts[2] >> 1) << 15)
        | ((long)ts[3] << 7)
        | ((long)ts[4] >> 1);

    /// <summary>Writes a 33-bit timestamp, keeping the prefix nibble and setting the marker bits.</summary>
    public static void WriteTimestamp(Span<byte> ts, long value)
    {
        ts[0] = (byte)((ts[0] & 0xF0) | (int)((value >> 29) & 0x0E) | 1);
        ts[1] = (byte)(value >> 22);
        ts[2] = (byte)(((value >> 14) & 0xFE) | 1);
        ts[3] = (byte)(value >> 7);
        ts[4] = (byte)(((value << 1) & 0xFE) | 1);
    }

    // program_stream_map, padding, private_stream_2, ECM, EMM, DSMCC, H.222.1 type E, directory: no optional header.
    private static bool HasOptionalHeader(byte streamId) =>
        streamId is not (0xBC or 0xBE or 0xBF or 0xF0 or 0xF1 or 0xF2 or 0xF8 or 0xFF);
}
