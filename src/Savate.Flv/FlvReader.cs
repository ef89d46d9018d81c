using System.Buffers;
using System.Buffers.Binary;
using System.Runtime.CompilerServices;

namespace Savate.Flv;

/// <summary>
/// Resumable FLV reader in the Kestrel HttpParser style: each TryRead returns false when more
/// bytes are needed and leaves the SequenceReader where it was; on success it advances past what it read.
/// </summary>
/// <remarks>
/// The only state is whether the file header was read, so the struct can live in a field of an
/// async loop. <see cref="TryReadTag"/> reads the file header first when it was not read yet.
/// Malformed input throws <see cref="FlvFormatException"/>; the reader does not resync, because
/// a live relay should drop a publisher that sends garbage rather than guess.
/// </remarks>
public struct FlvReader
{
    private static readonly FlvReaderOptions s_defaultOptions = new();

    private readonly int _maxTagDataSize;
    private readonly bool _skipPreviousTagSizeCheck;
    private readonly bool _configured;
    private bool _headerRead;

    public FlvReader(FlvReaderOptions? options)
    {
        options ??= s_defaultOptions;
        ArgumentOutOfRangeException.ThrowIfNegative(options.MaxTagDataSize, nameof(options.MaxTagDataSize));
        _maxTagDataSize = Math.Min(options.MaxTagDataSize, FlvTagHeader.MaxDataSize);
        _skipPreviousTagSizeCheck = !options.ValidatePreviousTagSize;
        _configured = true;
        _headerRead = false;
    }

    /// <summary>True once the file header (and PreviousTagSize0) has been read.</summary>
    public readonly bool HeaderRead => _headerRead;

    // default(FlvReader) behaves like new FlvReader(null).
    private readonly int MaxTagDataSize => _configured ? _maxTagDataSize : s_defaultOptions.MaxTagDataSize;

    /// <summary>Reads the 9-byte header, skips to DataOffset, and reads PreviousTagSize0.</summary>
    /// <remarks>
    /// Returns false, without advancing, until DataOffset + 4 bytes are available. Throws
    /// <see cref="FlvFormatException"/> (<see cref="FlvError.BadSignature"/>) as soon as the bytes
    /// seen so far cannot start "FLV", and <see cref="FlvError.BadHeaderSize"/> for a DataOffset
    /// below 9 or above <see cref="FlvHeader.MaxDataOffset"/>. PreviousTagSize0 is not checked.
    /// </remarks>
    public bool TryReadHeader(ref SequenceReader<byte> reader, out FlvHeader header)
    {
        Span<byte> buffer = stackalloc byte[FlvHeader.Size];
        var available = (int)Math.Min(reader.Remaining, FlvHeader.Size);
        if (!reader.TryCopyTo(buffer[..available]))
        {
            header = default;
            return false;
        }

        // Fail fast on a non-FLV source (an HTTP client, a TS stream) without waiting for 9 bytes.
        var signatureBytes = Math.Min(available, 3);
        if (!"FLV"u8[..signatureBytes].SequenceEqual(buffer[..signatureBytes]))
        {
            FlvThrowHelper.ThrowBadSignature(buffer[..signatureBytes]);
        }

        if (available < FlvHeader.Size)
        {
            header = default;
            return false;
        }

        var parsed = FlvHeader.Parse(buffer);
        var needed = parsed.DataOffset + FlvTagHeader.PreviousTagSizeLength;
        if (reader.Remaining < needed)
        {
            header = default;
            return false;
        }

        reader.Advance(needed);
        _headerRead = true;
        header = parsed;
        return true;
    }

