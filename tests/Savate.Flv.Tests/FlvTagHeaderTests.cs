namespace Savate.Flv.Tests;

public class FlvTagHeaderTests
{
    [Theory]
    [InlineData(0u)]
    [InlineData(1u)]
    [InlineData(0x123456u)]
    [InlineData(0xFFFFFFu)]
    [InlineData(0x1000000u)]
    [InlineData(0x12345678u)]
    [InlineData(uint.MaxValue)]
    public void WriteTimestamp_AnyValue_RoundTripsThroughParse(uint timestamp)
    {
        var tag = FlvTags.Build(FlvTagType.Video, 77, [0x17, 1, 0, 0, 0]);

        FlvTagHeader.WriteTimestamp(tag, timestamp);

        Assert.Equal(timestamp, FlvTagHeader.Parse(tag).Timestamp);
        Assert.Equal(timestamp, FlvTagHeader.ReadTimestamp(tag));
        Assert.Equal(5, FlvTagHeader.Parse(tag).DataSize);
        Assert.Equal(FlvTagType.Video, FlvTagHeader.Parse(tag).TagType);
    }

    [Fact]
    public void WriteTimestamp_AboveTwentyFourBits_PutsHighByteInExtension()
    {
        var tag = new byte[FlvTagHeader.Size];

        FlvTagHeader.WriteTimestamp(tag, 0xAABBCCDD);

        Assert.Equal(new byte[] { 0, 0, 0, 0, 0xBB, 0xCC, 0xDD, 0xAA, 0, 0, 0 }, tag);
    }

    [Fact]
    public void Write_Fields_WritesElevenBytesThatParseBack()
    {
        var bytes = new byte[FlvTagHeader.Size];

        FlvTagHeader.Write(bytes, FlvTagType.Script, 0x0A0B0C, 0x01020304);

        Assert.Equal(new byte[] { 18, 0x0A, 0x0B, 0x0C, 0x02, 0x03, 0x04, 0x01, 0, 0, 0 }, bytes);
        var header = FlvTagHeader.Parse(bytes);
        Assert.Equal(FlvTagType.Script, header.TagType);
        Assert.False(header.IsFiltered);
        Assert.Equal(0x0A0B0C, header.DataSize);
        Assert.Equal(0x01020304u, header.Timestamp);
        Assert.Equal(0, header.StreamId);
        Assert.Equal(11 + 0x0A0B0C + 4, header.TotalSize);
    }

    [Theory]
    [InlineData(-1)]
    [InlineData(0x1000000)]
    public void Write_DataSizeOutOfRange_Throws(int dataSize)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => FlvTagHeader.Write(new byte[11], FlvTagType.Audio, dataSize, 0));
    }

    [Fact]
    public void Parse_FilterBitAndStreamId_ReadsThemWithoutValidating()
    {
        byte[] bytes = [0x28, 0, 0, 1, 0, 0, 0, 0, 0x01, 0x02, 0x03];

        var header = FlvTagHeader.Parse(bytes);

        Assert.Equal(FlvTagType.Audio, header.TagType);
        Assert.True(header.IsFiltered);
        Assert.Equal(0x010203, header.StreamId);
    }

    [Fact]
    public void WriteTimestamp_TooShort_Throws()
    {
        Assert.Throws<ArgumentException>(() => FlvTagHeader.WriteTimestamp(new byte[7], 1));
    }
}
