using System.Buffers;
using System.Buffers.Binary;

namespace Savate.Mpegts.Muxing;

/// <summary>The video elementary stream a <see cref="TsMuxer"/> carries.</summary>
public enum TsVideoCodec
{
    None,
    H264,
    Hevc,
}

/// <summary>
/// Writes one MPEG-TS program (one video and one AAC stream at most) into an <see cref="IBufferWriter{T}"/>:
/// PAT and PMT with their CRC, PES packets with PTS/DTS, a PCR on the first packet of every PES of the PCR
/// stream, continuity counters per PID, and the random access indicator on keyframes. Pure code, no I/O;
/// it takes Annex B video and ADTS audio (see <see cref="FlvTsRemuxer"/> for FLV input). Timestamps are
/// 90 kHz ticks on any timeline; they are written modulo 2^33.
/// </summary>
public sealed class TsMuxer
{
    public const int PacketSize = TsPacketHeader.PacketSize;
    public const int PmtPid = 0x1000;
    public const int VideoPid = 0x100;
    public const int AudioPid = 0x101;

    private const long TimestampModulo = 1L << 33;
    private const byte VideoStreamId = 0xE0;
    private const byte AudioStreamId = 0xC0;

    private readonly byte[] _packet = new byte[PacketSize];
    private readonly byte[] _pesHeader = new byte[19];
    private int _patCc;
    private int _pmtCc;
    private int _videoCc;
    private int _audioCc;
    private int _pmtVersion;
    private bool _streamsSet;

    /// <summary>The video codec in the PMT.</summary>
    public TsVideoCodec Video { get; private set; }

    /// <summary>Whether the PMT lists an AAC stream.</summary>
    public bool HasAudio { get; private set; }

    /// <summary>PID carrying the PCR: the video PID, or the audio PID of an audio-only program.</summary>
    public int PcrPid => Video != TsVideoCodec.None ? VideoPid : AudioPid;

    /// <summary>Sets the streams of the program; a change bumps the PMT version. Returns true if it changed.</summary>
    public bool SetStreams(TsVideoCodec video, bool hasAudio)
    {
        if (_streamsSet && video == Video && hasAudio == HasAudio)
        {
            return false;
        }
        if (_streamsSet)
        {
            _pmtVersion = (_pmtVersion + 1) & 0x1F;
        }
        _streamsSet = true;
        Video = video;
        HasAudio = hasAudio;
        return true;
    }

    /// <summary>Writes the PAT and the PMT, one packet each.</summary>
    public void WriteProgramTables(IBufferWriter<byte> output)
    {
        // PAT: one program (number 1) whose PMT is on PmtPid.
        Span<byte> section = stackalloc byte[64];
        section[0] = 0x00; // table_id
        var length = 5 + 4 + 4; // header after section_length, one program, CRC
        section[1] = (byte)(0xB0 | (length >> 8));
        section[2] = (byte)length;
        BinaryPrimitives.WriteUInt16BigEndian(section[3..], 1); // transport_stream_id
        section[5] = 0xC1; // version 0, current
        section[6] = 0;
        section[7] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(section[8..], 1); // program_number
        BinaryPrimitives.WriteUInt16BigEndian(section[10..], 0xE000 | PmtPid);
        WriteCrc(section, 12);
        WritePsiPacket(output, 0, ref _patCc, section[..16]);

        // PMT: the PCR PID, then one entry per stream, no descriptors.
        var streams = (Video != TsVideoCodec.None ? 1 : 0) + (HasAudio ? 1 : 0);
        length = 9 + 5 * streams + 4;
        section[0] = 0x02;
        section[1] = (byte)(0xB0 | (length >> 8));
        section[2] = (byte)length;
        BinaryPrimitives.WriteUInt16BigEndian(section[3..], 1); // program_number
        section[5] = (byte)(0xC1 | (_pmtVersion << 1));
        section[6] = 0;
        section[7] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(section[8..], (ushort)(0xE000 | PcrPid));
        BinaryPrimitives.WriteUInt16BigEndian(section[10..], 0xF000); // program_info_length 0
        var offset = 12;
        if (Video != TsVideoCodec.None)
        {
            section[offset] = Video == TsVideoCodec.H264 ? (byte)0x1B : (byte)0x24;
            BinaryPrimitives.WriteUInt16BigEndian(section[(offset + 1)..], 0xE000 | VideoPid);
            BinaryPrimitives.WriteUInt16BigEndian(section[(offset + 3)..], 0xF000);
            offset += 5;
        }
        if (HasAudio)
        {
            section[offset] = 0x0F;
            BinaryPrimitives.WriteUInt16BigEndian(section[(offset + 1)..], 0xE000 | AudioPid);
            BinaryPrimitives.WriteUInt16BigEndian(section[(offset + 3)..], 0xF000);
            offset += 5;
        }
        WriteCrc(section, offset);
        WritePsiPacket(output, PmtPid, ref _pmtCc, section[..(offset + 4)]);
    }

