using System.Buffers.Binary;

namespace Savate.Mpegts;

/// <summary>
/// In-place edits of single 188-byte packets, for splicing a fallback source into a live output:
/// continue the continuity counters, move the clock (PCR, PTS, DTS) onto the output timeline, flag the
/// discontinuity, and bump the PAT/PMT version so decoders re-read the tables.
/// </summary>
public static class TsRewriter
{
    private const int PacketSize = TsPacketHeader.PacketSize;

    /// <summary>The 33-bit 90 kHz clock wraps here (about 26.5 hours).</summary>
    private const long TimestampModulo = 1L << 33;
    private const long PcrModulo = TimestampModulo * 300;

    /// <summary>Sets continuity_counter (0-15), keeping the other header bits.</summary>
    public static void SetContinuityCounter(Span<byte> packet, int cc)
    {
        CheckPacket(packet);
        ArgumentOutOfRangeException.ThrowIfNegative(cc);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(cc, 15);
        packet[3] = (byte)((packet[3] & 0xF0) | cc);
    }

    /// <summary>
    /// Adds <paramref name="offset90kHz"/> (may be negative; modulo 2^33) to the PCR and OPCR (as offset * 300
    /// on the 27 MHz clock, modulo 2^33 * 300) and, when the packet starts a PES, to its PTS and DTS.
    /// Marker and reserved bits are kept.
    /// </summary>
    public static void ShiftTimestamps(Span<byte> packet, long offset90kHz)
    {
        CheckPacket(packet);
        var offset = ((offset90kHz % TimestampModulo) + TimestampModulo) % TimestampModulo;
        var header = TsPacketHeader.Parse(packet);

        if (header.HasAdaptationField && packet[4] >= 1)
        {
            var afEnd = 5 + Math.Min((int)packet[4], PacketSize - 5);
            var flags = packet[5];
            var position = 6;
            if ((flags & 0x10) != 0 && position + 6 <= afEnd)
            {
                ShiftPcr(packet.Slice(position, 6), offset);
                position += 6;
            }

            if ((flags & 0x08) != 0 && position + 6 <= afEnd)
            {
                ShiftPcr(packet.Slice(position, 6), offset);
            }
        }

        if (!header.PayloadUnitStart || header.PayloadOffset >= PacketSize)
        {
            return;
        }

        var payload = packet[header.PayloadOffset..PacketSize];
        if (PesHeader.Parse(payload, out var pts, out var dts) < 0)
        {
            return;
        }

        if (pts >= 0)
        {
            PesHeader.WriteTimestamp(payload.Slice(9, 5), (pts + offset) % TimestampModulo);
        }

        if (dts >= 0)
        {
            PesHeader.WriteTimestamp(payload.Slice(14, 5), (dts + offset) % TimestampModulo);
        }
    }

    /// <summary>
    /// Sets discontinuity_indicator when the packet has an adaptation field with its flags byte
    /// (adaptation_field_length ≥ 1). Returns false, leaving the packet unchanged, when it has none:
    /// then send <see cref="WriteDiscontinuityPacket"/> before it.
    /// </summary>
    public static bool SetDiscontinuityIndicator(Span<byte> packet)
    {
        CheckPacket(packet);
        if ((packet[3] & 0x20) == 0 || packet[4] == 0)
        {
            return false;
        }

        packet[5] |= 0x80;
        return true;
    }

    /// <summary>
    /// Writes an adaptation-field-only packet (adaptation_field_control 2, length 183,
    /// discontinuity_indicator set, 0xFF stuffing) for <paramref name="pid"/>. Decoders accept it
    /// before the first packet of that PID after a splice. It carries no payload, so by the spec its
    /// continuity_counter does not advance: give it the counter of the last packet sent on the PID.
    /// </summary>
    public static void WriteDiscontinuityPacket(Span<byte> destination188, int pid, int continuityCounter)
    {
        CheckPacket(destination188);
        ArgumentOutOfRangeException.ThrowIfNegative(pid);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(pid, 0x1FFF);
        ArgumentOutOfRangeException.ThrowIfNegative(continuityCounter);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(continuityCounter, 15);

        var packet = destination188[..PacketSize];
        packet[0] = TsPacketHeader.SyncByte;
        packet[1] = (byte)(pid >> 8);
        packet[2] = (byte)pid;
        packet[3] = (byte)(0x20 | continuityCounter);
        packet[4] = PacketSize - 5;
        packet[5] = 0x80;
        packet[6..].Fill(0xFF);
    }

    /// <summary>
    /// Rewrites version_number (0-31) of the PSI section (PAT, PMT...) that starts in this packet and
    /// recomputes its CRC32.
    /// </summary>
    /// <exception cref="ArgumentException">The packet does not start a long-form section that ends within it.</exception>
    public static void SetPsiVersion(Span<byte> packet, int version)
    {
        if (!TrySetPsiVersion(packet, version))
        {
            throw new ArgumentException("The packet does not start a PSI section that fits in it.", nameof(packet));
        }
    }

    /// <summary>Like <see cref="SetPsiVersion"/>, returning false (packet unchanged) instead of throwing when the packet does not qualify.</summary>
    public static bool TrySetPsiVersion(Span<byte> packet, int version)
    {
        CheckPacket(packet);
        ArgumentOutOfRangeException.ThrowIfNegative(version);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(version, 31);

        var header = TsPacketHeader.Parse(packet);
        if (!header.PayloadUnitStart || header.PayloadOffset >= PacketSize)
        {
            return false;
        }

        var payload = packet[header.PayloadOffset..PacketSize];
        var start = 1 + payload[0];
        if (start + 3 > payload.Length)
        {
            return false;
        }

        var sectionLength = ((payload[start + 1] & 0x0F) << 8) | payload[start + 2];
        var section = payload[start..];
        if ((payload[start + 1] & 0x80) == 0 || sectionLength < 9 || 3 + sectionLength > section.Length)
        {
            return false;
        }

        section = section[..(3 + sectionLength)];
        section[5] = (byte)((section[5] & 0xC1) | (version << 1));
        BinaryPrimitives.WriteUInt32BigEndian(section[^4..], Crc32Mpeg2.Compute(section[..^4]));
        return true;
    }

    private static void ShiftPcr(Span<byte> field, long offset90kHz)
    {
        var pcr = TsPacketHeader.ReadPcr(field);
        pcr = (pcr + (offset90kHz * 300)) % PcrModulo;
        var pcrBase = pcr / 300;
        var extension = (int)(pcr % 300);
        field[0] = (byte)(pcrBase >> 25);
        field[1] = (byte)(pcrBase >> 17);
        field[2] = (byte)(pcrBase >> 9);
        field[3] = (byte)(pcrBase >> 1);
        field[4] = (byte)(((int)(pcrBase & 1) << 7) | (field[4] & 0x7E) | (extension >> 8));
        field[5] = (byte)extension;
    }

    private static void CheckPacket(ReadOnlySpan<byte> packet)
    {
        if (packet.Length < PacketSize)
        {
            ThrowHelper.ThrowPacketTooShort(nameof(packet));
        }
    }
}
