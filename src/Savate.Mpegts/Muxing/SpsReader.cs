namespace Savate.Mpegts.Muxing;

/// <summary>
/// Reads the picture size (and the HEVC profile_tier_level) from an H.264 or HEVC SPS NAL unit, for a
/// multivariant playlist's RESOLUTION. Never throws: a truncated or odd SPS gives false.
/// </summary>
internal static class SpsReader
{
    public static bool TryReadAvcSize(ReadOnlySpan<byte> sps, out int width, out int height)
    {
        width = 0;
        height = 0;
        try
        {
            var r = new BitReader(sps[1..]);
            var profile = r.Bits(8);
            r.Bits(16); // constraint flags, level
            r.Ue(); // seq_parameter_set_id
            var chroma = 1;
            if (profile is 100 or 110 or 122 or 244 or 44 or 83 or 86 or 118 or 128 or 138 or 139 or 134 or 135)
            {
                chroma = r.Ue();
                if (chroma == 3)
                {
                    r.Bits(1);
                }
                r.Ue();
                r.Ue();
                r.Bits(1);
                if (r.Bits(1) == 1)
                {
                    for (var i = 0; i < (chroma == 3 ? 12 : 8); i++)
                    {
                        if (r.Bits(1) == 1)
                        {
                            SkipScalingList(ref r, i < 6 ? 16 : 64);
                        }
                    }
                }
            }
            r.Ue(); // log2_max_frame_num_minus4
            var pocType = r.Ue();
            if (pocType == 0)
            {
                r.Ue();
            }
            else if (pocType == 1)
            {
                r.Bits(1);
                r.Se();
                r.Se();
                var cycle = r.Ue();
                for (var i = 0; i < cycle; i++)
                {
                    r.Se();
                }
            }
            r.Ue(); // max_num_ref_frames
            r.Bits(1);
            var widthMbs = r.Ue() + 1;
            var heightMapUnits = r.Ue() + 1;
            var frameMbsOnly = r.Bits(1);
            if (frameMbsOnly == 0)
            {
                r.Bits(1);
            }
            r.Bits(1);
            int left = 0, right = 0, top = 0, bottom = 0;
            if (r.Bits(1) == 1)
            {
                left = r.Ue();
                right = r.Ue();
                top = r.Ue();
                bottom = r.Ue();
            }
            var cropX = chroma is 1 or 2 ? 2 : 1;
            var cropY = (chroma == 1 ? 2 : 1) * (2 - frameMbsOnly);
            if (chroma == 0)
            {
                cropX = 1;
                cropY = 2 - frameMbsOnly;
            }
            width = widthMbs * 16 - cropX * (left + right);
            height = (2 - frameMbsOnly) * heightMapUnits * 16 - cropY * (top + bottom);
            return width > 0 && height > 0;
        }
        catch (IndexOutOfRangeException)
        {
            width = 0;
            height = 0;
            return false;
        }
    }

    /// <summary>The 12 bytes of general_profile_tier_level, starting at general_profile_space.</summary>
    public static bool TryReadHevcProfile(ReadOnlySpan<byte> sps, out byte[] ptl)
    {
        ptl = [];
        try
        {
            var r = new BitReader(sps[2..]);
            r.Bits(8); // vps id, max sub layers, nesting
            ptl = new byte[12];
            for (var i = 0; i < 12; i++)
            {
                ptl[i] = (byte)r.Bits(8);
            }
            return true;
        }
        catch (IndexOutOfRangeException)
        {
            return false;
        }
    }

    public static bool TryReadHevcSize(ReadOnlySpan<byte> sps, out int width, out int height)
    {
        width = 0;
        height = 0;
        try
        {
            var r = new BitReader(sps[2..]);
            r.Bits(4);
            var maxSubLayersMinus1 = r.Bits(3);
            r.Bits(1);
            r.Bits(32);
            r.Bits(32);
            r.Bits(32); // general profile_tier_level (96 bits)
            Span<bool> profilePresent = stackalloc bool[8];
            Span<bool> levelPresent = stackalloc bool[8];
            for (var i = 0; i < maxSubLayersMinus1; i++)
            {
                profilePresent[i] = r.Bits(1) == 1;
                levelPresent[i] = r.Bits(1) == 1;
            }
            if (maxSubLayersMinus1 > 0)
            {
                for (var i = maxSubLayersMinus1; i < 8; i++)
                {
                    r.Bits(2);
                }
            }
            for (var i = 0; i < maxSubLayersMinus1; i++)
            {
                if (profilePresent[i])
                {
                    r.Bits(32);
                    r.Bits(32);
                    r.Bits(24);
                }
                if (levelPresent[i])
                {
                    r.Bits(8);
                }
            }
            r.Ue(); // sps id
            var chroma = r.Ue();
            if (chroma == 3)
            {
                r.Bits(1);
            }
            width = r.Ue();
            height = r.Ue();
            if (r.Bits(1) == 1)
            {
                var subWidth = chroma is 1 or 2 ? 2 : 1;
                var subHeight = chroma == 1 ? 2 : 1;
                width -= subWidth * (r.Ue() + r.Ue());
                height -= subHeight * (r.Ue() + r.Ue());
            }
            return width > 0 && height > 0;
        }
        catch (IndexOutOfRangeException)
        {
            width = 0;
            height = 0;
            return false;
        }
    }

    private static void SkipScalingList(ref BitReader r, int size)
    {
        int last = 8, next = 8;
        for (var j = 0; j < size; j++)
        {
            if (next != 0)
            {
                next = (last + r.Se() + 256) % 256;
            }
            last = next == 0 ? last : next;
        }
    }

    /// <summary>Reads bits from an RBSP, skipping emulation prevention bytes (00 00 03). Throws IndexOutOfRange at the end.</summary>
    private ref struct BitReader(ReadOnlySpan<byte> data)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _byte;
        private int _bit;
        private int _zeros;
        private int _current = -1;

        public int Bits(int count)
        {
            var value = 0;
            for (var i = 0; i < count; i++)
            {
                value = (value << 1) | Bit();
            }
            return value;
        }

        public int Ue()
        {
            var zeros = 0;
            while (Bit() == 0)
            {
                if (++zeros > 31)
                {
                    throw new IndexOutOfRangeException();
                }
            }
            return zeros == 0 ? 0 : (int)((1u << zeros) - 1 + (uint)Bits(zeros));
        }

        public int Se()
        {
            var k = Ue();
            return (k & 1) == 1 ? (k + 1) / 2 : -(k / 2);
        }

        private int Bit()
        {
            if (_current < 0)
            {
                var b = _data[_byte];
                if (_zeros >= 2 && b == 3)
                {
                    _zeros = 0;
                    _byte++;
                    b = _data[_byte];
                }
                _zeros = b == 0 ? _zeros + 1 : 0;
                _current = b;
            }
            var bit = (_current >> (7 - _bit)) & 1;
            if (++_bit == 8)
            {
                _bit = 0;
                _byte++;
                _current = -1;
            }
            return bit;
        }
    }
}
