namespace Savate.Mpegts.Muxing;

/// <summary>
/// Reads codec parameters from the first packet of a PES in an MPEG-TS stream, for a playlist's CODECS
/// and RESOLUTION: the SPS of a video keyframe (encoders put AUD, parameter sets and the first slice in
/// its first packet) and the ADTS header of an AAC frame. Never throws.
/// </summary>
public static class TsCodecProbe
{
    /// <summary>The elementary stream bytes of a packet that starts a PES (after the PES header), or empty.</summary>
    public static ReadOnlySpan<byte> PesPayload(ReadOnlySpan<byte> packet)
    {
        if (packet.Length != TsPacketHeader.PacketSize)
        {
            return default;
        }
        var header = TsPacketHeader.Parse(packet);
        if (!header.PayloadUnitStart || !header.HasPayload)
        {
            return default;
        }
        var start = 4 + (header.HasAdaptationField ? 1 + packet[4] : 0);
        if (start >= packet.Length)
        {
            return default;
        }
        var payload = packet[start..];
        var esOffset = PesHeader.Parse(payload, out _, out _);
        return esOffset <= 0 || esOffset >= payload.Length ? default : payload[esOffset..];
    }

    /// <summary>Finds an SPS NAL unit (H.264 type 7, HEVC type 33) in Annex B bytes; returns it without its start code.</summary>
    public static bool TryFindSps(ReadOnlySpan<byte> annexB, TsVideoCodec codec, out ReadOnlySpan<byte> sps)
    {
        sps = default;
        var position = 0;
        while (NextStartCode(annexB, position) is var start and >= 0)
        {
            var nalStart = start + 3;
            if (nalStart >= annexB.Length)
            {
                return false;
            }
            var next = NextStartCode(annexB, nalStart);
            var end = next < 0 ? annexB.Length : next;
            // A 4-byte start code leaves a zero before the next 00 00 01.
            while (end > nalStart && annexB[end - 1] == 0)
            {
                end--;
            }
            var type = codec == TsVideoCodec.Hevc ? (annexB[nalStart] >> 1) & 0x3F : annexB[nalStart] & 0x1F;
            if (codec == TsVideoCodec.Hevc ? type == 33 : type == 7)
            {
                sps = annexB[nalStart..end];
                // The SPS may continue in the next packet: accept it only if the next start code was seen.
                return next >= 0;
            }
            if (codec == TsVideoCodec.Hevc ? type < 32 : type is >= 1 and <= 5)
            {
                return false; // a slice: the parameter sets come before it or not at all
            }
            position = nalStart;
        }
        return false;
    }

    /// <summary>Reads the AAC configuration from an ADTS header.</summary>
    public static bool TryReadAdts(ReadOnlySpan<byte> data, out AudioConfig config)
    {
        config = default;
        if (data.Length < AudioConfig.AdtsHeaderSize || data[0] != 0xFF || (data[1] & 0xF6) != 0xF0)
        {
            return false;
        }
        var objectType = (data[2] >> 6) + 1;
        var rateIndex = (data[2] >> 2) & 0x0F;
        var channels = ((data[2] & 0x01) << 2) | (data[3] >> 6);
        if (rateIndex > 12 || channels == 0)
        {
            return false;
        }
        config = new AudioConfig(objectType, rateIndex, channels);
        return true;
    }

    private static int NextStartCode(ReadOnlySpan<byte> data, int from)
    {
        for (var i = from; i + 2 < data.Length; i++)
        {
            if (data[i] == 0 && data[i + 1] == 0 && data[i + 2] == 1)
            {
                return i;
            }
        }
        return -1;
    }
}
