namespace Savate.Mpegts;

/// <summary>PMT stream_type values and what they carry (ISO 13818-1 table 2-34, ATSC A/52, ffmpeg's mpegts.c names).</summary>
internal static class StreamTypes
{
    public const byte Mpeg1Video = 0x01;
    public const byte Mpeg2Video = 0x02;
    public const byte Mpeg1Audio = 0x03;
    public const byte Mpeg2Audio = 0x04;
    public const byte PrivateData = 0x06;
    public const byte Aac = 0x0F;
    public const byte Mpeg4Video = 0x10;
    public const byte AacLatm = 0x11;
    public const byte TimedId3 = 0x15;
    public const byte H264 = 0x1B;
    public const byte Hevc = 0x24;
    public const byte Vvc = 0x33;
    public const byte Cavs = 0x42;
    public const byte Ac3 = 0x81;
    public const byte Scte35 = 0x86;
    public const byte Eac3 = 0x87;

    public static (TsPacketKind Kind, string Codec) Classify(byte streamType, ReadOnlySpan<byte> descriptors) => streamType switch
    {
        Mpeg1Video or Mpeg2Video => (TsPacketKind.Video, "mpeg2video"),
        Mpeg4Video => (TsPacketKind.Video, "mpeg4"),
        H264 => (TsPacketKind.Video, "h264"),
        Hevc => (TsPacketKind.Video, "hevc"),
        Vvc => (TsPacketKind.Video, "vvc"),
        Cavs => (TsPacketKind.Video, "cavs"),
        Mpeg1Audio or Mpeg2Audio => (TsPacketKind.Audio, "mp3"),
        Aac => (TsPacketKind.Audio, "aac"),
        AacLatm => (TsPacketKind.Audio, "aac_latm"),
        Ac3 => (TsPacketKind.Audio, "ac3"),
        Eac3 => (TsPacketKind.Audio, "eac3"),
        TimedId3 => (TsPacketKind.Data, "timed_id3"),
        Scte35 => (TsPacketKind.Data, "scte_35"),
        PrivateData => ClassifyPrivate(descriptors),
        _ => (TsPacketKind.Data, "data"),
    };

    /// <summary>Stream type 0x06 is told apart by its ES_info descriptors (DVB EN 300 468, ATSC, ffmpeg's muxer).</summary>
    private static (TsPacketKind Kind, string Codec) ClassifyPrivate(ReadOnlySpan<byte> descriptors)
    {
        while (descriptors.Length >= 2)
        {
            var tag = descriptors[0];
            var length = Math.Min(descriptors[1], descriptors.Length - 2);
            var body = descriptors.Slice(2, length);
            descriptors = descriptors[(2 + length)..];
            switch (tag)
            {
                case 0x05 when body.Length >= 4: // registration_descriptor: format_identifier
                    switch (body[..4])
                    {
                        case [(byte)'A', (byte)'C', (byte)'-', (byte)'3']:
                            return (TsPacketKind.Audio, "ac3");
                        case [(byte)'E', (byte)'A', (byte)'C', (byte)'3']:
                            return (TsPacketKind.Audio, "eac3");
                        case [(byte)'O', (byte)'p', (byte)'u', (byte)'s']:
                            return (TsPacketKind.Audio, "opus");
                        case [(byte)'D', (byte)'T', (byte)'S', _]:
                            return (TsPacketKind.Audio, "dts");
                        case [(byte)'B', (byte)'S', (byte)'S', (byte)'D']:
                            return (TsPacketKind.Audio, "s302m");
                    }

                    break;
                case 0x6A: // DVB AC-3_descriptor
                    return (TsPacketKind.Audio, "ac3");
                case 0x7A: // DVB enhanced_AC-3_descriptor
                    return (TsPacketKind.Audio, "eac3");
                case 0x7B: // DVB DTS_descriptor
                    return (TsPacketKind.Audio, "dts");
                case 0x7C: // DVB AAC_descriptor
                    return (TsPacketKind.Audio, "aac");
                case 0x7F when body.Length >= 1 && body[0] == 0x80: // DVB extension_descriptor: Opus
                    return (TsPacketKind.Audio, "opus");
                case 0x56: // DVB teletext_descriptor
                    return (TsPacketKind.Data, "dvb_teletext");
                case 0x59: // DVB subtitling_descriptor
                    return (TsPacketKind.Data, "dvb_subtitle");
            }
        }

        return (TsPacketKind.Data, "data");
    }
}
