using System.Buffers;
using System.Buffers.Binary;

namespace Savate.Flv.Tests;

public class FlvTagsTests
{
    [Fact]
    public void Build_Data_WritesHeaderDataAndPreviousTagSize()
    {
        var tag = FlvTags.Build(FlvTagType.Audio, 0x01000010, [0xAF, 0x01, 0x55]);

        Assert.Equal(new byte[] { 8, 0, 0, 3, 0, 0, 0x10, 0x01, 0, 0, 0, 0xAF, 0x01, 0x55, 0, 0, 0, 14 }, tag);
        Assert.Equal(tag.Length, FlvTags.GetTotalSize(3));
    }

    [Fact]
    public void Write_DestinationTooShort_Throws()
    {
        Assert.Throws<ArgumentException>(() => FlvTags.Write(new byte[17], FlvTagType.Audio, 0, [1, 2, 3]));
    }

    [Fact]
    public void BuildOnMetaData_Properties_ReadsBackAsMetadata()
    {
        var tag = FlvTags.BuildOnMetaData(0, [
            new("duration", 0.0),
            new("width", 1920),
            new("stereo", true),
            new("encoder", "savate"),
            new("missing", null),
        ]);

        var stream = WithHeader(tag);
        var tags = FlvTestReader.ReadAll(stream);

        var parsed = Assert.Single(tags);
        Assert.Equal(FlvTagType.Script, parsed.Type);
        Assert.Equal(FlvPacketKind.Metadata, parsed.Kind);
        ReadOnlySpan<byte> data = tag.AsSpan(FlvTagHeader.Size, tag.Length - FlvTagHeader.Size - 4);
        Assert.Equal(0x08, data[13]); // ECMA array after the "onMetaData" string
        Assert.Equal(5u, BinaryPrimitives.ReadUInt32BigEndian(data[14..]));
        Assert.True(data.EndsWith((ReadOnlySpan<byte>)[0, 0, 9]));
        var width = data.IndexOf("width"u8);
        Assert.Equal(0x00, data[width + 5]);
        Assert.Equal(1920.0, BinaryPrimitives.ReadDoubleBigEndian(data[(width + 6)..]));
    }

    [Fact]
    public void BuildOnMetaData_UnsupportedValue_Throws()
    {
        Assert.Throws<ArgumentException>(() => FlvTags.BuildOnMetaData(0, [new("when", DateTime.UnixEpoch)]));
    }

    [Fact]
    public void TryRemoveSetDataFrame_PrefixedMetadata_ReturnsPlainOnMetaData()
    {
        var prefixed = FlvTags.Build(FlvTagType.Script, 1234, FlvStreamBuilder.Script("@setDataFrame", "onMetaData"));
        var plain = FlvTags.Build(FlvTagType.Script, 1234, FlvStreamBuilder.Script("onMetaData"));

        Assert.True(FlvTags.TryRemoveSetDataFrame(TestBuffers.OneBytePerSegment(prefixed), out var result));

        Assert.Equal(plain, result);
        Assert.Equal(FlvPacketKind.Metadata, Assert.Single(FlvTestReader.ReadAll(WithHeader(result))).Kind);
    }

    [Fact]
    public void TryRemoveSetDataFrame_PlainMetadataOrMedia_ReturnsFalse()
    {
        var plain = FlvTags.Build(FlvTagType.Script, 0, FlvStreamBuilder.Script("onMetaData"));
        var video = FlvTags.Build(FlvTagType.Video, 0, new byte[40]);

        Assert.False(FlvTags.TryRemoveSetDataFrame(new ReadOnlySequence<byte>(plain), out _));
        Assert.False(FlvTags.TryRemoveSetDataFrame(new ReadOnlySequence<byte>(video), out _));
        Assert.False(FlvTags.TryRemoveSetDataFrame(new ReadOnlySequence<byte>(plain, 0, 5), out _));
    }

    private static byte[] WithHeader(byte[] tag) => [.. FlvHeader.ToArray(true, true), .. tag];
}
