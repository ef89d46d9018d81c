using System.Buffers;

namespace Savate.Mpegts;

/// <summary>A packet found by <see cref="TsDemuxer"/>.</summary>
public readonly struct TsPacketInfo
{
    public TsPacketHeader Header { get; init; }
    public TsPacketKind Kind { get; init; }

    /// <summary>
    /// A join point: a video packet starting a PES that is a random access point (adaptation
    /// random_access_indicator, or an H.264 IDR/SPS or HEVC IRAP/VPS/SPS in the PES start), or,
    /// in a program without video, an audio packet that starts a PES.
    /// </summary>
    public bool IsRandomAccess { get; init; }

    /// <summary>PTS of a PES starting in this packet (90 kHz, 33 bits), or -1.</summary>
    public long Pts { get; init; }
    /// <summary>DTS of a PES starting in this packet (90 kHz), or -1 (then equal to PTS).</summary>
    public long Dts { get; init; }

    /// <summary>True on the packet that completed a PAT or PMT different from the previous one.</summary>
    public bool ProgramChanged { get; init; }

    /// <summary>Garbage bytes skipped to find this packet's sync.</summary>
    public int SkippedBytes { get; init; }

    /// <summary>The 188 bytes. Valid until the buffer is advanced.</summary>
    public ReadOnlySequence<byte> Bytes { get; init; }
}
