using System.Buffers.Binary;

namespace Savate.Mpegts.Muxing;

/// <summary>
/// A video decoder configuration (avcC or hvcC) read into what a TS muxer and a playlist need: the
/// parameter sets as Annex B, the NAL length size of the frames, the RFC 6381 codec string and the
/// picture size from the SPS.
/// </summary>
public sealed class VideoConfig
{
    private VideoConfig(TsVideoCodec codec, int nalLengthSize, byte[] parameterSetsAnnexB, string codecString, int width, int height)
    {
        Codec = codec;
        NalLengthSize = nalLengthSize;
        ParameterSetsAnnexB = parameterSetsAnnexB;
        CodecString = codecString;
        Width = width;
        Height = height;
    }

    public TsVideoCodec Codec { get; }

    /// <summary>Bytes of the length prefix of each NAL unit in a frame (1, 2 or 4).</summary>
    public int NalLengthSize { get; }

    /// <summary>VPS/SPS/PPS, each after a 4-byte start code.</summary>
    public byte[] ParameterSetsAnnexB { get; }

    /// <summary>RFC 6381 codec, e.g. <c>avc1.4d401e</c> or <c>hvc1.1.6.L93.B0</c>.</summary>
    public string CodecString { get; }

    /// <summary>Picture width from the SPS, or 0 when it could not be read.</summary>
    public int Width { get; }

    /// <summary>Picture height from the SPS, or 0 when it could not be read.</summary>
    public int Height { get; }

    /// <summary>Reads an AVCDecoderConfigurationRecord. False if it is malformed or holds no SPS.</summary>
    public static bool TryReadAvc(ReadOnlySpan<byte> record, out VideoConfig config)
    {
        config = null!;
        if (record.Length < 7 || record[0] != 1)
        {
            return false;
        }
        var nalLengthSize = (record[4] & 0x03) + 1;
        if (nalLengthSize == 3)
        {
            return false;
        }
        var sets = new List<byte[]>();
        var offset = 5;
        byte[]? sps = null;
        for (var set = 0; set < 2; set++)
        {
            if (offset >= record.Length)
            {
                // Some writers omit the PPS count of an empty list.
                break;
            }
            var count = set == 0 ? record[offset] & 0x1F : record[offset];
            offset++;
            for (var i = 0; i < count; i++)
            {
                if (!TryReadUnit(record, ref offset, out var unit))
                {
                    return false;
                }
                sets.Add(unit);
                if (set == 0)
                {
                    sps ??= unit;
                }
            }
        }
        if (sps is null || sps.Length < 4)
        {
            return false;
        }
        var codec = $"avc1.{sps[1]:x2}{sps[2]:x2}{sps[3]:x2}";
        SpsReader.TryReadAvcSize(sps, out var width, out var height);
        config = new VideoConfig(TsVideoCodec.H264, nalLengthSize, ToAnnexB(sets), codec, width, height);
        return true;
    }

    /// <summary>Reads an HEVCDecoderConfigurationRecord. False if it is malformed or holds no SPS.</summary>
    public static bool TryReadHevc(ReadOnlySpan<byte> record, out VideoConfig config)
    {
        config = null!;
        if (record.Length < 23 || record[0] != 1)
        {
            return false;
        }
        var nalLengthSize = (record[21] & 0x03) + 1;
        if (nalLengthSize == 3)
        {
            return false;
        }
        var arrays = record[22];
        var offset = 23;
        var sets = new List<byte[]>();
        byte[]? sps = null;
        for (var a = 0; a < arrays; a++)
        {
            if (offset + 3 > record.Length)
            {
                return false;
            }
            var type = record[offset] & 0x3F;
            var count = BinaryPrimitives.ReadUInt16BigEndian(record[(offset + 1)..]);
            offset += 3;
            for (var i = 0; i < count; i++)
            {
                if (!TryReadUnit(record, ref offset, out var unit))
                {
                    return false;
                }
                if (type is 32 or 33 or 34)
                {
                    sets.Add(unit);
                }
                if (type == 33)
                {
                    sps ??= unit;
                }
            }
        }
        if (sps is null)
        {
            return false;
        }
        SpsReader.TryReadHevcSize(sps, out var width, out var height);
        config = new VideoConfig(TsVideoCodec.Hevc, nalLengthSize, ToAnnexB(sets), HevcCodecStringOfRecord(record), width, height);
        return true;
    }

    /// <summary>From an Annex B SPS NAL unit (no start code) found in a TS stream.</summary>
    public static VideoConfig FromSps(TsVideoCodec codec, ReadOnlySpan<byte> sps)
    {
        int width, height;
        string codecString;
        if (codec == TsVideoCodec.H264)
        {
            codecString = sps.Length >= 4 ? $"avc1.{sps[1]:x2}{sps[2]:x2}{sps[3]:x2}" : "avc1";
            SpsReader.TryReadAvcSize(sps, out width, out height);
        }
        else
        {
            codecString = SpsReader.TryReadHevcProfile(sps, out var ptl) ? HevcCodecString(ptl) : "hvc1";
            SpsReader.TryReadHevcSize(sps, out width, out height);
        }
        return new VideoConfig(codec, 4, [], codecString, width, height);
    }

