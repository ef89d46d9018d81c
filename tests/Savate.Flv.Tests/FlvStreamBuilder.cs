using System.Text;

namespace Savate.Flv.Tests;

/// <summary>Synthesizes FLV streams tag by tag, remembering how each tag must be classified.</summary>
internal sealed class FlvStreamBuilder
{
    private readonly MemoryStream _stream = new();
    private readonly List<ParsedTag> _expected = [];

    public FlvStreamBuilder(bool hasAudio = true, bool hasVideo = true)
    {
        _stream.Write(FlvHeader.ToArray(hasAudio, hasVideo));
    }

    public IReadOnlyList<ParsedTag> Expected => _expected;

    public byte[] ToArray() => _stream.ToArray();

    public FlvStreamBuilder Add(
        FlvTagType type,
        uint timestamp,
        byte[] data,
        FlvPacketKind kind,
        bool isKeyframe = false,
        FlvVideoCodec video = FlvVideoCodec.None,
        FlvAudioCodec audio = FlvAudioCodec.None)
    {
        var tag = FlvTags.Build(type, timestamp, data);
        _expected.Add(new ParsedTag(type, timestamp, kind, isKeyframe, video, audio, _stream.Length, tag));
        _stream.Write(tag);
        return this;
    }

    public static byte[] LegacyVideo(int frameType, int codecId, int avcPacketType, int payloadLength = 8)
    {
        var data = new byte[5 + payloadLength];
        data[0] = (byte)((frameType << 4) | codecId);
        data[1] = (byte)avcPacketType;
        Fill(data.AsSpan(5));
        return data;
    }

    public static byte[] EnhancedVideo(int frameType, int packetType, string fourCc, int payloadLength = 8)
    {
        var data = new byte[5 + payloadLength];
        data[0] = (byte)(0x80 | (frameType << 4) | packetType);
        Encoding.ASCII.GetBytes(fourCc, data.AsSpan(1, 4));
        Fill(data.AsSpan(5));
        return data;
    }

    public static byte[] Aac(int aacPacketType, int payloadLength = 6)
    {
        var data = new byte[2 + payloadLength];
        data[0] = 0xAF; // AAC, 44 kHz, 16-bit, stereo
        data[1] = (byte)aacPacketType;
        Fill(data.AsSpan(2));
        return data;
    }

    public static byte[] Audio(int soundFormat, int payloadLength = 6)
    {
        var data = new byte[1 + payloadLength];
        data[0] = (byte)((soundFormat << 4) | 0x0F);
        Fill(data.AsSpan(1));
        return data;
    }

    public static byte[] EnhancedAudio(int packetType, string fourCc, int payloadLength = 6)
    {
        var data = new byte[5 + payloadLength];
        data[0] = (byte)(0x90 | packetType);
        Encoding.ASCII.GetBytes(fourCc, data.AsSpan(1, 4));
        Fill(data.AsSpan(5));
        return data;
    }

    /// <summary>AMF0 strings one after another, then an empty ECMA array.</summary>
    public static byte[] Script(params string[] names)
    {
        var stream = new MemoryStream();
        foreach (var name in names)
        {
            var bytes = Encoding.UTF8.GetBytes(name);
            stream.WriteByte(0x02);
            stream.WriteByte((byte)(bytes.Length >> 8));
            stream.WriteByte((byte)bytes.Length);
            stream.Write(bytes);
        }

        stream.Write([0x08, 0, 0, 0, 0, 0, 0, 0x09]);
        return stream.ToArray();
    }

