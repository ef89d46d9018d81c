using System.Buffers;

namespace Savate.Flv;

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

    /// <summary>The tag data alone (no header, no PreviousTagSize). Same lifetime as <see cref="Bytes"/>.</summary>
    public ReadOnlySequence<byte> Data => Bytes.Slice(FlvTagHeader.Size, Header.DataSize);
}
