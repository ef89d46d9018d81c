namespace Savate.Flv.Tests;

public class FlvHeaderTests
{
    [Theory]
    [InlineData(true, true, 0x05)]
    [InlineData(true, false, 0x04)]
    [InlineData(false, true, 0x01)]
    [InlineData(false, false, 0x00)]
    public void Write_Flags_WritesThirteenBytesThatParseBack(bool hasAudio, bool hasVideo, byte flags)
    {
        var bytes = new byte[FlvHeader.SizeWithPreviousTagSize];

        FlvHeader.Write(bytes, hasAudio, hasVideo);

        Assert.Equal(new byte[] { (byte)'F', (byte)'L', (byte)'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0 }, bytes);
        var header = FlvHeader.Parse(bytes);
        Assert.Equal(1, header.Version);
        Assert.Equal(hasAudio, header.HasAudio);
        Assert.Equal(hasVideo, header.HasVideo);
        Assert.Equal(9u, header.DataOffset);
        Assert.Equal(bytes, FlvHeader.ToArray(hasAudio, hasVideo));
    }

    [Fact]
    public void Write_DestinationTooShort_Throws()
    {
        Assert.Throws<ArgumentException>(() => FlvHeader.Write(new byte[12], true, true));
    }

    [Theory]
    [InlineData("FLV", true)]
    [InlineData("FLV\u0001", true)]
    [InlineData("FL", false)]
    [InlineData("", false)]
    [InlineData("flv", false)]
    [InlineData("GET", false)]
    public void HasSignature_Prefix_DetectsFlv(string text, bool expected)
    {
        Assert.Equal(expected, FlvHeader.HasSignature(System.Text.Encoding.ASCII.GetBytes(text)));
    }

    [Fact]
    public void Parse_BadSignature_ThrowsBadSignature()
    {
        var error = Assert.Throws<FlvFormatException>(() => FlvHeader.Parse("FLX\u0001\u0005\0\0\0\u0009"u8));

        Assert.Equal(FlvError.BadSignature, error.Reason);
        Assert.Contains("464C58", error.Message);
    }

    [Theory]
    [InlineData(0u)]
    [InlineData(8u)]
    [InlineData(FlvHeader.MaxDataOffset + 1)]
    [InlineData(uint.MaxValue)]
    public void Parse_DataOffsetOutOfRange_ThrowsBadHeaderSize(uint dataOffset)
    {
        byte[] bytes = [(byte)'F', (byte)'L', (byte)'V', 1, 5, (byte)(dataOffset >> 24), (byte)(dataOffset >> 16), (byte)(dataOffset >> 8), (byte)dataOffset];

        var error = Assert.Throws<FlvFormatException>(() => FlvHeader.Parse(bytes));

        Assert.Equal(FlvError.BadHeaderSize, error.Reason);
        Assert.Contains(dataOffset.ToString(System.Globalization.CultureInfo.InvariantCulture), error.Message);
    }

    [Fact]
    public void Parse_TooShort_ThrowsArgumentException()
    {
        Assert.Throws<ArgumentException>(() => FlvHeader.Parse("FLV\u0001"u8));
    }
}
