using System.Buffers;
using System.Buffers.Binary;

namespace Savate.Mpegts.Muxing;

/// <summary>What an FLV tag is to the remuxer.</summary>
public enum FlvTsFrame
{
    /// <summary>Nothing to mux: metadata, script, an unsupported codec, or media before its configuration.</summary>
    Ignored,
    /// <summary>A sequence header (avcC, hvcC, AudioSpecificConfig).</summary>
    Config,
    /// <summary>A video frame that starts a GOP.</summary>
    VideoKeyframe,
    Video,
    Audio,
    /// <summary>A frame whose NAL lengths or header do not add up: dropped.</summary>
    Malformed,
}

/// <summary>
/// Remuxes FLV tags (H.264 or HEVC, legacy or Enhanced FLV, and AAC) into MPEG-TS through a <see cref="TsMuxer"/>:
/// AVCC length prefixes become Annex B start codes, each access unit gets an AUD, each keyframe its
/// parameter sets in-band (from the last sequence header, unless the frame carries its own), and each AAC
/// frame an ADTS header from the AudioSpecificConfig. FLV milliseconds become 90 kHz ticks; the composition
/// offset gives the PTS. Pure code: the caller passes a tag's type, timestamp and data, and an output.
/// </summary>
public sealed class FlvTsRemuxer
{
    private static readonly byte[] s_h264Aud = [0, 0, 0, 1, 0x09, 0xF0];
    private static readonly byte[] s_hevcAud = [0, 0, 0, 1, 0x46, 0x01, 0x50];

    private readonly ArrayBufferWriter<byte> _scratch = new(64 * 1024);
    private byte[] _videoRecord = [];
    private byte[] _audioRecord = [];

    public TsMuxer Muxer { get; } = new();

    /// <summary>The video configuration from the last sequence header, or null.</summary>
    public VideoConfig? Video { get; private set; }

    /// <summary>The AAC configuration from the last sequence header, or null.</summary>
    public AudioConfig? Audio { get; private set; }

    /// <summary>PTS (90 kHz) of the last video frame written.</summary>
    public long LastVideoPts { get; private set; }

    /// <summary>Counts sequence headers whose bytes differ from the previous one of their track (the first included).</summary>
    public int ConfigGeneration { get; private set; }

    /// <summary>What <see cref="Write"/> would do with the tag, without changing any state.</summary>
    public FlvTsFrame Classify(int tagType, ReadOnlySpan<byte> data)
    {
        if (tagType == 9)
        {
            if (!TryParseVideo(data, out var packet, out _, out _, out var keyframe))
            {
                return FlvTsFrame.Ignored;
            }
            return packet switch
            {
                VideoPacket.Config => FlvTsFrame.Config,
                VideoPacket.Frame when Video is null => FlvTsFrame.Ignored,
                VideoPacket.Frame => keyframe ? FlvTsFrame.VideoKeyframe : FlvTsFrame.Video,
                _ => FlvTsFrame.Ignored,
            };
        }
        if (tagType == 8 && data.Length >= 2 && data[0] >> 4 == 10)
        {
            return data[1] == 0 ? FlvTsFrame.Config : Audio is null ? FlvTsFrame.Ignored : FlvTsFrame.Audio;
        }
        return FlvTsFrame.Ignored;
    }

    /// <summary>Writes the PAT and PMT for the streams configured so far.</summary>
    public void WriteProgramTables(IBufferWriter<byte> output)
    {
        Muxer.SetStreams(Video?.Codec ?? TsVideoCodec.None, Audio is not null);
        Muxer.WriteProgramTables(output);
    }

    /// <summary>Muxes one tag (type 8 audio, 9 video, anything else ignored) at <paramref name="timestamp"/> ms.</summary>
    public FlvTsFrame Write(int tagType, long timestamp, ReadOnlySpan<byte> data, IBufferWriter<byte> output)
    {
        var dts = timestamp * 90;
        if (tagType == 9)
        {
            if (!TryParseVideo(data, out var packet, out var cts, out var payload, out var keyframe))
            {
                return FlvTsFrame.Ignored;
            }
            if (packet == VideoPacket.Config)
            {
                return OnVideoConfig(data, payload);
            }
            if (packet != VideoPacket.Frame || Video is not { } video)
            {
                return FlvTsFrame.Ignored;
            }
            if (!TryBuildAnnexB(video, payload, keyframe))
            {
                return FlvTsFrame.Malformed;
            }
            LastVideoPts = dts + cts * 90L;
            Muxer.WriteVideo(output, new ReadOnlySequence<byte>(_scratch.WrittenMemory), LastVideoPts, dts, keyframe);
            return keyframe ? FlvTsFrame.VideoKeyframe : FlvTsFrame.Video;
        }
        if (tagType == 8 && data.Length >= 2 && data[0] >> 4 == 10)
        {
            if (data[1] == 0)
            {
                if (!AudioConfig.TryRead(data[2..], out var config))
                {
                    return FlvTsFrame.Malformed;
                }
                if (!data[2..].SequenceEqual(_audioRecord))
                {
                    _audioRecord = data[2..].ToArray();
                    ConfigGeneration++;
                }
                Audio = config;
                return FlvTsFrame.Config;
            }
            if (Audio is not { } audio)
            {
                return FlvTsFrame.Ignored;
            }
            var frame = data[2..];
            if (frame.Length + AudioConfig.AdtsHeaderSize > 0x1FFF)
            {
                return FlvTsFrame.Malformed;
            }
            _scratch.ResetWrittenCount();
            var span = _scratch.GetSpan(frame.Length + AudioConfig.AdtsHeaderSize);
            audio.WriteAdtsHeader(span, frame.Length);
            frame.CopyTo(span[AudioConfig.AdtsHeaderSize..]);
            _scratch.Advance(frame.Length + AudioConfig.AdtsHeaderSize);
            Muxer.WriteAudio(output, new ReadOnlySequence<byte>(_scratch.WrittenMemory), dts);
            return FlvTsFrame.Audio;
        }
        return FlvTsFrame.Ignored;
    }

