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

public sealed record FlvReaderOptions
{
    /// <summary>Largest tag DataSize accepted; larger is <see cref="FlvError.TagTooLarge"/>.</summary>
    public int MaxTagDataSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>Whether a PreviousTagSize that does not match the tag is an error.</summary>
    public bool ValidatePreviousTagSize { get; init; } = true;
}
