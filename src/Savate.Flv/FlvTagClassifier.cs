using System.Buffers.Binary;

namespace Savate.Flv;

/// <summary>
/// Tells a relay what a tag is (frame, sequence header, metadata...) from the first bytes of its
/// data. Never throws: a payload it does not understand is reported as <see cref="FlvPacketKind.Media"/>
/// with an <c>Other</c> codec, because a relay must not drop a publish over a codec it cannot parse
/// (ossrs/srs#3388).
/// </summary>
internal static class FlvTagClassifier
{
    /// <summary>
    /// Only this many data bytes are inspected, whichever path the reader took, so a tag is
    /// classified the same way however the buffer is split. 64 covers the longest thing we look
    /// at: "@setDataFrame" + "onMetaData" as AMF0 strings is 29 bytes; an Enhanced video header
    /// is 5 to 6 bytes plus any ModEx data.
    /// </summary>
    public const int InspectedBytes = 64;

    // Enhanced RTMP FourCCs, as big-endian integers.
    private const uint FourCcHevc = ('h' << 24) | ('v' << 16) | ('c' << 8) | '1';
    private const uint FourCcAv1 = ('a' << 24) | ('v' << 16) | ('0' << 8) | '1';
    private const uint FourCcVp9 = ('v' << 24) | ('p' << 16) | ('0' << 8) | '9';
    private const uint FourCcAvc = ('a' << 24) | ('v' << 16) | ('c' << 8) | '1';

    private const int FrameTypeKey = 1;
    private const int FrameTypeCommand = 5;

    private const int ExPacketTypeSequenceStart = 0;
    private const int ExPacketTypeSequenceEnd = 2;
    private const int ExPacketTypeMetadata = 4;
    private const int ExPacketTypeMpeg2TsSequenceStart = 5;
    private const int ExVideoPacketTypeMultitrack = 6;
    private const int ExPacketTypeModEx = 7;
    private const int MultitrackManyTracksManyCodecs = 2;

    private const int SoundFormatMp3 = 2;
    private const int SoundFormatExHeader = 9;
    private const int SoundFormatAac = 10;
    private const int SoundFormatSpeex = 11;
    private const int SoundFormatMp3At8kHz = 14;

    private const byte Amf0StringMarker = 0x02;

    public static void Classify(
        FlvTagType type,
        bool isFiltered,
        ReadOnlySpan<byte> data,
        out FlvPacketKind kind,
        out bool isKeyframe,
        out FlvVideoCodec videoCodec,
        out FlvAudioCodec audioCodec)
    {
        kind = FlvPacketKind.Media;
        isKeyframe = false;
        videoCodec = FlvVideoCodec.None;
        audioCodec = FlvAudioCodec.None;

        // Empty tags happen (some muxers pad with them); filtered (encrypted) data starts with an
        // encryption header we do not parse. Both pass through as plain media.
        if (data.IsEmpty || isFiltered)
        {
            return;
        }

        if (data.Length > InspectedBytes)
        {
            data = data[..InspectedBytes];
        }

        switch (type)
        {
            case FlvTagType.Video:
                ClassifyVideo(data, out kind, out isKeyframe, out videoCodec);
                break;
            case FlvTagType.Audio:
                ClassifyAudio(data, out kind, out audioCodec);
                break;
            case FlvTagType.Script:
                kind = ClassifyScript(data);
                break;
        }
    }

    private static void ClassifyVideo(ReadOnlySpan<byte> data, out FlvPacketKind kind, out bool isKeyframe, out FlvVideoCodec codec)
    {
        var first = data[0];
        if ((first & 0x80) != 0)
        {
            ClassifyEnhancedVideo(data, out kind, out isKeyframe, out codec);
            return;
        }

        var frameType = first >> 4;
        codec = (first & 0x0F) switch
        {
            2 => FlvVideoCodec.Sorenson,
            4 => FlvVideoCodec.Vp6,
            5 => FlvVideoCodec.Vp6Alpha,
            7 => FlvVideoCodec.Avc,
            12 => FlvVideoCodec.Hevc,
            _ => FlvVideoCodec.Other,
        };

        if (frameType == FrameTypeCommand)
        {
            // Byte 1 is a command (seek start/end), not an AVCPacketType.
            kind = FlvPacketKind.Info;
            isKeyframe = false;
            return;
        }

        kind = FlvPacketKind.Media;
        if ((codec == FlvVideoCodec.Avc || codec == FlvVideoCodec.Hevc) && data.Length >= 2)
        {
            kind = data[1] switch
            {
                0 => FlvPacketKind.SequenceHeader,
                2 => FlvPacketKind.SequenceEnd,
                _ => FlvPacketKind.Media,
            };
        }

        isKeyframe = frameType == FrameTypeKey && kind == FlvPacketKind.Media;
    }