    /// <summary>Enhanced RTMP, FFmpeg, nginx-rtmp and NMS corner cases in one stream.</summary>
    public static FlvStreamBuilder Representative()
    {
        const FlvTagType V = FlvTagType.Video;
        const FlvTagType A = FlvTagType.Audio;
        const FlvTagType S = FlvTagType.Script;
        var b = new FlvStreamBuilder();
        b.Add(S, 0, Script("@setDataFrame", "onMetaData"), FlvPacketKind.Metadata);
        b.Add(S, 0, Script("onMetaData"), FlvPacketKind.Metadata);
        b.Add(V, 0, EnhancedVideo(1, 0, "hvc1", 40), FlvPacketKind.SequenceHeader, video: FlvVideoCodec.Hevc);
        b.Add(A, 0, Aac(0, 2), FlvPacketKind.SequenceHeader, audio: FlvAudioCodec.Aac);
        b.Add(V, 0, EnhancedVideo(1, 1, "hvc1", 300), FlvPacketKind.Media, isKeyframe: true, video: FlvVideoCodec.Hevc);
        b.Add(A, 10, Aac(1, 100), FlvPacketKind.Media, audio: FlvAudioCodec.Aac);
        b.Add(V, 40, EnhancedVideo(2, 3, "hvc1", 90), FlvPacketKind.Media, video: FlvVideoCodec.Hevc);
        b.Add(V, 80, [], FlvPacketKind.Media);
        b.Add(A, 80, [], FlvPacketKind.Media);
        b.Add(S, 80, [], FlvPacketKind.Media);
        b.Add(V, 120, EnhancedVideo(1, 2, "hvc1", 0), FlvPacketKind.SequenceEnd, video: FlvVideoCodec.Hevc);
        b.Add(V, 120, EnhancedVideo(1, 0, "av01", 20), FlvPacketKind.SequenceHeader, video: FlvVideoCodec.Av1);
        b.Add(V, 120, EnhancedVideo(1, 1, "av01", 200), FlvPacketKind.Media, isKeyframe: true, video: FlvVideoCodec.Av1);
        b.Add(V, 160, EnhancedVideo(2, 1, "av01", 50), FlvPacketKind.Media, video: FlvVideoCodec.Av1);
        b.Add(V, 160, EnhancedVideo(1, 4, "av01", 30), FlvPacketKind.Info, video: FlvVideoCodec.Av1);
        b.Add(V, 200, EnhancedVideo(1, 0, "vp09", 12), FlvPacketKind.SequenceHeader, video: FlvVideoCodec.Vp9);
        b.Add(V, 200, EnhancedVideo(1, 1, "vp09", 120), FlvPacketKind.Media, isKeyframe: true, video: FlvVideoCodec.Vp9);
        b.Add(V, 240, EnhancedVideo(1, 1, "xyz1", 20), FlvPacketKind.Media, isKeyframe: true, video: FlvVideoCodec.Other);
        b.Add(V, 240, LegacyVideo(1, 7, 0, 30), FlvPacketKind.SequenceHeader, video: FlvVideoCodec.Avc);
        b.Add(V, 240, LegacyVideo(1, 7, 1, 400), FlvPacketKind.Media, isKeyframe: true, video: FlvVideoCodec.Avc);
        b.Add(V, 280, LegacyVideo(2, 7, 1, 60), FlvPacketKind.Media, video: FlvVideoCodec.Avc);
        b.Add(V, 280, LegacyVideo(5, 7, 0, 1), FlvPacketKind.Info, video: FlvVideoCodec.Avc);
        b.Add(V, 320, LegacyVideo(1, 12, 0, 30), FlvPacketKind.SequenceHeader, video: FlvVideoCodec.Hevc);
        b.Add(V, 320, LegacyVideo(1, 12, 1, 30), FlvPacketKind.Media, isKeyframe: true, video: FlvVideoCodec.Hevc);
        b.Add(V, 360, LegacyVideo(1, 7, 2, 0), FlvPacketKind.SequenceEnd, video: FlvVideoCodec.Avc);
        b.Add(A, 360, Audio(2, 200), FlvPacketKind.Media, audio: FlvAudioCodec.Mp3);
        b.Add(A, 400, EnhancedAudio(0, "Opus", 19), FlvPacketKind.SequenceHeader, audio: FlvAudioCodec.Other);
        b.Add(A, 400, EnhancedAudio(1, "Opus", 80), FlvPacketKind.Media, audio: FlvAudioCodec.Other);
        b.Add(S, 0x1234567, Script("onCuePoint"), FlvPacketKind.Script);
        b.Add(S, 0xFFFFFFFF, Script("@setDataFrame", "onCuePoint"), FlvPacketKind.Script);
        b.Add(V, 0x1000000, LegacyVideo(3, 2, 0, 40), FlvPacketKind.Media, video: FlvVideoCodec.Sorenson);
        return b;
    }

    private static void Fill(Span<byte> payload)
    {
        for (var i = 0; i < payload.Length; i++)
        {
            payload[i] = (byte)(i * 7 + 3);
        }
    }
}
