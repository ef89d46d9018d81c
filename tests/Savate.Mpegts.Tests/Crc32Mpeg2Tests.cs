using System.Text;

namespace Savate.Mpegts.Tests;

public class Crc32Mpeg2Tests
{
    [Fact]
    public void Compute_CheckString_MatchesCatalogue()
    {
        // The "check" value of CRC-32/MPEG-2 in the CRC RevEng catalogue.
        Assert.Equal(0x0376E6E7u, Crc32Mpeg2.Compute(Encoding.ASCII.GetBytes("123456789")));
    }

    [Fact]
    public void Compute_Empty_IsInitialValue()
    {
        Assert.Equal(0xFFFFFFFFu, Crc32Mpeg2.Compute([]));
    }

    [Fact]
    public void Compute_RealPatSection_IsZeroOverSectionWithCrc()
    {
        // The PAT that ffmpeg writes (program 1 on PMT PID 0x1000), CRC included: the CRC over the whole section is 0.
        byte[] pat = [0x00, 0xB0, 0x0D, 0x00, 0x01, 0xC1, 0x00, 0x00, 0x00, 0x01, 0xF0, 0x00, 0x2A, 0xB1, 0x04, 0xB2];
        Assert.Equal(0u, Crc32Mpeg2.Compute(pat));
        Assert.Equal(0x2AB104B2u, Crc32Mpeg2.Compute(pat.AsSpan(0, pat.Length - 4)));
    }
}
