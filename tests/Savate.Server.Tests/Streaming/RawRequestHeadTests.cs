using System.Buffers;
using System.Text;
using Savate.Server.Http;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class RawRequestHeadTests
{
    private static HeadDecision Parse(string text, out RawRequestHead? head, out long consumed)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text));
        var decision = RawRequestHead.TryParse(buffer, out head, out var end);
        consumed = buffer.Slice(0, end).Length;
        return decision;
    }

    [Fact]
    public void TryParse_SourceWithIce_RawWithHeaders()
    {
        const string Head = "SOURCE /live.flv ICE/1.0\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\nContent-Type: video/x-flv\r\nUser-Agent: libshout/2.4\r\n\r\n";
        Assert.Equal(HeadDecision.Parsed, Parse(Head + "FLV\x01", out var head, out var consumed));

        Assert.Equal(Head.Length, consumed);
        Assert.True(head!.IsRawSource);
        Assert.Equal("SOURCE", head.Method);
        Assert.Equal("/live.flv", head.Path);
        Assert.Equal("ICE/1.0", head.Version);
        Assert.Equal("HTTP/1.0", head.ResponseVersion);
        Assert.Equal("Basic c291cmNlOmhhY2ttZQ==", head.Authorization);
        Assert.Equal("video/x-flv", head.ContentType);
        Assert.Equal("libshout/2.4", head.UserAgent);
        Assert.False(head.ExpectsContinue);
    }

    [Fact]
    public void TryParse_PutWithoutLength_Raw()
    {
        Assert.Equal(HeadDecision.Parsed, Parse("PUT /live HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", out var head, out _));
        Assert.True(head!.IsRawSource);
        Assert.True(head.ExpectsContinue);
        Assert.Equal("HTTP/1.1", head.ResponseVersion);
    }

    [Theory]
    [InlineData("PUT /live HTTP/1.1\r\nContent-Length: 100\r\n\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\ncontent-length: 100\r\n\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("POST /live HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")]
    public void TryParse_PutWithFraming_NotRaw(string text)
    {
        Assert.Equal(HeadDecision.Parsed, Parse(text, out var head, out _));
        Assert.False(head!.IsRawSource);
    }

    [Theory]
    [InlineData("G")]
    [InlineData("GET / HTTP/1.1\r\n")]
    [InlineData("GET /live.flv HTTP/1.1\r\nHost: x\r\n\r\n")]
    [InlineData("\x16\x03\x01")]
    public void TryParse_Get_NotHttpFromFirstBytes(string text)
    {
        Assert.Equal(HeadDecision.NotHttp, Parse(text, out var head, out var consumed));
        Assert.Null(head);
        Assert.Equal(0, consumed);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("SOURCE /live ICE/1.0\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nHost: x\r\n\r")]
    [InlineData("PO")]
    public void TryParse_IncompleteHead_NeedMore(string text)
    {
        Assert.Equal(HeadDecision.NeedMore, Parse(text, out var head, out var consumed));
        Assert.Null(head);
        Assert.Equal(0, consumed);
    }

    [Theory]
    [InlineData("SOURCE http://example.com:8000/live.flv?x=1 ICE/1.0\r\n\r\n", "/live.flv")]
    [InlineData("PUT /live.ts?password=x#frag HTTP/1.1\r\n\r\n", "/live.ts")]
    [InlineData("PUT /a%20b HTTP/1.1\r\n\r\n", "/a b")]
    [InlineData("SOURCE https://h/x/y ICE/1.0\r\n\r\n", "/x/y")]
    public void TryParse_Target_PathWithoutQuery(string text, string path)
    {
        Assert.Equal(HeadDecision.Parsed, Parse(text, out var head, out _));
        Assert.Equal(path, head!.Path);
    }

    [Fact]
    public void TryParse_HeadSplitAcrossSegments_SameResult()
    {
        var bytes = Encoding.Latin1.GetBytes("SOURCE /live ICE/1.0\r\nContent-Type: video/mp2t\r\n\r\nbody");
        for (var split = 0; split <= bytes.Length; split++)
        {
            var buffer = TestMounts.TwoSegments(bytes, split);
            Assert.Equal(HeadDecision.Parsed, RawRequestHead.TryParse(buffer, out var head, out var end));
            Assert.Equal("video/mp2t", head!.ContentType);
            Assert.Equal(bytes.Length - 4, buffer.Slice(0, end).Length);
        }
    }

    [Fact]
    public void TryParse_BadRequestLine_NotHttp() =>
        Assert.Equal(HeadDecision.NotHttp, Parse("PUT /live\r\n\r\n", out _, out _));
}
