using System.Buffers;

namespace Savate.Flv.Tests;

/// <summary>What a test compares about a tag, with the bytes copied out of the reader's buffer.</summary>
internal sealed record ParsedTag(
    FlvTagType Type,
    uint Timestamp,
    FlvPacketKind Kind,
    bool IsKeyframe,
    FlvVideoCodec VideoCodec,
    FlvAudioCodec AudioCodec,
    long Offset,
    byte[] Bytes)
{
    public static ParsedTag From(in FlvTag tag, long offset)
        => new(tag.Type, tag.Timestamp, tag.Kind, tag.IsKeyframe, tag.VideoCodec, tag.AudioCodec, offset, tag.Bytes.ToArray());

    public bool Matches(in FlvTag tag, long offset)
        => tag.Type == Type
            && tag.Timestamp == Timestamp
            && tag.Kind == Kind
            && tag.IsKeyframe == IsKeyframe
            && tag.VideoCodec == VideoCodec
            && tag.AudioCodec == AudioCodec
            && offset == Offset
            && TestBuffers.SequenceEquals(tag.Bytes, Bytes);
}

internal static class FlvTestReader
{
    /// <summary>Reads the header and every complete tag; returns how many bytes were consumed.</summary>
    public static List<ParsedTag> ReadAll(ReadOnlySequence<byte> sequence, out FlvHeader header, out long consumed, FlvReaderOptions? options = null)
    {
        var flv = new FlvReader(options);
        var reader = new SequenceReader<byte>(sequence);
        var tags = new List<ParsedTag>();
        if (!flv.TryReadHeader(ref reader, out header))
        {
            consumed = reader.Consumed;
            return tags;
        }

        var offset = reader.Consumed;
        while (flv.TryReadTag(ref reader, out var tag))
        {
            tags.Add(ParsedTag.From(tag, offset));
            offset = reader.Consumed;
        }

        consumed = reader.Consumed;
        return tags;
    }

    public static List<ParsedTag> ReadAll(byte[] bytes) => ReadAll(new ReadOnlySequence<byte>(bytes), out _, out _);
}
