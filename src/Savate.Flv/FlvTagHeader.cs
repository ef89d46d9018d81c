using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Savate.Flv;

/// <summary>The 11-byte tag header.</summary>
public readonly struct FlvTagHeader
{
    public const int Size = 11;

    /// <summary>Size of the PreviousTagSize field that follows every tag.</summary>
    public const int PreviousTagSizeLength = 4;

    /// <summary>Largest DataSize the 24-bit field can express.</summary>
    public const int MaxDataSize = 0xFFFFFF;

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
    public int TotalSize => Size + DataSize + PreviousTagSizeLength;

    /// <summary>Parses 11 bytes without validating them.</summary>
    /// <remarks>The tag type is the low 5 bits of byte 0 (bit 5 is the filter flag), so a garbage
    /// type byte yields an undefined <see cref="FlvTagType"/> value: the reader checks it.</remarks>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static FlvTagHeader Parse(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            FlvThrowHelper.ThrowArgumentTooShort(nameof(source), Size, source.Length);
        }

        var typeByte = source[0];
        var dataSize = (source[1] << 16) | (source[2] << 8) | source[3];
        var timestamp = (uint)((source[7] << 24) | (source[4] << 16) | (source[5] << 8) | source[6]);
        var streamId = (source[8] << 16) | (source[9] << 8) | source[10];
        return new FlvTagHeader((FlvTagType)(typeByte & 0x1F), (typeByte & 0x20) != 0, dataSize, timestamp, streamId);
    }

    /// <summary>Rewrites the timestamp (and its extension byte) of the tag that starts at <paramref name="tag"/>.</summary>
    public static void WriteTimestamp(Span<byte> tag, uint timestamp)
    {
        if (tag.Length < 8)
        {
            FlvThrowHelper.ThrowArgumentTooShort(nameof(tag), 8, tag.Length);
        }

        tag[4] = (byte)(timestamp >> 16);
        tag[5] = (byte)(timestamp >> 8);
        tag[6] = (byte)timestamp;
        tag[7] = (byte)(timestamp >> 24);
    }

    /// <summary>Writes an 11-byte tag header (not filtered, stream id 0).</summary>
    /// <param name="destination">At least <see cref="Size"/> bytes.</param>
    /// <param name="tagType">Audio, video or script.</param>
    /// <param name="dataSize">0 to <see cref="MaxDataSize"/>.</param>
    /// <param name="timestamp">Milliseconds; the high 8 bits go to the extension byte.</param>
    public static void Write(Span<byte> destination, FlvTagType tagType, int dataSize, uint timestamp)
    {
        if (destination.Length < Size)
        {
            FlvThrowHelper.ThrowArgumentTooShort(nameof(destination), Size, destination.Length);
        }

        if ((uint)dataSize > MaxDataSize)
        {
            FlvThrowHelper.ThrowDataSizeOutOfRange(dataSize);
        }

        destination[0] = (byte)tagType;
        destination[1] = (byte)(dataSize >> 16);
        destination[2] = (byte)(dataSize >> 8);
        destination[3] = (byte)dataSize;
        WriteTimestamp(destination, timestamp);
        destination[8] = 0;
        destination[9] = 0;
        destination[10] = 0;
    }

    /// <summary>Reads the timestamp (24 bits plus extension byte) of the tag that starts at <paramref name="tag"/>.</summary>
    public static uint ReadTimestamp(ReadOnlySpan<byte> tag)
    {
        if (tag.Length < 8)
        {
            FlvThrowHelper.ThrowArgumentTooShort(nameof(tag), 8, tag.Length);
        }

        return (uint)((tag[7] << 24) | (tag[4] << 16) | (tag[5] << 8) | tag[6]);
    }

    /// <summary>Writes a PreviousTagSize field (big-endian) for a tag of <paramref name="dataSize"/> data bytes.</summary>
    internal static void WritePreviousTagSize(Span<byte> destination, int dataSize)
        => BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)(Size + dataSize));
}