    /// <summary>Reads one complete tag (header, data, PreviousTagSize) and classifies it.</summary>
    /// <remarks>
    /// Reads the file header first if <see cref="HeaderRead"/> is false. Returns false, without
    /// advancing, until the whole tag (11 + DataSize + 4 bytes) is available; the tag header
    /// fields are validated as soon as its 11 bytes are there. <see cref="FlvTag.Bytes"/> is a
    /// slice of <c>reader.Sequence</c> (no copy).
    /// </remarks>
    public bool TryReadTag(ref SequenceReader<byte> reader, out FlvTag tag)
    {
        if (!_headerRead && !TryReadHeader(ref reader, out _))
        {
            tag = default;
            return false;
        }

        var unread = reader.UnreadSpan;
        FlvTagHeader header;
        if (unread.Length >= FlvTagHeader.Size)
        {
            header = FlvTagHeader.Parse(unread);
        }
        else if (!TryPeekStraddlingHeader(ref reader, out header))
        {
            tag = default;
            return false;
        }

        Validate(header, unread.Length > 0 ? unread[0] : PeekFirstByte(ref reader), reader.Consumed);

        var totalSize = header.TotalSize;
        FlvPacketKind kind;
        bool isKeyframe;
        FlvVideoCodec videoCodec;
        FlvAudioCodec audioCodec;
        if (unread.Length >= totalSize)
        {
            // Fast path: the whole tag is in the current segment.
            if (!_skipPreviousTagSizeCheck)
            {
                CheckPreviousTagSize(BinaryPrimitives.ReadUInt32BigEndian(unread[(totalSize - 4)..]), header.DataSize, reader.Consumed);
            }

            FlvTagClassifier.Classify(header.TagType, header.IsFiltered, unread.Slice(FlvTagHeader.Size, header.DataSize), out kind, out isKeyframe, out videoCodec, out audioCodec);
        }
        else
        {
            if (reader.Remaining < totalSize)
            {
                tag = default;
                return false;
            }

            ReadStraddlingTag(ref reader, header, unread, out kind, out isKeyframe, out videoCodec, out audioCodec);
        }

        tag = new FlvTag(header, kind, isKeyframe, videoCodec, audioCodec, reader.Sequence.Slice(reader.Position, totalSize));
        reader.Advance(totalSize);
        return true;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private readonly void Validate(in FlvTagHeader header, byte typeByte, long offset)
    {
        var type = header.TagType;
        if (type != FlvTagType.Video && type != FlvTagType.Audio && type != FlvTagType.Script)
        {
            FlvThrowHelper.ThrowUnknownTagType(typeByte, offset);
        }

        var max = MaxTagDataSize;
        if (header.DataSize > max)
        {
            FlvThrowHelper.ThrowTagTooLarge(header.DataSize, max, offset);
        }

        if (header.StreamId != 0)
        {
            FlvThrowHelper.ThrowBadStreamId(header.StreamId, offset);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void CheckPreviousTagSize(uint previousTagSize, int dataSize, long offset)
    {
        if (previousTagSize != (uint)(FlvTagHeader.Size + dataSize))
        {
            FlvThrowHelper.ThrowPreviousTagSizeMismatch(previousTagSize, dataSize, offset);
        }
    }

    private static byte PeekFirstByte(ref SequenceReader<byte> reader)
    {
        reader.TryPeek(out var value);
        return value;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static bool TryPeekStraddlingHeader(ref SequenceReader<byte> reader, out FlvTagHeader header)
    {
        Span<byte> buffer = stackalloc byte[FlvTagHeader.Size];
        if (!reader.TryCopyTo(buffer))
        {
            header = default;
            return false;
        }

        header = FlvTagHeader.Parse(buffer);
        return true;
    }

    /// <summary>The tag spans segments: copy the few bytes we inspect instead of the whole tag.</summary>
    [MethodImpl(MethodImplOptions.NoInlining)]
    private readonly void ReadStraddlingTag(
        ref SequenceReader<byte> reader,
        in FlvTagHeader header,
        ReadOnlySpan<byte> unread,
        out FlvPacketKind kind,
        out bool isKeyframe,
        out FlvVideoCodec videoCodec,
        out FlvAudioCodec audioCodec)
    {
        var dataSize = header.DataSize;
        var afterHeader = reader.UnreadSequence.Slice(FlvTagHeader.Size);

        if (!_skipPreviousTagSizeCheck)
        {
            Span<byte> sizeBytes = stackalloc byte[FlvTagHeader.PreviousTagSizeLength];
            afterHeader.Slice(dataSize, FlvTagHeader.PreviousTagSizeLength).CopyTo(sizeBytes);
            CheckPreviousTagSize(BinaryPrimitives.ReadUInt32BigEndian(sizeBytes), dataSize, reader.Consumed);
        }

        var inspected = Math.Min(dataSize, FlvTagClassifier.InspectedBytes);
        Span<byte> copy = stackalloc byte[FlvTagClassifier.InspectedBytes];
        scoped ReadOnlySpan<byte> data;
        if (unread.Length >= FlvTagHeader.Size + inspected)
        {
            data = unread.Slice(FlvTagHeader.Size, inspected);
        }
        else
        {
            afterHeader.Slice(0, inspected).CopyTo(copy);
            data = copy[..inspected];
        }

        FlvTagClassifier.Classify(header.TagType, header.IsFiltered, data, out kind, out isKeyframe, out videoCodec, out audioCodec);
    }
}
