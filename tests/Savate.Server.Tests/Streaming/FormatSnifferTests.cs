using System.Buffers;
using Savate.Server.Configuration;
using Savate.Server.Streaming;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class FormatSnifferTests
{
    private static readonly byte[] s_ts = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.ts"));

    private static MountFormat? Sniff(byte[] data, bool final = false) => FormatSniffer.Sniff(new ReadOnlySequence<byte>(data), final);

    [Fact]
    public void Sniff_FlvHeader_Flv()
    {
        Assert.Equal(MountFormat.Flv, Sniff(FlvSynth.Header()));
        Assert.Equal(MountFormat.Flv, Sniff("FLV"u8.ToArray()));
    }

    [Fact]
    public void Sniff_TsAligned_Mpegts() => Assert.Equal(MountFormat.Mpegts, Sniff(s_ts[..FormatSniffer.DecisiveLength]));

    [Theory]
    [InlineData(1)]
    [InlineData(100)]
    [InlineData(187)]
    public void Sniff_TsStartingMidPacket_Mpegts(int offset) =>
        Assert.Equal(MountFormat.Mpegts, Sniff(s_ts[offset..(offset + FormatSniffer.DecisiveLength)]));

    [Fact]
    public void Sniff_TwoSegments_SameDecision()
    {
        var data = s_ts[50..(50 + FormatSniffer.DecisiveLength)];
        for (var split = 0; split <= data.Length; split += 37)
        {
            Assert.Equal(MountFormat.Mpegts, FormatSniffer.Sniff(TestMounts.TwoSegments(data, split), final: false));
        }
    }

    [Fact]
    public void Sniff_Garbage_Auto()
    {
        var garbage = new byte[FormatSniffer.DecisiveLength];
        new Random(42).NextBytes(garbage);
        garbage.AsSpan().Replace((byte)0x47, (byte)0x48);
        Assert.Equal(MountFormat.Auto, Sniff(garbage));
        Assert.Equal(MountFormat.Auto, Sniff("GET / HTTP/1.1\r\n"u8.ToArray(), final: true));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(200)]
    [InlineData(563)]
    public void Sniff_ShortInput_NullUnlessFinal(int length)
    {
        var data = s_ts[1..(1 + length)];
        Assert.Null(Sniff(data));
        Assert.Equal(MountFormat.Auto, Sniff(data, final: true));
    }

    [Fact]
    public void Sniff_PartialFlvSignature_NullUnlessFinal()
    {
        Assert.Null(Sniff("F"u8.ToArray()));
        Assert.Null(Sniff("FL"u8.ToArray()));
        Assert.Equal(MountFormat.Auto, Sniff("FL"u8.ToArray(), final: true));
    }

    [Theory]
    [InlineData("video/x-flv", MountFormat.Flv)]
    [InlineData("VIDEO/X-FLV", MountFormat.Flv)]
    [InlineData("application/x-flv", MountFormat.Flv)]
    [InlineData("video/flv; charset=binary", MountFormat.Flv)]
    [InlineData(" video/x-flv ;q=1", MountFormat.Flv)]
    [InlineData("video/MP2T", MountFormat.Mpegts)]
    [InlineData("video/mpegts", MountFormat.Mpegts)]
    [InlineData("video/mpeg;codecs=x", MountFormat.Mpegts)]
    [InlineData("audio/mpeg", MountFormat.Auto)]
    [InlineData("application/octet-stream", MountFormat.Auto)]
    [InlineData("", MountFormat.Auto)]
    [InlineData("  ", MountFormat.Auto)]
    [InlineData(null, MountFormat.Auto)]
    public void FromContentType_Cases_Format(string? contentType, MountFormat expected) =>
        Assert.Equal(expected, FormatSniffer.FromContentType(contentType));
}
