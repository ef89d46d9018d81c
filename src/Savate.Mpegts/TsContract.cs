// CONTRACT STUBS: the server codes against these signatures. The MPEG-TS helper replaces the bodies
// (and may split the file) without changing any public signature below.
using System.Buffers;

namespace Savate.Mpegts;

/// <summary>What a packet carries, from the PAT/PMT seen so far.</summary>
public enum TsPacketKind
{
    /// <summary>PID not (yet) described by the PMT.</summary>
    Other,
    Pat,
    Pmt,
    Video,
    Audio,
    /// <summary>Other elementary streams listed in the PMT (private data, subtitles...).</summary>
    Data,
    Null,
}

public enum TsError
{
    /// <summary>No 0x47 sync at a 188-byte stride within <see cref="TsDemuxerOptions.MaxResyncBytes"/>.</summary>
    NoSync,
}

public sealed class TsFormatException(TsError reason, string message) : Exception(message)
{
    public TsError Reason { get; } = reason;
}

/// <summary>One elementary stream of the program.</summary>
public sealed record TsStreamInfo(int Pid, byte StreamType, TsPacketKind Kind, string Codec);

/// <summary>The (first) program as described by the latest PAT and PMT.</summary>
public sealed record TsProgramInfo(int ProgramNumber, int PmtPid, int PcrPid, int Version, IReadOnlyList<TsStreamInfo> Streams)
{
    public bool HasVideo => Streams.Any(s => s.Kind == TsPacketKind.Video);
}

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
    public static TsPacketHeader Parse(ReadOnlySpan<byte> packet) => throw new NotImplementedException();
}

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

public sealed record TsDemuxerOptions
{
    /// <summary>How many packets in a row must show 0x47 at the stride to accept a sync point.</summary>
    public int SyncConfirmPackets { get; init; } = 3;

    /// <summary>Garbage tolerated while searching for sync before <see cref="TsError.NoSync"/>.</summary>
    public int MaxResyncBytes { get; init; } = 64 * 1024;
}

/// <summary>
/// Resumable MPEG-TS demuxer in the Kestrel HttpParser style: TryRead returns false when more
/// bytes are needed; it resyncs on the 0x47 stride, tracks PAT/PMT, classifies packets and finds join points.
/// </summary>
public sealed class TsDemuxer
{
    public TsDemuxer(TsDemuxerOptions? options = null) => throw new NotImplementedException();

    /// <summary>The program from the latest PAT/PMT, or null before both were seen.</summary>
    public TsProgramInfo? Program => throw new NotImplementedException();

    /// <summary>The packets that carried the latest PAT then the latest PMT, concatenated (a multiple of 188 bytes), or empty.</summary>
    public ReadOnlyMemory<byte> ProgramPackets => throw new NotImplementedException();

    /// <summary>Total garbage bytes skipped so far.</summary>
    public long SkippedBytes => throw new NotImplementedException();

    public bool TryRead(ref SequenceReader<byte> reader, out TsPacketInfo packet) => throw new NotImplementedException();

    /// <summary>True when the data looks like TS: 0x47 at offset 0 and at each 188-byte stride that the span covers (at least two packets).</summary>
    public static bool LooksLikeTs(ReadOnlySpan<byte> data) => throw new NotImplementedException();
}

/// <summary>CRC-32/MPEG-2 (poly 0x04C11DB7, init 0xFFFFFFFF, no reflection, no final xor), as PSI sections use.</summary>
public static class Crc32Mpeg2
{
    public static uint Compute(ReadOnlySpan<byte> data) => throw new NotImplementedException();
}
