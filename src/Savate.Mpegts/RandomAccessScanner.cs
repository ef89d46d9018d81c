namespace Savate.Mpegts;

/// <summary>
/// Finds a random access point at the start of a video PES, for muxers that do not set
/// random_access_indicator. Only the bytes of the PUSI packet are looked at (≤ 184), which is
/// where encoders put the AUD, parameter sets and the first slice header.
/// </summary>
internal static class RandomAccessScanner
{
    public static bool IsRandomAccess(byte streamType, ReadOnlySpan<byte> es) => streamType switch
    {
        StreamTypes.H264 => Scan(es, Codec.H264),
        StreamTypes.Hevc => Scan(es, Codec.Hevc),
        StreamTypes.Vvc => Scan(es, Codec.Vvc),
        StreamTypes.Mpeg1Video or StreamTypes.Mpeg2Video => Scan(es, Codec.Mpeg2),
        _ => false,
    };

    private static bool Scan(ReadOnlySpan<byte> es, Codec codec)
    {
        ReadOnlySpan<byte> startCode = [0, 0, 1];
        while (true)
        {
            var index = es.IndexOf(startCode);
            if (index < 0)
            {
                return false;
            }

            es = es[(index + 3)..];
            if (es.IsEmpty)
            {
                return false;
            }

            switch (Classify(codec, es))
            {
                case Verdict.RandomAccess:
                    return true;
                case Verdict.Stop:
                    return false;
            }
        }
    }

    private static Verdict Classify(Codec codec, ReadOnlySpan<byte> nal)
    {
        switch (codec)
        {
            case Codec.H264:
                {
                    var type = nal[0] & 0x1F;
                    return type switch
                    {
                        5 or 7 => Verdict.RandomAccess, // IDR slice, SPS
                        >= 1 and <= 4 => Verdict.Stop,  // non-IDR slice: the picture is not a join point
                        _ => Verdict.Continue,
                    };
                }

            case Codec.Hevc:
                {
                    var type = (nal[0] >> 1) & 0x3F;
                    return type switch
                    {
                        >= 16 and <= 21 => Verdict.RandomAccess, // BLA, IDR, CRA
                        32 or 33 => Verdict.RandomAccess,        // VPS, SPS
                        < 32 => Verdict.Stop,
                        _ => Verdict.Continue,
                    };
                }

            case Codec.Vvc:
                {
                    if (nal.Length < 2)
                    {
                        return Verdict.Stop;
                    }

                    var type = nal[1] >> 3;
                    return type switch
                    {
                        >= 7 and <= 9 => Verdict.RandomAccess, // IDR_W_RADL, IDR_N_LP, CRA
                        14 or 15 => Verdict.RandomAccess,      // VPS, SPS
                        <= 11 => Verdict.Stop,
                        _ => Verdict.Continue,
                    };
                }

            default:
                return nal[0] switch
                {
                    0xB3 => Verdict.RandomAccess, // sequence header
                    0x00 => Verdict.Stop,         // picture start
                    _ => Verdict.Continue,
                };
        }
    }

    private enum Codec
    {
        H264,
        Hevc,
        Vvc,
        Mpeg2,
    }

    private enum Verdict
    {
        Continue,
        RandomAccess,
        Stop,
    }
}
