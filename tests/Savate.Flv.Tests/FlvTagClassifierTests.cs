namespace Savate.Flv.Tests;

public class FlvTagClassifierTests
{
    public static TheoryData<string, FlvTagType, byte[], FlvPacketKind, bool, FlvVideoCodec, FlvAudioCodec> Cases => new()
    {
        { "AVC key NALU", FlvTagType.Video, [0x17, 1, 0, 0, 0, 9], FlvPacketKind.Media, true, FlvVideoCodec.Avc, FlvAudioCodec.None },
        { "AVC inter NALU", FlvTagType.Video, [0x27, 1, 0, 0, 0, 9], FlvPacketKind.Media, false, FlvVideoCodec.Avc, FlvAudioCodec.None },
        { "AVC disposable", FlvTagType.Video, [0x37, 1, 0, 0, 0], FlvPacketKind.Media, false, FlvVideoCodec.Avc, FlvAudioCodec.None },
        { "AVC generated keyframe is not a keyframe", FlvTagType.Video, [0x47, 1, 0, 0, 0], FlvPacketKind.Media, false, FlvVideoCodec.Avc, FlvAudioCodec.None },
        { "AVC with one byte only", FlvTagType.Video, [0x17], FlvPacketKind.Media, true, FlvVideoCodec.Avc, FlvAudioCodec.None },
        { "AVC unknown packet type", FlvTagType.Video, [0x17, 9, 0, 0, 0], FlvPacketKind.Media, true, FlvVideoCodec.Avc, FlvAudioCodec.None },
        { "video info frame", FlvTagType.Video, [0x50, 0], FlvPacketKind.Info, false, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "VP6 key", FlvTagType.Video, [0x14, 0], FlvPacketKind.Media, true, FlvVideoCodec.Vp6, FlvAudioCodec.None },
        { "VP6 alpha", FlvTagType.Video, [0x25, 0], FlvPacketKind.Media, false, FlvVideoCodec.Vp6Alpha, FlvAudioCodec.None },
        { "unknown legacy codec", FlvTagType.Video, [0x1F, 0], FlvPacketKind.Media, true, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "enhanced MPEG2TS sequence start", FlvTagType.Video, [0x95, .. "av01"u8], FlvPacketKind.SequenceHeader, false, FlvVideoCodec.Av1, FlvAudioCodec.None },
        { "enhanced avc1 coded frames", FlvTagType.Video, [0x91, .. "avc1"u8, 0, 0, 0], FlvPacketKind.Media, true, FlvVideoCodec.Avc, FlvAudioCodec.None },
        { "enhanced truncated FourCC", FlvTagType.Video, [0x91, (byte)'h', (byte)'v'], FlvPacketKind.Media, true, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "enhanced header byte alone", FlvTagType.Video, [0x90], FlvPacketKind.SequenceHeader, false, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "enhanced reserved packet type", FlvTagType.Video, [0x9C, .. "hvc1"u8], FlvPacketKind.Media, true, FlvVideoCodec.Hevc, FlvAudioCodec.None },
        { "enhanced command frame", FlvTagType.Video, [0xD1, 0], FlvPacketKind.Info, false, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "enhanced multitrack one codec", FlvTagType.Video, [0x96, 0x01, .. "hvc1"u8, 0], FlvPacketKind.Media, true, FlvVideoCodec.Hevc, FlvAudioCodec.None },
        { "enhanced multitrack many codecs", FlvTagType.Video, [0xA6, 0x21, 0, .. "hvc1"u8], FlvPacketKind.Media, false, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "enhanced ModEx then coded frames", FlvTagType.Video, [0x97, 2, 0xAA, 0xBB, 0xCC, 0x01, .. "vp09"u8, 1], FlvPacketKind.Media, true, FlvVideoCodec.Vp9, FlvAudioCodec.None },
        { "enhanced ModEx then sequence start", FlvTagType.Video, [0x97, 0, 0xAA, 0x00, .. "av01"u8], FlvPacketKind.SequenceHeader, false, FlvVideoCodec.Av1, FlvAudioCodec.None },
        { "enhanced ModEx truncated", FlvTagType.Video, [0x97, 200, 0xAA], FlvPacketKind.Media, true, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "enhanced ModEx 16-bit size truncated", FlvTagType.Video, [0x97, 0xFF, 0x01], FlvPacketKind.Media, true, FlvVideoCodec.Other, FlvAudioCodec.None },
        { "AAC raw with one byte", FlvTagType.Audio, [0xAF], FlvPacketKind.Media, false, FlvVideoCodec.None, FlvAudioCodec.Aac },
        { "MP3 8 kHz", FlvTagType.Audio, [0xE2, 0xFF], FlvPacketKind.Media, false, FlvVideoCodec.None, FlvAudioCodec.Mp3 },
        { "Speex", FlvTagType.Audio, [0xB6, 0], FlvPacketKind.Media, false, FlvVideoCodec.None, FlvAudioCodec.Speex },
        { "PCM", FlvTagType.Audio, [0x3F, 0], FlvPacketKind.Media, false, FlvVideoCodec.None, FlvAudioCodec.Other },
        { "enhanced audio sequence end", FlvTagType.Audio, [0x92, .. "fLaC"u8], FlvPacketKind.SequenceEnd, false, FlvVideoCodec.None, FlvAudioCodec.Other },
        { "enhanced audio multichannel config", FlvTagType.Audio, [0x94, .. "Opus"u8, 0, 2], FlvPacketKind.Media, false, FlvVideoCodec.None, FlvAudioCodec.Other },
        { "script not a string", FlvTagType.Script, [0x00, 0, 0, 0, 0, 0, 0, 0, 0], FlvPacketKind.Script, false, FlvVideoCodec.None, FlvAudioCodec.None },
        { "script truncated name", FlvTagType.Script, [0x02, 0, 10, (byte)'o', (byte)'n'], FlvPacketKind.Script, false, FlvVideoCodec.None, FlvAudioCodec.None },
        { "script @setDataFrame alone", FlvTagType.Script, [0x02, 0, 13, .. "@setDataFrame"u8], FlvPacketKind.Script, false, FlvVideoCodec.None, FlvAudioCodec.None },
        { "script onMetaDataX", FlvTagType.Script, [0x02, 0, 11, .. "onMetaDataX"u8], FlvPacketKind.Script, false, FlvVideoCodec.None, FlvAudioCodec.None },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Classify_Data_ReturnsExpectedKindAndCodec(string name, FlvTagType type, byte[] data, FlvPacketKind kind, bool isKeyframe, FlvVideoCodec video, FlvAudioCodec audio)
    {
        FlvTagClassifier.Classify(type, false, data, out var actualKind, out var actualKeyframe, out var actualVideo, out var actualAudio);

        Assert.True(
            (kind, isKeyframe, video, audio) == (actualKind, actualKeyframe, actualVideo, actualAudio),
            $"{name}: expected {(kind, isKeyframe, video, audio)}, got {(actualKind, actualKeyframe, actualVideo, actualAudio)}");
    }

    [Fact]
    public void Classify_FilteredTag_IsMediaWithoutCodec()
    {
        FlvTagClassifier.Classify(FlvTagType.Video, true, [0x17, 0, 0, 0, 0], out var kind, out var isKeyframe, out var video, out var audio);

        Assert.Equal(FlvPacketKind.Media, kind);
        Assert.False(isKeyframe);
        Assert.Equal(FlvVideoCodec.None, video);
        Assert.Equal(FlvAudioCodec.None, audio);
    }

    [Fact]
    public void Classify_RandomData_NeverThrows()
    {
        var random = new Random(7);
        var data = new byte[80];
        for (var i = 0; i < 20000; i++)
        {
            random.NextBytes(data);
            var length = random.Next(data.Length + 1);
            foreach (var type in new[] { FlvTagType.Audio, FlvTagType.Video, FlvTagType.Script })
            {
                FlvTagClassifier.Classify(type, false, data.AsSpan(0, length), out _, out _, out _, out _);
            }
        }
    }
}