    /// <summary>
    /// Writes one video access unit (Annex B, with its AUD and, for a keyframe, its parameter sets) as one PES.
    /// A keyframe's first packet carries the random access indicator; every PES of the PCR stream a PCR at its DTS.
    /// </summary>
    public void WriteVideo(IBufferWriter<byte> output, ReadOnlySequence<byte> annexB, long pts, long dts, bool keyframe)
    {
        // Video PES may leave PES_packet_length 0 (unbounded), which frames larger than 64 KB need.
        var header = BuildPesHeader(VideoStreamId, pts, dts, payloadLength: 0);
        WritePes(output, VideoPid, ref _videoCc, header, annexB, keyframe, PcrPid == VideoPid ? dts : -1);
    }

    /// <summary>Writes one or more ADTS frames as one audio PES.</summary>
    public void WriteAudio(IBufferWriter<byte> output, ReadOnlySequence<byte> adts, long pts)
    {
        var header = BuildPesHeader(AudioStreamId, pts, pts, (int)adts.Length);
        WritePes(output, AudioPid, ref _audioCc, header, adts, randomAccess: Video == TsVideoCodec.None, PcrPid == AudioPid ? pts : -1);
    }

    /// <summary>
    /// Writes one PES of <paramref name="payload"/> at <paramref name="pts"/> on any PID with the caller's
    /// continuity counter and stream_id: for re-packetizing part of another muxer's audio PES (no PCR, no random access).
    /// </summary>
    public void WritePes(IBufferWriter<byte> output, int pid, ref int cc, byte streamId, ReadOnlySequence<byte> payload, long pts)
    {
        var header = BuildPesHeader(streamId, pts, pts, (int)payload.Length);
        WritePes(output, pid, ref cc, header, payload, randomAccess: false, pcr: -1);
    }

    private ReadOnlySpan<byte> BuildPesHeader(byte streamId, long pts, long dts, int payloadLength)
    {
        var h = _pesHeader;
        h[0] = 0;
        h[1] = 0;
        h[2] = 1;
        h[3] = streamId;
        var withDts = dts != pts;
        var headerDataLength = withDts ? 10 : 5;
        var pesLength = payloadLength == 0 ? 0 : 3 + headerDataLength + payloadLength;
        if (pesLength > ushort.MaxValue)
        {
            pesLength = 0;
        }
        BinaryPrimitives.WriteUInt16BigEndian(h.AsSpan(4), (ushort)pesLength);
        h[6] = 0x84; // '10', data_alignment_indicator
        h[7] = withDts ? (byte)0xC0 : (byte)0x80;
        h[8] = (byte)headerDataLength;
        h[9] = withDts ? (byte)0x30 : (byte)0x20;
        PesHeader.WriteTimestamp(h.AsSpan(9, 5), Wrap(pts));
        if (withDts)
        {
            h[14] = 0x10;
            PesHeader.WriteTimestamp(h.AsSpan(14, 5), Wrap(dts));
        }
        return h.AsSpan(0, 9 + headerDataLength);
    }