    private static void ClassifyEnhancedVideo(ReadOnlySpan<byte> data, out FlvPacketKind kind, out bool isKeyframe, out FlvVideoCodec codec)
    {
        var frameType = (data[0] >> 4) & 0x07;
        var packetType = data[0] & 0x0F;
        var position = 1;
        codec = FlvVideoCodec.Other;

        if (!TrySkipModEx(data, ref position, ref packetType))
        {
            kind = FlvPacketKind.Media;
            isKeyframe = frameType == FrameTypeKey;
            return;
        }

        if (frameType == FrameTypeCommand && packetType != ExPacketTypeMetadata)
        {
            // A command frame carries a one-byte command and no FourCC.
            kind = FlvPacketKind.Info;
            isKeyframe = false;
            return;
        }

        if (packetType == ExVideoPacketTypeMultitrack)
        {
            // One byte of multitrack type | inner packet type, then a FourCC unless every track
            // has its own codec. Reported as media: the relay only needs the frame type here.
            kind = FlvPacketKind.Media;
            if (position < data.Length)
            {
                var multitrackType = data[position] >> 4;
                position++;
                if (multitrackType != MultitrackManyTracksManyCodecs)
                {
                    codec = ReadVideoFourCc(data, position);
                }
            }

            isKeyframe = frameType == FrameTypeKey;
            return;
        }

        codec = ReadVideoFourCc(data, position);
        kind = packetType switch
        {
            ExPacketTypeSequenceStart or ExPacketTypeMpeg2TsSequenceStart => FlvPacketKind.SequenceHeader,
            ExPacketTypeSequenceEnd => FlvPacketKind.SequenceEnd,
            ExPacketTypeMetadata => FlvPacketKind.Info,
            _ => FlvPacketKind.Media, // CodedFrames, CodedFramesX, and reserved values.
        };
        isKeyframe = frameType == FrameTypeKey && kind == FlvPacketKind.Media;
    }

    private static FlvVideoCodec ReadVideoFourCc(ReadOnlySpan<byte> data, int position)
    {
        if (data.Length - position < 4)
        {
            return FlvVideoCodec.Other;
        }

        return BinaryPrimitives.ReadUInt32BigEndian(data[position..]) switch
        {
            FourCcHevc => FlvVideoCodec.Hevc,
            FourCcAv1 => FlvVideoCodec.Av1,
            FourCcVp9 => FlvVideoCodec.Vp9,
            FourCcAvc => FlvVideoCodec.Avc,
            _ => FlvVideoCodec.Other,
        };
    }

    private static void ClassifyAudio(ReadOnlySpan<byte> data, out FlvPacketKind kind, out FlvAudioCodec codec)
    {
        var format = data[0] >> 4;
        if (format == SoundFormatExHeader)
        {
            // Enhanced audio: the FourCC says the codec, but the payload layout differs from the
            // legacy one, so it is reported as Other rather than pretending to be legacy AAC/MP3.
            codec = FlvAudioCodec.Other;
            var packetType = data[0] & 0x0F;
            var position = 1;
            if (!TrySkipModEx(data, ref position, ref packetType))
            {
                kind = FlvPacketKind.Media;
                return;
            }

            kind = packetType switch
            {
                ExPacketTypeSequenceStart => FlvPacketKind.SequenceHeader,
                ExPacketTypeSequenceEnd => FlvPacketKind.SequenceEnd,
                _ => FlvPacketKind.Media, // CodedFrames, MultichannelConfig, Multitrack, reserved.
            };
            return;
        }

        codec = format switch
        {
            SoundFormatMp3 or SoundFormatMp3At8kHz => FlvAudioCodec.Mp3,
            SoundFormatAac => FlvAudioCodec.Aac,
            SoundFormatSpeex => FlvAudioCodec.Speex,
            _ => FlvAudioCodec.Other,
        };
        kind = format == SoundFormatAac && data.Length >= 2 && data[1] == 0
            ? FlvPacketKind.SequenceHeader
            : FlvPacketKind.Media;
    }

    /// <summary>
    /// Enhanced RTMP v2 ModEx: while the packet type is ModEx, skip a length-prefixed modifier
    /// and read the real packet type from the low nibble of the byte after it. False when the
    /// inspected bytes end first.
    /// </summary>
    private static bool TrySkipModEx(ReadOnlySpan<byte> data, ref int position, ref int packetType)
    {
        while (packetType == ExPacketTypeModEx)
        {
            if (position >= data.Length)
            {
                return false;
            }

            var size = data[position++] + 1;
            if (size == 256)
            {
                if (data.Length - position < 2)
                {
                    return false;
                }

                size = BinaryPrimitives.ReadUInt16BigEndian(data[position..]) + 1;
                position += 2;
            }

            position += size;
            if (position >= data.Length)
            {
                return false;
            }

            packetType = data[position++] & 0x0F;
        }

        return true;
    }

    private static FlvPacketKind ClassifyScript(ReadOnlySpan<byte> data)
    {
        if (!TryReadAmf0String(data, out var name, out var consumed))
        {
            return FlvPacketKind.Script;
        }

        if (name.SequenceEqual("onMetaData"u8))
        {
            return FlvPacketKind.Metadata;
        }

        // RTMP publishers send @setDataFrame("onMetaData", ...); some servers forward it as is.
        if (name.SequenceEqual("@setDataFrame"u8)
            && TryReadAmf0String(data[consumed..], out var inner, out _)
            && inner.SequenceEqual("onMetaData"u8))
        {
            return FlvPacketKind.Metadata;
        }

        return FlvPacketKind.Script;
    }

    internal static bool TryReadAmf0String(ReadOnlySpan<byte> data, out ReadOnlySpan<byte> value, out int consumed)
    {
        if (data.Length < 3 || data[0] != Amf0StringMarker)
        {
            value = default;
            consumed = 0;
            return false;
        }

        var length = BinaryPrimitives.ReadUInt16BigEndian(data[1..]);
        if (data.Length - 3 < length)
        {
            value = default;
            consumed = 0;
            return false;
        }

        value = data.Slice(3, length);
        consumed = 3 + length;
        return true;
    }
}
