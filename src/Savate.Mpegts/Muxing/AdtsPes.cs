using System.Buffers;
using System.Buffers.Binary;

namespace Savate.Mpegts.Muxing;

/// <summary>
/// An audio PES taken apart, for a cutter that must split another muxer's PES of several ADTS frames at a
/// point in time (an HLS segment boundary): the elementary stream bytes of a PES from its TS packets, and the
/// ADTS frame where a given PTS is reached. Pure code, never throws on bad input.
/// </summary>
public static class AdtsPes
{
    /// <summary>
    /// Collects the elementary stream bytes of one PES from its TS packets (a multiple of 188 bytes, the first
    /// one starting the PES) into <paramref name="es"/>; returns false when the first packet does not start a
    /// PES with a PTS.
    /// </summary>
    public static bool TryReadPes(ReadOnlySpan<byte> packets, IBufferWriter<byte> es, out long pts, out byte streamId)
    {
        pts = -1;
        streamId = 0;
        for (var offset = 0; offset + TsPacketHeader.PacketSize <= packets.Length; offset += TsPacketHeader.PacketSize)
        {
            var packet = packets.Slice(offset, TsPacketHeader.PacketSize);
            var header = TsPacketHeader.Parse(packet);
            if (header.PayloadOffset >= TsPacketHeader.PacketSize)
            {
                continue;
            }
            var payload = packet[header.PayloadOffset..];
            if (offset == 0)
            {
                if (!header.PayloadUnitStart)
                {
                    return false;
                }
                var esOffset = PesHeader.Parse(payload, out pts, out _);
                if (esOffset < 0 || pts < 0)
                {
                    return false;
                }
                streamId = payload[3];
                payload = payload[esOffset..];
            }
            es.Write(payload);
        }
        return pts >= 0;
    }

    /// <summary>
    /// Walks the ADTS frames of <paramref name="adts"/>, whose first frame is at <paramref name="pts"/> (90 kHz),
    /// to the first frame at or after <paramref name="boundary"/>: its byte offset (the length when every frame
    /// is before it) and its PTS. False when the bytes are not whole ADTS frames.
    /// </summary>
    public static bool TryFindSplit(ReadOnlySpan<byte> adts, long pts, long boundary, out int offset, out long splitPts)
    {
        offset = 0;
        splitPts = pts;
        long samples = 0;
        var rate = 48000;
        while (offset < adts.Length)
        {
            var frame = adts[offset..];
            if (!TsCodecProbe.TryReadAdts(frame, out var config))
            {
                return false;
            }
            rate = config.SampleRate;
            var length = ((frame[3] & 0x03) << 11) | (frame[4] << 3) | (frame[5] >> 5);
            if (length < AudioConfig.AdtsHeaderSize || length > frame.Length)
            {
                return false;
            }
            splitPts = pts + (samples * 90000 / config.SampleRate);
            if (splitPts >= boundary)
            {
                return true;
            }
            samples += 1024 * ((frame[6] & 0x03) + 1);
            offset += length;
        }
        splitPts = pts + (samples * 90000 / rate);
        return true;
    }

    /// <summary>PES_packet_length + 6 from a payload that starts a PES (the PES's whole size), or 0 when unbounded or unknown.</summary>
    public static int PesSize(ReadOnlySpan<byte> payload) =>
        payload.Length >= 6 && payload[0] == 0 && payload[1] == 0 && payload[2] == 1 && BinaryPrimitives.ReadUInt16BigEndian(payload[4..]) is var length and > 0
            ? 6 + length
            : 0;
}