    private FlvTsFrame OnVideoConfig(ReadOnlySpan<byte> data, ReadOnlySpan<byte> record)
    {
        var hevc = IsHevc(data);
        if (!(hevc ? VideoConfig.TryReadHevc(record, out var config) : VideoConfig.TryReadAvc(record, out config)))
        {
            return FlvTsFrame.Malformed;
        }
        if (!record.SequenceEqual(_videoRecord))
        {
            _videoRecord = record.ToArray();
            ConfigGeneration++;
        }
        Video = config;
        return FlvTsFrame.Config;
    }

    private bool TryBuildAnnexB(VideoConfig video, ReadOnlySpan<byte> avcc, bool keyframe)
    {
        var hevc = video.Codec == TsVideoCodec.Hevc;
        _scratch.ResetWrittenCount();
        _scratch.Write(hevc ? s_hevcAud : s_h264Aud);
        // First pass: validate the lengths and see whether the frame carries its own parameter sets.
        var size = video.NalLengthSize;
        var hasParameterSets = false;
        for (var offset = 0; offset < avcc.Length;)
        {
            if (!TryReadNal(avcc, ref offset, size, out var nal))
            {
                return false;
            }
            var type = hevc ? (nal[0] >> 1) & 0x3F : nal[0] & 0x1F;
            hasParameterSets |= hevc ? type is 32 or 33 : type == 7;
        }
        if (keyframe && !hasParameterSets)
        {
            _scratch.Write(video.ParameterSetsAnnexB);
        }
        Span<byte> startCode = [0, 0, 0, 1];
        for (var offset = 0; offset < avcc.Length;)
        {
            TryReadNal(avcc, ref offset, size, out var nal);
            var type = hevc ? (nal[0] >> 1) & 0x3F : nal[0] & 0x1F;
            if (hevc ? type == 35 : type == 9)
            {
                continue; // our own AUD leads the access unit
            }
            _scratch.Write(startCode);
            _scratch.Write(nal);
        }
        return true;
    }

    private static bool TryReadNal(ReadOnlySpan<byte> avcc, ref int offset, int size, out ReadOnlySpan<byte> nal)
    {
        nal = default;
        if (offset + size > avcc.Length)
        {
            return false;
        }
        var length = size switch
        {
            1 => avcc[offset],
            2 => BinaryPrimitives.ReadUInt16BigEndian(avcc[offset..]),
            _ => (int)Math.Min(BinaryPrimitives.ReadUInt32BigEndian(avcc[offset..]), int.MaxValue),
        };
        offset += size;
        if (length <= 0 || length > avcc.Length - offset)
        {
            return false;
        }
        nal = avcc.Slice(offset, length);
        offset += length;
        return true;
    }

    private enum VideoPacket
    {
        Config,
        Frame,
        Other,
    }

    private static bool IsHevc(ReadOnlySpan<byte> data) =>
        (data[0] & 0x80) != 0 ? data.Length >= 5 && data[1..5].SequenceEqual("hvc1"u8) : (data[0] & 0x0F) == 12;

    /// <summary>Splits a video tag's data: legacy AVC/HEVC (codec 7 or 12) or Enhanced FLV with FourCC avc1 or hvc1.</summary>
    private static bool TryParseVideo(ReadOnlySpan<byte> data, out VideoPacket packet, out int cts, out ReadOnlySpan<byte> payload, out bool keyframe)
    {
        packet = VideoPacket.Other;
        cts = 0;
        payload = default;
        keyframe = false;
        if (data.Length < 5)
        {
            return false;
        }
        if ((data[0] & 0x80) == 0)
        {
            var codec = data[0] & 0x0F;
            if (codec is not (7 or 12))
            {
                return false;
            }
            keyframe = data[0] >> 4 == 1;
            payload = data[5..];
            switch (data[1])
            {
                case 0:
                    packet = VideoPacket.Config;
                    return true;
                case 1:
                    packet = VideoPacket.Frame;
                    cts = (BinaryPrimitives.ReadInt32BigEndian(data[1..]) << 8) >> 8;
                    return true;
                default:
                    return true;
            }
        }
        var fourCc = data[1..5];
        if (!fourCc.SequenceEqual("avc1"u8) && !fourCc.SequenceEqual("hvc1"u8))
        {
            return false;
        }
        keyframe = ((data[0] >> 4) & 0x07) == 1;
        switch (data[0] & 0x0F)
        {
            case 0: // SequenceStart
                packet = VideoPacket.Config;
                payload = data[5..];
                return true;
            case 1: // CodedFrames: SI24 composition time, then the frame
                if (data.Length < 8)
                {
                    return false;
                }
                packet = VideoPacket.Frame;
                cts = (data[5] << 16 | data[6] << 8 | data[7]) << 8 >> 8;
                payload = data[8..];
                return true;
            case 3: // CodedFramesX: composition time 0
                packet = VideoPacket.Frame;
                payload = data[5..];
                return true;
            default:
                return true;
        }
    }
}