    private void WritePes(IBufferWriter<byte> output, int pid, ref int cc, ReadOnlySpan<byte> pesHeader, ReadOnlySequence<byte> payload, bool randomAccess, long pcr)
    {
        var headerRemaining = pesHeader;
        var reader = new SequenceReader<byte>(payload);
        var first = true;
        Span<byte> af = stackalloc byte[8];
        while (first || !headerRemaining.IsEmpty || !reader.End)
        {
            var packet = _packet.AsSpan();
            packet[0] = 0x47;
            packet[1] = (byte)((first ? 0x40 : 0) | (pid >> 8));
            packet[2] = (byte)pid;
            var available = headerRemaining.Length + (int)reader.Remaining;

            // Adaptation field: random access indicator and PCR on the first packet, stuffing on the last.
            var afLength = -1; // -1: none; otherwise adaptation_field_length
            var afFlags = 0;
            var afData = 0;
            if (first && (randomAccess || pcr >= 0))
            {
                afFlags = (randomAccess ? 0x40 : 0) | (pcr >= 0 ? 0x10 : 0);
                if (pcr >= 0)
                {
                    WritePcr(af, Wrap(pcr));
                    afData = 6;
                }
                afLength = 1 + afData;
            }
            var room = PacketSize - 4 - (afLength >= 0 ? afLength + 1 : 0);
            if (available < room)
            {
                // Stuff the last packet: grow (or create) the adaptation field.
                var stuffing = room - available;
                if (afLength < 0)
                {
                    afLength = stuffing - 1; // the length byte itself takes one
                    afFlags = 0;
                    afData = 0;
                }
                else
                {
                    afLength += stuffing;
                }
                room = available;
            }
            var position = 4;
            if (afLength >= 0)
            {
                packet[3] = (byte)(0x30 | cc);
                packet[4] = (byte)afLength;
                if (afLength > 0)
                {
                    packet[5] = (byte)afFlags;
                    af[..afData].CopyTo(packet[6..]);
                    packet.Slice(6 + afData, afLength - 1 - afData).Fill(0xFF);
                }
                position = 5 + afLength;
            }
            else
            {
                packet[3] = (byte)(0x10 | cc);
            }
            cc = (cc + 1) & 0x0F;
            var take = Math.Min(room, headerRemaining.Length);
            headerRemaining[..take].CopyTo(packet[position..]);
            headerRemaining = headerRemaining[take..];
            position += take;
            var fromPayload = room - take;
            if (fromPayload > 0)
            {
                reader.TryCopyTo(packet.Slice(position, fromPayload));
                reader.Advance(fromPayload);
                position += fromPayload;
            }
            System.Diagnostics.Debug.Assert(position == PacketSize);
            output.Write(packet);
            first = false;
        }
    }

    private static void WritePsiPacket(IBufferWriter<byte> output, int pid, ref int cc, ReadOnlySpan<byte> section)
    {
        var packet = output.GetSpan(PacketSize)[..PacketSize];
        packet[0] = 0x47;
        packet[1] = (byte)(0x40 | (pid >> 8));
        packet[2] = (byte)pid;
        packet[3] = (byte)(0x10 | cc);
        cc = (cc + 1) & 0x0F;
        packet[4] = 0; // pointer_field
        section.CopyTo(packet[5..]);
        packet[(5 + section.Length)..].Fill(0xFF);
        output.Advance(PacketSize);
    }

    /// <summary>Writes the CRC of the first <paramref name="length"/> bytes in the 4 bytes after them.</summary>
    private static void WriteCrc(Span<byte> section, int length) =>
        BinaryPrimitives.WriteUInt32BigEndian(section[length..], Crc32Mpeg2.Compute(section[..length]));

    private static void WritePcr(Span<byte> destination, long pcrBase)
    {
        // 33-bit base, 6 reserved bits, 9-bit extension (0).
        destination[0] = (byte)(pcrBase >> 25);
        destination[1] = (byte)(pcrBase >> 17);
        destination[2] = (byte)(pcrBase >> 9);
        destination[3] = (byte)(pcrBase >> 1);
        destination[4] = (byte)(((pcrBase & 1) << 7) | 0x7E);
        destination[5] = 0;
    }

    private static long Wrap(long value) => ((value % TimestampModulo) + TimestampModulo) % TimestampModulo;
}
