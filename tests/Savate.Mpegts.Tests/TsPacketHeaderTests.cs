using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests;

public class TsPacketHeaderTests
{
    [Fact]
    public void Parse_PayloadOnly_ReadsFields()
    {
        var packet = TsBuilder.Packet(0x1ABC, pusi: true, cc: 9, new byte[184]);
        packet[1] |= 0x80;

        var header = TsPacketHeader.Parse(packet);

        Assert.True(header.TransportError);
        Assert.True(header.PayloadUnitStart);
        Assert.Equal(0x1ABC, header.Pid);
        Assert.Equal(1, header.AdaptationFieldControl);
        Assert.False(header.HasAdaptationField);
        Assert.True(header.HasPayload);
        Assert.Equal(9, header.ContinuityCounter);
        Assert.Equal(-1, header.Pcr);
        Assert.Equal(4, header.PayloadOffset);
    }

    [Fact]
    public void Parse_AdaptationWithPcrAndFlags_ReadsPcrIn27MHz()
    {
        // A 33-bit base near the wrap and a non-zero extension exercise every PCR bit.
        var pcr = ((1L << 33) - 5) * 300 + 299;
        var packet = TsBuilder.Packet(0x100, pusi: false, cc: 3, new byte[100], randomAccessIndicator: true, pcr: pcr);
        packet[5] |= 0x80;

        var header = TsPacketHeader.Parse(packet);

        Assert.Equal(3, header.AdaptationFieldControl);
        Assert.True(header.DiscontinuityIndicator);
        Assert.True(header.RandomAccessIndicator);
        Assert.Equal(pcr, header.Pcr);
        Assert.Equal(88, header.PayloadOffset);
    }

    [Fact]
    public void Parse_AdaptationOnly_PayloadOffsetIs188()
    {
        var packet = TsBuilder.Packet(0x100, pusi: false, cc: 0, []);

        var header = TsPacketHeader.Parse(packet);

        Assert.Equal(2, header.AdaptationFieldControl);
        Assert.False(header.HasPayload);
        Assert.Equal(188, header.PayloadOffset);
    }

    [Fact]
    public void Parse_OverrunningAdaptationLength_IsClamped()
    {
        var packet = TsBuilder.Packet(0x100, pusi: false, cc: 0, new byte[10]);
        packet[4] = 250;

        var header = TsPacketHeader.Parse(packet);

        Assert.Equal(188, header.PayloadOffset);
    }

    [Fact]
    public void Parse_PcrFlagWithShortAdaptation_NoPcr()
    {
        var packet = TsBuilder.Packet(0x100, pusi: false, cc: 0, new byte[181]);
        packet[5] = 0x10; // PCR flag, but the field is 2 bytes long

        Assert.Equal(-1, TsPacketHeader.Parse(packet).Pcr);
    }

    [Fact]
    public void Parse_ShortSpan_Throws()
    {
        Assert.Throws<ArgumentException>(() => TsPacketHeader.Parse(new byte[100]));
    }
}
