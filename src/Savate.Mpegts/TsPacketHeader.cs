namespace Savate.Mpegts;

/// <summary>The 4-byte TS packet header and the fields of its adaptation field that a relay needs.</summary>
public readonly struct TsPacketHeader
{
    public const int PacketSize = 188;
    public const byte SyncByte = 0x47;

    public bool TransportError { get; init; }
    public bool PayloadUnitStart { get; init; }
    public int Pid { get; init; }
    /// <summary>1 payload only, 2 adaptation only, 3 both.</summary>
    public int AdaptationFieldControl { get; init; }
    public int ContinuityCounter { get; init; }
    public bool HasAdaptationField => (AdaptationFieldControl & 2) != 0;
    public bool HasPayload => (AdaptationFieldControl & 1) != 0;
    public bool DiscontinuityIndicator { get; init; }
    public bool RandomAccessIndicator { get; init; }
    /// <summary>PCR in 27 MHz units, or -1.</summary>
    public long Pcr { get; init; }
    /// <summary>Offset of the payload within the packet (188 when there is none).</summary>
    public int PayloadOffset { get; init; }

    /// <summary>Parses a 188-byte packet (clamping an adaptation field length that overruns the packet).</summary>
    /// <exception cref="ArgumentException">The span is shorter than <see cref="PacketSize"/>.</exception>
    public static TsPacketHeader Parse(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < PacketSize)
        {
            ThrowHelper.ThrowPacketTooShort(nameof(packet));
        }

        // One bounds check for the whole packet; the JIT elides the ones below.
        packet = packet[..PacketSize];
        int b1 = packet[1];
        int b3 = packet[3];
        var afc = (b3 >> 4) & 3;

        var discontinuity = false;
        var randomAccess = false;
        var pcr = -1L;
        var payloadOffset = 4;
        if ((afc & 2) != 0)
        {
            // adaptation_field_length counts the bytes after itself; at most 183 fit.
            var afLength = Math.Min((int)packet[4], PacketSize - 5);
            payloadOffset = 5 + afLength;
            if (afLength >= 1)
            {
                int flags = packet[5];
                discontinuity = (flags & 0x80) != 0;
                randomAccess = (flags & 0x40) != 0;
                if ((flags & 0x10) != 0 && afLength >= 7)
                {
                    pcr = ReadPcr(packet.Slice(6, 6));
                }
            }
        }

        if ((afc & 1) == 0)
        {
            payloadOffset = PacketSize;
        }

        return new TsPacketHeader
        {
            TransportError = (b1 & 0x80) != 0,
            PayloadUnitStart = (b1 & 0x40) != 0,
            Pid = ((b1 & 0x1F) << 8) | packet[2],
            AdaptationFieldControl = afc,
            ContinuityCounter = b3 & 0x0F,
            DiscontinuityIndicator = discontinuity,
            RandomAccessIndicator = randomAccess,
            Pcr = pcr,
            PayloadOffset = payloadOffset,
        };
    }

    /// <summary>program_clock_reference_base (33 bits, 90 kHz) * 300 + extension (9 bits).</summary>
    internal static long ReadPcr(ReadOnlySpan<byte> pcr)
    {
        var pcrBase = ((long)pcr[0] << 25) | ((long)pcr[1] << 17) | ((long)pcr[2] << 9) | ((long)pcr[3] << 1) | ((long)pcr[4] >> 7);
        var extension = ((pcr[4] & 1) << 8) | pcr[5];
        return (pcrBase * 300) + extension;
    }
}
