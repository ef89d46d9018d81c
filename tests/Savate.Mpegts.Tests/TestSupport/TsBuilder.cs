using System.Buffers.Binary;

namespace Savate.Mpegts.Tests.TestSupport;

/// <summary>Builds small synthetic transport streams, packet by packet, with per-PID continuity counters.</summary>
internal sealed class TsBuilder
{
    private readonly Dictionary<int, int> _cc = [];
    private readonly List<byte> _bytes = [];

    public byte[] ToArray() => [.. _bytes];

    public int Length => _bytes.Count;

    public TsBuilder Add(byte[] packet)
    {
        _bytes.AddRange(packet);
        return this;
    }

    public TsBuilder Pat(int programNumber, int pmtPid, int version = 0, bool corruptCrc = false) =>
        Psi(0, PatSection(programNumber, pmtPid, version, corruptCrc));

    public TsBuilder Pmt(int pmtPid, int programNumber, int pcrPid, int version, params (byte Type, int Pid, byte[] Descriptors)[] streams) =>
        Psi(pmtPid, PmtSection(programNumber, pcrPid, version, streams));

    /// <summary>Writes a section with pointer_field 0, spanning as many packets as needed.</summary>
    public TsBuilder Psi(int pid, byte[] section)
    {
        var payload = new byte[section.Length + 1];
        section.CopyTo(payload, 1);
        for (var offset = 0; offset < payload.Length; offset += 184)
        {
            var chunk = new byte[184];
            Array.Fill(chunk, (byte)0xFF);
            payload.AsSpan(offset, Math.Min(184, payload.Length - offset)).CopyTo(chunk);
            Add(Packet(pid, offset == 0, NextCc(pid), chunk));
        }

        return this;
    }

    /// <summary>Writes one PES (PTS, optional DTS) carrying <paramref name="es"/>, over as many packets as needed.</summary>
    public TsBuilder Pes(int pid, byte streamId, long pts, long dts, byte[] es, bool randomAccessIndicator = false, long pcr = -1)
    {
        var pes = PesBytes(streamId, pts, dts, es);
        var offset = 0;
        var first = true;
        while (offset < pes.Length)
        {
            var room = 184;
            if (first && (randomAccessIndicator || pcr >= 0))
            {
                room -= pcr >= 0 ? 8 : 2;
            }

            var take = Math.Min(room, pes.Length - offset);
            Add(Packet(pid, first, NextCc(pid), pes.AsSpan(offset, take), first && randomAccessIndicator, first ? pcr : -1));
            offset += take;
            first = false;
        }

        return this;
    }

    public int NextCc(int pid)
    {
        _cc.TryGetValue(pid, out var cc);
        _cc[pid] = (cc + 1) & 0x0F;
        return cc;
    }

    /// <summary>One 188-byte packet; an adaptation field is added (stuffed with 0xFF) when the payload is short or flags are asked for.</summary>
    public static byte[] Packet(int pid, bool pusi, int cc, ReadOnlySpan<byte> payload, bool randomAccessIndicator = false, long pcr = -1)
    {
        var packet = new byte[188];
        packet[0] = 0x47;
        packet[1] = (byte)((pusi ? 0x40 : 0) | ((pid >> 8) & 0x1F));
        packet[2] = (byte)pid;
        var needsAf = payload.Length < 184 || randomAccessIndicator || pcr >= 0;
        packet[3] = (byte)(((needsAf ? 2 : 0) | (payload.IsEmpty ? 0 : 1)) << 4 | (cc & 0x0F));
        var offset = 4;
        if (needsAf)
        {
            var afLength = 183 - payload.Length;
            packet[4] = (byte)afLength;
            if (afLength > 0)
            {
                packet.AsSpan(5, afLength).Fill(0xFF);
                packet[5] = (byte)((randomAccessIndicator ? 0x40 : 0) | (pcr >= 0 ? 0x10 : 0));
                if (pcr >= 0)
                {
                    var pcrBase = pcr / 300;
                    var ext = pcr % 300;
                    packet[6] = (byte)(pcrBase >> 25);
                    packet[7] = (byte)(pcrBase >> 17);
                    packet[8] = (byte)(pcrBase >> 9);
                    packet[9] = (byte)(pcrBase >> 1);
                    packet[10] = (byte)(((pcrBase & 1) << 7) | 0x7E | (ext >> 8));
                    packet[11] = (byte)ext;
                }
            }

            offset = 5 + afLength;
        }

        payload.CopyTo(packet.AsSpan(offset));
        return packet;
    }

