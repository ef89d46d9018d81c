using System.Diagnostics.CodeAnalysis;

namespace Savate.Flv;

/// <summary>Throw sites kept out of line so the parsing hot path stays small and inlinable.</summary>
internal static class FlvThrowHelper
{
    [DoesNotReturn]
    public static void ThrowBadSignature(ReadOnlySpan<byte> seen)
        => throw new FlvFormatException(FlvError.BadSignature, $"Not an FLV stream: expected signature 'FLV' (46 4C 56), saw {Convert.ToHexString(seen)}.");

    [DoesNotReturn]
    public static void ThrowBadHeaderSize(uint dataOffset)
        => throw new FlvFormatException(FlvError.BadHeaderSize, $"FLV header DataOffset is {dataOffset}; expected {FlvHeader.Size} to {FlvHeader.MaxDataOffset}.");

    [DoesNotReturn]
    public static void ThrowUnknownTagType(byte typeByte, long offset)
        => throw new FlvFormatException(FlvError.UnknownTagType, $"FLV tag at buffer offset {offset} has type {typeByte & 0x1F} (byte 0x{typeByte:X2}); expected 8 (audio), 9 (video) or 18 (script).");

    [DoesNotReturn]
    public static void ThrowTagTooLarge(int dataSize, int maxDataSize, long offset)
        => throw new FlvFormatException(FlvError.TagTooLarge, $"FLV tag at buffer offset {offset} declares DataSize {dataSize}, more than the configured maximum {maxDataSize}.");

    [DoesNotReturn]
    public static void ThrowBadStreamId(int streamId, long offset)
        => throw new FlvFormatException(FlvError.BadStreamId, $"FLV tag at buffer offset {offset} has StreamID {streamId}; expected 0.");

    [DoesNotReturn]
    public static void ThrowPreviousTagSizeMismatch(uint previousTagSize, int dataSize, long offset)
        => throw new FlvFormatException(FlvError.PreviousTagSizeMismatch, $"FLV tag at buffer offset {offset} with DataSize {dataSize} is followed by PreviousTagSize {previousTagSize}; expected {FlvTagHeader.Size + dataSize}.");

    [DoesNotReturn]
    public static void ThrowArgumentTooShort(string paramName, int needed, int actual)
        => throw new ArgumentException($"Needs at least {needed} bytes, got {actual}.", paramName);

    [DoesNotReturn]
    public static void ThrowDataSizeOutOfRange(int dataSize)
        => throw new ArgumentOutOfRangeException(nameof(dataSize), dataSize, $"FLV DataSize must be 0 to {FlvTagHeader.MaxDataSize}.");
}
