using System.Buffers;
using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Globalization;
using System.Text;

namespace Savate.Flv;

/// <summary>Builds complete tags (header, data, PreviousTagSize) for synthesized or rewritten content.</summary>
/// <remarks>Allocates: meant for metadata and tests, not for the per-frame path.</remarks>
public static class FlvTags
{
    private const byte Amf0Number = 0x00;
    private const byte Amf0Boolean = 0x01;
    private const byte Amf0String = 0x02;
    private const byte Amf0Null = 0x05;
    private const byte Amf0EcmaArray = 0x08;
    private const byte Amf0ObjectEnd = 0x09;
    private const byte Amf0LongString = 0x0C;

    /// <summary>Bytes taken by a whole tag with <paramref name="dataSize"/> bytes of data.</summary>
    public static int GetTotalSize(int dataSize) => FlvTagHeader.Size + dataSize + FlvTagHeader.PreviousTagSizeLength;

    /// <summary>Writes a whole tag (header, data, PreviousTagSize) and returns the bytes written.</summary>
    public static int Write(Span<byte> destination, FlvTagType type, uint timestamp, ReadOnlySpan<byte> data)
    {
        var total = GetTotalSize(data.Length);
        if (destination.Length < total)
        {
            FlvThrowHelper.ThrowArgumentTooShort(nameof(destination), total, destination.Length);
        }

        FlvTagHeader.Write(destination, type, data.Length, timestamp);
        data.CopyTo(destination[FlvTagHeader.Size..]);
        FlvTagHeader.WritePreviousTagSize(destination[(FlvTagHeader.Size + data.Length)..], data.Length);
        return total;
    }

    /// <summary>Returns a new array holding a whole tag (header, data, PreviousTagSize).</summary>
    public static byte[] Build(FlvTagType type, uint timestamp, ReadOnlySpan<byte> data)
    {
        if (data.Length > FlvTagHeader.MaxDataSize)
        {
            FlvThrowHelper.ThrowDataSizeOutOfRange(data.Length);
        }

        var bytes = new byte[GetTotalSize(data.Length)];
        Write(bytes, type, timestamp, data);
        return bytes;
    }

    /// <summary>
    /// Builds a script tag <c>onMetaData</c> with an AMF0 ECMA array of the given properties, as
    /// ffmpeg writes it. Values may be null, bool, string or any number type (written as an AMF0 double).
    /// </summary>
    public static byte[] BuildOnMetaData(uint timestamp, IEnumerable<KeyValuePair<string, object?>> properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        var list = properties as IReadOnlyCollection<KeyValuePair<string, object?>> ?? [.. properties];
        var writer = new ArrayBufferWriter<byte>(256);
        WriteAmf0String(writer, "onMetaData");
        var header = writer.GetSpan(5);
        header[0] = Amf0EcmaArray;
        BinaryPrimitives.WriteUInt32BigEndian(header[1..], (uint)list.Count);
        writer.Advance(5);
        foreach (var (key, value) in list)
        {
            WriteAmf0PropertyName(writer, key);
            WriteAmf0Value(writer, key, value);
        }

        var end = writer.GetSpan(3);
        end[0] = 0;
        end[1] = 0;
        end[2] = Amf0ObjectEnd;
        writer.Advance(3);
        return Build(FlvTagType.Script, timestamp, writer.WrittenSpan);
    }

    /// <summary>
    /// When <paramref name="tag"/> is a script tag whose data starts with the AMF0 string
    /// <c>@setDataFrame</c> (an RTMP publish command some servers forward into FLV), returns a new
    /// tag without that prefix, so players see a plain <c>onMetaData</c>. Otherwise returns false.
    /// </summary>
    /// <param name="tag">A whole tag, as in <see cref="FlvTag.Bytes"/>.</param>
    /// <param name="result">The rewritten tag, same timestamp.</param>
    public static bool TryRemoveSetDataFrame(ReadOnlySequence<byte> tag, [NotNullWhen(true)] out byte[]? result)
    {
        result = null;
        ReadOnlySpan<byte> prefix = [Amf0String, 0, 13, .. "@setDataFrame"u8];
        if (tag.Length < GetTotalSize(prefix.Length))
        {
            return false;
        }

        Span<byte> start = stackalloc byte[FlvTagHeader.Size + 16];
        tag.Slice(0, start.Length).CopyTo(start);
        var header = FlvTagHeader.Parse(start);
        if (header.TagType != FlvTagType.Script
            || header.DataSize < prefix.Length
            || tag.Length < header.TotalSize
            || !start.Slice(FlvTagHeader.Size, prefix.Length).SequenceEqual(prefix))
        {
            return false;
        }

        var data = tag.Slice(FlvTagHeader.Size + prefix.Length, header.DataSize - prefix.Length);
        var bytes = new byte[GetTotalSize((int)data.Length)];
        FlvTagHeader.Write(bytes, FlvTagType.Script, (int)data.Length, header.Timestamp);
        data.CopyTo(bytes.AsSpan(FlvTagHeader.Size));
        FlvTagHeader.WritePreviousTagSize(bytes.AsSpan(FlvTagHeader.Size + (int)data.Length), (int)data.Length);
        result = bytes;
        return true;
    }

    private static void WriteAmf0PropertyName(ArrayBufferWriter<byte> writer, string name)
    {
        var length = Encoding.UTF8.GetByteCount(name);
        if (length > ushort.MaxValue)
        {
            throw new ArgumentException($"AMF0 property name is {length} bytes; at most {ushort.MaxValue}.", nameof(name));
        }

        var span = writer.GetSpan(2 + length);
        BinaryPrimitives.WriteUInt16BigEndian(span, (ushort)length);
        Encoding.UTF8.GetBytes(name, span[2..]);
        writer.Advance(2 + length);
    }

    private static void WriteAmf0String(ArrayBufferWriter<byte> writer, string value)
    {
        var length = Encoding.UTF8.GetByteCount(value);
        if (length <= ushort.MaxValue)
        {
            var span = writer.GetSpan(3 + length);
            span[0] = Amf0String;
            BinaryPrimitives.WriteUInt16BigEndian(span[1..], (ushort)length);
            Encoding.UTF8.GetBytes(value, span[3..]);
            writer.Advance(3 + length);
        }
        else
        {
            var span = writer.GetSpan(5 + length);
            span[0] = Amf0LongString;
            BinaryPrimitives.WriteUInt32BigEndian(span[1..], (uint)length);
            Encoding.UTF8.GetBytes(value, span[5..]);
            writer.Advance(5 + length);
        }
    }

    private static void WriteAmf0Value(ArrayBufferWriter<byte> writer, string key, object? value)
    {
        switch (value)
        {
            case null:
                writer.GetSpan(1)[0] = Amf0Null;
                writer.Advance(1);
                break;
            case bool flag:
                var boolSpan = writer.GetSpan(2);
                boolSpan[0] = Amf0Boolean;
                boolSpan[1] = flag ? (byte)1 : (byte)0;
                writer.Advance(2);
                break;
            case string text:
                WriteAmf0String(writer, text);
                break;
            case double or float or decimal or int or long or uint or ulong or short or ushort or byte or sbyte:
                var numberSpan = writer.GetSpan(9);
                numberSpan[0] = Amf0Number;
                BinaryPrimitives.WriteDoubleBigEndian(numberSpan[1..], Convert.ToDouble(value, CultureInfo.InvariantCulture));
                writer.Advance(9);
                break;
            default:
                throw new ArgumentException($"Metadata property '{key}' has type {value.GetType()}; supported: null, bool, string, numbers.", nameof(value));
        }
    }
}