    // RFC 6381 / ISO 14496-15 E.3: hvc1.<space><profile>.<compat, bits reversed, hex>.<tier><level>.<constraint bytes>.
    // The 12-byte general_profile_tier_level is at the same place in hvcC (byte 1) as in the SPS's profile_tier_level.
    private static string HevcCodecStringOfRecord(ReadOnlySpan<byte> hvcc) => HevcCodecString(hvcc.Slice(1, 12));

    internal static string HevcCodecString(ReadOnlySpan<byte> ptl)
    {
        if (ptl.Length < 12)
        {
            return "hvc1";
        }
        var space = (ptl[0] >> 6) & 0x03;
        var tier = (ptl[0] >> 5) & 0x01;
        var profile = ptl[0] & 0x1F;
        var compat = BinaryPrimitives.ReadUInt32BigEndian(ptl[1..]);
        uint reversed = 0;
        for (var i = 0; i < 32; i++)
        {
            reversed |= ((compat >> i) & 1) << (31 - i);
        }
        var level = ptl[11];
        var text = $"hvc1.{(space == 0 ? "" : ((char)('A' + space - 1)).ToString())}{profile}.{reversed:X}.{(tier == 0 ? 'L' : 'H')}{level}";
        var constraints = ptl.Slice(5, 6);
        var last = constraints.Length - 1;
        while (last >= 0 && constraints[last] == 0)
        {
            last--;
        }
        for (var i = 0; i <= last; i++)
        {
            text += $".{constraints[i]:X2}";
        }
        return text;
    }

    private static byte[] ToAnnexB(List<byte[]> units)
    {
        var result = new byte[units.Sum(u => u.Length + 4)];
        var position = 0;
        foreach (var unit in units)
        {
            result[position + 3] = 1;
            position += 4;
            unit.CopyTo(result, position);
            position += unit.Length;
        }
        return result;
    }

    /// <summary>Reads one length-prefixed (16-bit) parameter set of a decoder configuration record at <paramref name="offset"/>, moving past it.</summary>
    private static bool TryReadUnit(ReadOnlySpan<byte> record, ref int offset, out byte[] unit)
    {
        unit = [];
        if (offset + 2 > record.Length)
        {
            return false;
        }
        var length = BinaryPrimitives.ReadUInt16BigEndian(record[offset..]);
        offset += 2;
        if (length == 0 || offset + length > record.Length)
        {
            return false;
        }
        unit = record.Slice(offset, length).ToArray();
        offset += length;
        return true;
    }
}

/// <summary>An AAC AudioSpecificConfig read into the fields of an ADTS header.</summary>
public readonly record struct AudioConfig(int ObjectType, int SampleRateIndex, int ChannelConfiguration)
{
    public const int AdtsHeaderSize = 7;

    private static readonly int[] s_sampleRates = [96000, 88200, 64000, 48000, 44100, 32000, 24000, 22050, 16000, 12000, 11025, 8000, 7350];

    public int SampleRate => s_sampleRates[SampleRateIndex];

    /// <summary>RFC 6381 codec, e.g. <c>mp4a.40.2</c>.</summary>
    public string CodecString => $"mp4a.40.{ObjectType}";

    /// <summary>Reads the first bytes of an AudioSpecificConfig. False for an explicit rate or no channel layout ADTS can carry.</summary>
    public static bool TryRead(ReadOnlySpan<byte> asc, out AudioConfig config)
    {
        config = default;
        if (asc.Length < 2)
        {
            return false;
        }
        var objectType = asc[0] >> 3;
        var rateIndex = ((asc[0] & 0x07) << 1) | (asc[1] >> 7);
        var channels = (asc[1] >> 3) & 0x0F;
        if (objectType is 0 or 31 || rateIndex >= s_sampleRates.Length || channels is 0 or > 7)
        {
            return false;
        }
        config = new AudioConfig(objectType, rateIndex, channels);
        return true;
    }

    /// <summary>Writes the 7-byte ADTS header (no CRC) of a raw AAC frame of <paramref name="frameLength"/> bytes.</summary>
    public void WriteAdtsHeader(Span<byte> destination, int frameLength)
    {
        // ADTS carries profile = object type - 1 on 2 bits: AAC Main, LC, SSR, LTP. SBR/PS (HE-AAC, types
        // 5 and 29) are signalled implicitly over an LC core, which is how every muxer writes them.
        var profile = ObjectType is >= 1 and <= 4 ? ObjectType - 1 : 1;
        var length = frameLength + AdtsHeaderSize;
        destination[0] = 0xFF;
        destination[1] = 0xF1; // MPEG-4, layer 0, no CRC
        destination[2] = (byte)((profile << 6) | (SampleRateIndex << 2) | (ChannelConfiguration >> 2));
        destination[3] = (byte)(((ChannelConfiguration & 0x03) << 6) | (length >> 11));
        destination[4] = (byte)(length >> 3);
        destination[5] = (byte)(((length & 0x07) << 5) | 0x1F);
        destination[6] = 0xFC;
    }
}
