using System.Buffers.Binary;

namespace Savate.Flv;

/// <summary>The 9-byte FLV file header.</summary>
public readonly struct FlvHeader
{
    /// <summary>The header alone.</summary>
    public const int Size = 9;

    /// <summary>The header followed by PreviousTagSize0.</summary>
    public const int SizeWithPreviousTagSize = 13;

    /// <summary>
    /// Largest DataOffset accepted. Every known writer uses 9; the spec reserves the room for
    /// future header fields, but a hostile or corrupt offset must not make the reader wait for
    /// (or skip) gigabytes.
    /// </summary>
    public const uint MaxDataOffset = 1024;

    private const byte AudioFlag = 0x04;
    private const byte VideoFlag = 0x01;

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
    public static bool HasSignature(ReadOnlySpan<byte> source)
        => source.Length >= 3 && source[0] == (byte)'F' && source[1] == (byte)'L' && source[2] == (byte)'V';

    /// <summary>Parses 9 bytes. Throws <see cref="FlvFormatException"/> on a bad signature or data offset.</summary>
    public static FlvHeader Parse(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            FlvThrowHelper.ThrowArgumentTooShort(nameof(source), Size, source.Length);
        }

        if (!HasSignature(source))
        {
            FlvThrowHelper.ThrowBadSignature(source[..3]);
        }

        var flags = source[4];
        var dataOffset = BinaryPrimitives.ReadUInt32BigEndian(source[5..]);
        if (dataOffset < Size || dataOffset > MaxDataOffset)
        {
            FlvThrowHelper.ThrowBadHeaderSize(dataOffset);
        }

        return new FlvHeader(source[3], (flags & AudioFlag) != 0, (flags & VideoFlag) != 0, dataOffset);
    }

    /// <summary>Writes the 9-byte header and a zero PreviousTagSize0 (13 bytes).</summary>
    public static void Write(Span<byte> destination, bool hasAudio, bool hasVideo)
    {
        if (destination.Length < SizeWithPreviousTagSize)
        {
            FlvThrowHelper.ThrowArgumentTooShort(nameof(destination), SizeWithPreviousTagSize, destination.Length);
        }

        destination[0] = (byte)'F';
        destination[1] = (byte)'L';
        destination[2] = (byte)'V';
        destination[3] = 1;
        destination[4] = (byte)((hasAudio ? AudioFlag : 0) | (hasVideo ? VideoFlag : 0));
        BinaryPrimitives.WriteUInt32BigEndian(destination[5..], Size);
        BinaryPrimitives.WriteUInt32BigEndian(destination[9..], 0);
    }

    /// <summary>Returns a new 13-byte array holding the header and a zero PreviousTagSize0.</summary>
    public static byte[] ToArray(bool hasAudio, bool hasVideo)
    {
        var bytes = new byte[SizeWithPreviousTagSize];
        Write(bytes, hasAudio, hasVideo);
        return bytes;
    }
}
