// CONTRACT STUBS: the server codes against these signatures. The FLV helper replaces the bodies
// (and may split the file) without changing any public signature below.
using System.Buffers;

namespace Savate.Flv;

/// <summary>FLV tag types (FLV spec E.4.1).</summary>
public enum FlvTagType : byte
{
    Audio = 8,
    Video = 9,
    Script = 18,
}

/// <summary>What a tag means to a live relay.</summary>
public enum FlvPacketKind
{
    /// <summary>An audio or video frame.</summary>
    Media,
    /// <summary>AVC/HEVC decoder configuration, Enhanced SequenceStart, or AAC AudioSpecificConfig.</summary>
    SequenceHeader,
    /// <summary>AVC end of sequence or Enhanced SequenceEnd.</summary>
    SequenceEnd,
    /// <summary>A script tag named onMetaData (also behind an @setDataFrame prefix).</summary>
    Metadata,
    /// <summary>Any other script tag.</summary>
    Script,
    /// <summary>Video info/command frame (frame type 5) or Enhanced Metadata packet.</summary>
    Info,
}

public enum FlvVideoCodec
{
    None = 0,
    Sorenson = 2,
    Vp6 = 4,
    Vp6Alpha = 5,
    Avc = 7,
    Hevc = 12,
    Av1 = 100,
    Vp9 = 101,
    Other = 255,
}

public enum FlvAudioCodec
{
    None = -1,
    Mp3 = 2,
    Aac = 10,
    Speex = 11,
    Other = 255,
}

/// <summary>Why the bytes are not FLV.</summary>
public enum FlvError
{
    BadSignature,
    BadHeaderSize,
    UnknownTagType,
    TagTooLarge,
    BadStreamId,
    PreviousTagSizeMismatch,
}

/// <summary>Thrown by the readers on malformed input.</summary>
public sealed class FlvFormatException(FlvError reason, string message) : Exception(message)
{
    public FlvError Reason { get; } = reason;
}

/// <summary>The 9-byte FLV file header.</summary>
public readonly struct FlvHeader
{
    /// <summary>The header alone.</summary>
    public const int Size = 9;

    /// <summary>The header followed by PreviousTagSize0.</summary>
    public const int SizeWithPreviousTagSize = 13;

    public FlvHeader(byte version, bool hasAudio, bool hasVideo, uint dataOffset)
    {
        Version = version;
        HasAudio = hasAudio;
        HasVideo = hasVideo;
        DataOffset = dataOffset;
    }

    public byte Version { get; }
    public bool HasAudio { get; }
    public bool HasVideo { get; }
    public uint DataOffset { get; }

    /// <summary>True when the span starts with "FLV" (needs 3 bytes; false when shorter).</summary>
    public static bool HasSignature(ReadOnlySpan<byte> source) => throw new NotImplementedException();

    /// <summary>Parses 9 bytes. Throws <see cref="FlvFormatException"/> on a bad signature or data offset.</summary>
    public static FlvHeader Parse(ReadOnlySpan<byte> source) => throw new NotImplementedException();

    /// <summary>Writes the 9-byte header and a zero PreviousTagSize0 (13 bytes).</summary>
    public static void Write(Span<byte> destination, bool hasAudio, bool hasVideo) => throw new NotImplementedException();
}

/// <summary>The 11-byte tag header.</summary>
public readonly struct FlvTagHeader
{
    public const int Size = 11;

    public FlvTagHeader(FlvTagType tagType, bool isFiltered, int dataSize, uint timestamp, int streamId)
    {
        TagType = tagType;
        IsFiltered = isFiltered;
        DataSize = dataSize;
        Timestamp = timestamp;
        StreamId = streamId;
    }

    public FlvTagType TagType { get; }
    public bool IsFiltered { get; }
    public int DataSize { get; }

    /// <summary>Milliseconds, 24 bits plus the extension byte as the high 8 bits.</summary>
    public uint Timestamp { get; }
    public int StreamId { get; }

    /// <summary>Header, data and the trailing PreviousTagSize.</summary>
    public int TotalSize => Size + DataSize + 4;

    /// <summary>Parses 11 bytes without validating them.</summary>
    public static FlvTagHeader Parse(ReadOnlySpan<byte> source) => throw new NotImplementedException();

    /// <summary>Rewrites the timestamp (and its extension byte) of the tag that starts at <paramref name="tag"/>.</summary>
    public static void WriteTimestamp(Span<byte> tag, uint timestamp) => throw new NotImplementedException();
}

/// <summary>A complete tag found by <see cref="FlvReader"/>.</summary>
public readonly struct FlvTag
{
    public FlvTag(FlvTagHeader header, FlvPacketKind kind, bool isKeyframe, FlvVideoCodec videoCodec, FlvAudioCodec audioCodec, ReadOnlySequence<byte> bytes)
    {
        Header = header;
        Kind = kind;
        IsKeyframe = isKeyframe;
        VideoCodec = videoCodec;
        AudioCodec = audioCodec;
        Bytes = bytes;
    }

    public FlvTagHeader Header { get; }
    public FlvPacketKind Kind { get; }

    /// <summary>A video frame of frame type 1 (key frame) that is coded media (not a sequence header).</summary>
    public bool IsKeyframe { get; }
    public FlvVideoCodec VideoCodec { get; }
    public FlvAudioCodec AudioCodec { get; }

    /// <summary>The whole tag: 11-byte header, data, PreviousTagSize. Valid until the buffer is advanced.</summary>
    public ReadOnlySequence<byte> Bytes { get; }

    public FlvTagType Type => Header.TagType;
    public uint Timestamp => Header.Timestamp;
    public int TotalSize => Header.TotalSize;
}

public sealed record FlvReaderOptions
{
    /// <summary>Largest tag DataSize accepted; larger is <see cref="FlvError.TagTooLarge"/>.</summary>
    public int MaxTagDataSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Whether a PreviousTagSize that does not match the tag is an error.</summary>
    public bool ValidatePreviousTagSize { get; init; } = true;
}

/// <summary>
/// Resumable FLV reader in the Kestrel HttpParser style: each TryRead returns false when more
/// bytes are needed and leaves the SequenceReader where it was; on success it advances past what it read.
/// </summary>
public struct FlvReader
{
    public FlvReader(FlvReaderOptions? options) => throw new NotImplementedException();

    /// <summary>True once the file header (and PreviousTagSize0) has been read.</summary>
    public readonly bool HeaderRead => throw new NotImplementedException();

    /// <summary>Reads the 9-byte header, skips to DataOffset, and reads PreviousTagSize0.</summary>
    public bool TryReadHeader(ref SequenceReader<byte> reader, out FlvHeader header) => throw new NotImplementedException();

    /// <summary>Reads one complete tag (header, data, PreviousTagSize) and classifies it.</summary>
    public bool TryReadTag(ref SequenceReader<byte> reader, out FlvTag tag) => throw new NotImplementedException();
}