    public static byte[] PatSection(int programNumber, int pmtPid, int version = 0, bool corruptCrc = false)
    {
        var body = new byte[8];
        BinaryPrimitives.WriteUInt16BigEndian(body, 0); // NIT entry
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(2), 0xE010);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(4), (ushort)programNumber);
        BinaryPrimitives.WriteUInt16BigEndian(body.AsSpan(6), (ushort)(0xE000 | pmtPid));
        return Section(0x00, 1, version, body, corruptCrc);
    }

    public static byte[] PmtSection(int programNumber, int pcrPid, int version, (byte Type, int Pid, byte[] Descriptors)[] streams, bool corruptCrc = false)
    {
        var body = new List<byte> { (byte)(0xE0 | (pcrPid >> 8)), (byte)pcrPid, 0xF0, 0x00 };
        foreach (var (type, pid, descriptors) in streams)
        {
            body.Add(type);
            body.Add((byte)(0xE0 | (pid >> 8)));
            body.Add((byte)pid);
            body.Add((byte)(0xF0 | (descriptors.Length >> 8)));
            body.Add((byte)descriptors.Length);
            body.AddRange(descriptors);
        }

        return Section(0x02, (ushort)programNumber, version, [.. body], corruptCrc);
    }

    public static byte[] Section(byte tableId, ushort extension, int version, byte[] body, bool corruptCrc = false)
    {
        var sectionLength = 5 + body.Length + 4;
        var section = new byte[3 + sectionLength];
        section[0] = tableId;
        section[1] = (byte)(0xB0 | (sectionLength >> 8));
        section[2] = (byte)sectionLength;
        BinaryPrimitives.WriteUInt16BigEndian(section.AsSpan(3), extension);
        section[5] = (byte)(0xC1 | ((version & 0x1F) << 1));
        section[6] = 0;
        section[7] = 0;
        body.CopyTo(section, 8);
        var crc = Crc32Mpeg2.Compute(section.AsSpan(0, section.Length - 4));
        BinaryPrimitives.WriteUInt32BigEndian(section.AsSpan(section.Length - 4), corruptCrc ? crc ^ 1 : crc);
        return section;
    }

    public static byte[] PesBytes(byte streamId, long pts, long dts, byte[] es)
    {
        var hasDts = dts >= 0;
        var headerData = pts < 0 ? 0 : hasDts ? 10 : 5;
        var pes = new byte[9 + headerData + es.Length];
        pes[2] = 1;
        pes[3] = streamId;
        var length = pes.Length - 6;
        BinaryPrimitives.WriteUInt16BigEndian(pes.AsSpan(4), (ushort)(length > 0xFFFF || streamId is >= 0xE0 and <= 0xEF ? 0 : length));
        pes[6] = 0x80;
        pes[7] = (byte)(pts < 0 ? 0 : hasDts ? 0xC0 : 0x80);
        pes[8] = (byte)headerData;
        if (pts >= 0)
        {
            WriteTimestamp(pes.AsSpan(9), hasDts ? 3 : 2, pts);
        }

        if (hasDts)
        {
            WriteTimestamp(pes.AsSpan(14), 1, dts);
        }

        es.CopyTo(pes, 9 + headerData);
        return pes;
    }

    public static void WriteTimestamp(Span<byte> ts, int prefix, long value)
    {
        ts[0] = (byte)((prefix << 4) | (int)((value >> 29) & 0x0E) | 1);
        ts[1] = (byte)(value >> 22);
        ts[2] = (byte)(((value >> 14) & 0xFE) | 1);
        ts[3] = (byte)(value >> 7);
        ts[4] = (byte)(((value << 1) & 0xFE) | 1);
    }

    public static byte[] Registration(string formatIdentifier) => [0x05, 4, .. System.Text.Encoding.ASCII.GetBytes(formatIdentifier)];
}
