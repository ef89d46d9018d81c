using System.Buffers.Binary;

namespace Savate.Server.Streaming.Ingest;

/// <summary>
/// H.264 parameter sets for in-band use. After a switch, the first keyframe of the new feed carries
/// its SPS and PPS in-band (besides the new sequence header tag): decoders and parsers that keep
/// the old configuration until they see parameter sets in the stream (ffmpeg's parser among them)
/// then read the new picture size from the keyframe itself.
/// </summary>
internal static class AvcParameterSets
{
    /// <summary>
    /// From an FLV AVC sequence header tag (11-byte header, 5-byte video header, AVCDecoderConfigurationRecord),
    /// the SPS and PPS as length-prefixed NAL units (with the record's NAL length size). False if it is not one.
    /// </summary>
    public static bool TryBuildPrefix(ReadOnlySpan<byte> sequenceHeaderTag, out byte[] prefix, out int nalLengthSize)
    {
        prefix = [];
        nalLengthSize = 0;
        const int RecordOffset = 11 + 5;
        if (sequenceHeaderTag.Length < RecordOffset + 7 || (sequenceHeaderTag[11] & 0x0F) != 7 || sequenceHeaderTag[12] != 0)
        {
            return false;
        }
        var record = sequenceHeaderTag[RecordOffset..^4];
        if (record.Length < 7 || record[0] != 1)
        {
            return false;
        }
        nalLengthSize = (record[4] & 0x03) + 1;
        if (nalLengthSize is not (1 or 2 or 4))
        {
            return false;
        }
        var units = new List<byte[]>();
        var offset = 5;
        for (var set = 0; set < 2; set++)
        {
            if (offset >= record.Length)
            {
                return false;
            }
            var count = set == 0 ? record[offset] & 0x1F : record[offset];
            offset++;
            for (var i = 0; i < count; i++)
            {
                if (offset + 2 > record.Length)
                {
                    return false;
                }
                var length = BinaryPrimitives.ReadUInt16BigEndian(record[offset..]);
                offset += 2;
                if (offset + length > record.Length || (nalLengthSize == 1 && length > 255) || (nalLengthSize == 2 && length > ushort.MaxValue))
                {
                    return false;
                }
                units.Add(record.Slice(offset, length).ToArray());
                offset += length;
            }
        }
        if (units.Count == 0)
        {
            return false;
        }
        var size = nalLengthSize;
        prefix = new byte[units.Sum(u => u.Length + size)];
        var position = 0;
        foreach (var unit in units)
        {
            WriteLength(prefix.AsSpan(position, nalLengthSize), unit.Length);
            position += nalLengthSize;
            unit.CopyTo(prefix, position);
            position += unit.Length;
        }
        return true;
    }

    private static void WriteLength(Span<byte> destination, int length)
    {
        switch (destination.Length)
        {
            case 1:
                destination[0] = (byte)length;
                break;
            case 2:
                BinaryPrimitives.WriteUInt16BigEndian(destination, (ushort)length);
                break;
            default:
                BinaryPrimitives.WriteUInt32BigEndian(destination, (uint)length);
                break;
        }
    }
}
