using Savate.Flv;

namespace Savate.Server.Tests.Fakes;

/// <summary>Synthetic FLV: just enough AVC/AAC framing for the tag classifier.</summary>
internal static class FlvSynth
{
    public static byte[] Header(bool audio = true, bool video = true) => FlvHeader.ToArray(audio, video);

    public static byte[] Metadata(uint time = 0, double width = 640) =>
        FlvTags.BuildOnMetaData(time, [new("width", width), new("height", 360.0), new("videocodecid", 7.0)]);

    /// <summary>AVC sequence header; <paramref name="variant"/> makes different configurations distinguishable.</summary>
    public static byte[] AvcConfig(uint time, byte variant = 1) =>
        FlvTags.Build(FlvTagType.Video, time, [0x17, 0x00, 0x00, 0x00, 0x00, 0x01, 0x64, 0x00, variant]);

    public static byte[] Keyframe(uint time, int size = 32, byte fill = 0xAA) => Video(0x17, time, size, fill);

    public static byte[] Inter(uint time, int size = 16, byte fill = 0xBB) => Video(0x27, time, size, fill);

    public static byte[] AacConfig(uint time) => FlvTags.Build(FlvTagType.Audio, time, [0xAF, 0x00, 0x12, 0x10]);

    public static byte[] Aac(uint time, int size = 8, byte fill = 0xCC)
    {
        var data = new byte[2 + size];
        data[0] = 0xAF;
        data[1] = 0x01;
        data.AsSpan(2).Fill(fill);
        return FlvTags.Build(FlvTagType.Audio, time, data);
    }

    private static byte[] Video(byte first, uint time, int size, byte fill)
    {
        var data = new byte[5 + size];
        data[0] = first;
        data[1] = 0x01;
        data.AsSpan(5).Fill(fill);
        return FlvTags.Build(FlvTagType.Video, time, data);
    }

    public static byte[] Concat(params byte[][] parts) => [.. parts.SelectMany(p => p)];

    /// <summary>Header, metadata, configs, then <paramref name="gops"/> GOPs of a keyframe and inter frames every 40 ms, with audio.</summary>
    public static byte[] Stream(int gops, int framesPerGop = 5, uint start = 0, bool header = true)
    {
        var parts = new List<byte[]>();
        if (header)
        {
            parts.Add(Header());
            parts.Add(Metadata());
            parts.Add(AvcConfig(start));
            parts.Add(AacConfig(start));
        }
        var time = start;
        for (var g = 0; g < gops; g++)
        {
            for (var f = 0; f < framesPerGop; f++)
            {
                parts.Add(f == 0 ? Keyframe(time, fill: (byte)g) : Inter(time, fill: (byte)f));
                parts.Add(Aac(time + 5));
                time += 40;
            }
        }
        return Concat([.. parts]);
    }

    /// <summary>Splits FLV bytes (after the file header, if any) into tags.</summary>
    public static List<(FlvTagHeader Header, byte[] Bytes)> Tags(ReadOnlySpan<byte> data)
    {
        var result = new List<(FlvTagHeader, byte[])>();
        if (FlvHeader.HasSignature(data))
        {
            data = data[FlvHeader.SizeWithPreviousTagSize..];
        }
        while (data.Length >= FlvTagHeader.Size)
        {
            var header = FlvTagHeader.Parse(data);
            result.Add((header, data[..header.TotalSize].ToArray()));
            data = data[header.TotalSize..];
        }
        return result;
    }

    public static bool IsVideoKeyframe((FlvTagHeader Header, byte[] Bytes) tag) =>
        tag.Header.TagType == FlvTagType.Video && tag.Bytes[FlvTagHeader.Size] == 0x17 && tag.Bytes[FlvTagHeader.Size + 1] == 0x01;
}
