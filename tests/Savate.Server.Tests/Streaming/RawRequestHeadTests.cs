using System.Buffers;
using System.Text;
using Savate.Server.Http;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

/// <summary>
/// The request head reader (Http/RequestHead.cs): whole heads, heads fed one byte at a time and split at every
/// point, and a corpus of bad heads, each refused with its reason as soon as the bad byte arrives.
/// </summary>
public class RawRequestHeadTests
{
    private static bool Parse(string text, out RawRequestHead? head, out long consumed)
    {
        var buffer = new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text));
        var done = RawRequestHead.TryParse(buffer, out head, out var end);
        consumed = buffer.Slice(0, end).Length;
        return done;
    }

    private static RequestHeadError Refused(string text) =>
        Assert.Throws<BadRequestHeadException>(() => RawRequestHead.TryParse(new ReadOnlySequence<byte>(Encoding.Latin1.GetBytes(text)), out _, out _)).Reason;

    [Fact]
    public void TryParse_SourceWithIce_RawWithHeaders()
    {
        const string Head = "SOURCE /live.flv ICE/1.0\r\nAuthorization: Basic c291cmNlOmhhY2ttZQ==\r\nContent-Type: video/x-flv\r\nUser-Agent: libshout/2.4\r\n\r\n";
        Assert.True(Parse(Head + "FLV\x01", out var head, out var consumed));

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
        Assert.True(Parse("PUT /live HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\n\r\n", out var head, out _));
        Assert.True(head!.IsRawSource);
        Assert.True(head.ExpectsContinue);
        Assert.Equal("HTTP/1.1", head.ResponseVersion);
    }

    [Theory]
    [InlineData("PUT /live HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("POST /live HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nContent-Length: 1e3\r\n\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nContent-Length: -1\r\n\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nContent-Length: 100\r\nContent-Length: 101\r\n\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nContent-Length: 99999999999999999999\r\n\r\n")]
    public void TryParse_ChunkedOrBadLength_LeftToKestrel(string text)
    {
        Assert.True(Parse(text, out var head, out _));
        Assert.False(head!.IsRawSource);
    }

    [Theory]
    [InlineData("PUT /live HTTP/1.1\r\nContent-Length: 100\r\n\r\n", 100)]
    [InlineData("PUT /live HTTP/1.1\r\ncontent-length: 0\r\n\r\n", 0)]
    [InlineData("POST /live HTTP/1.1\r\nContent-Length: 7\r\nContent-Length: 7\r\n\r\n", 7)]
    public void TryParse_SizedPut_RawWithItsLength(string text, long length)
    {
        Assert.True(Parse(text, out var head, out _));
        Assert.True(head!.IsRawSource);
        Assert.Equal(length, head.ContentLength);
    }

    [Theory]
    [InlineData("User-Agent:   spaced out  \t", "spaced out")]
    [InlineData("User-Agent:x", "x")]
    [InlineData("User-Agent:", "")]
    [InlineData("user-agent: caf\xe9", "caf\xe9")]
    public void TryParse_HeaderValue_TrimmedOfWhitespace(string line, string value)
    {
        Assert.True(Parse($"GET /a HTTP/1.1\r\n{line}\r\n\r\n", out var head, out _));
        Assert.Equal(value, head!.UserAgent);
    }

    [Theory]
    [InlineData("")]
    [InlineData("S")]
    [InlineData("SOURCE /live ICE/1.0\r\n")]
    [InlineData("PUT /live HTTP/1.1\r\nHost: x\r\n\r")]
    [InlineData("GET /live.flv HTTP/1.1\r\nHost: x")]
    [InlineData("GET ")]
    public void TryParse_IncompleteHead_NeedMore(string text)
    {
        Assert.False(Parse(text, out var head, out var consumed));
        Assert.Null(head);
        Assert.Equal(0, consumed);
    }

    [Theory]
    [InlineData("SOURCE http://example.com:8000/live.flv?x=1 ICE/1.0\r\n\r\n", "/live.flv")]
    [InlineData("PUT /live.ts?password=x HTTP/1.1\r\n\r\n", "/live.ts")]
    [InlineData("PUT /a%20b HTTP/1.1\r\n\r\n", "/a b")]
    [InlineData("SOURCE https://h/x/y ICE/1.0\r\n\r\n", "/x/y")]
    [InlineData("GET //live.flv HTTP/1.1\r\n\r\n", "/live.flv")]
    [InlineData("GET /a//b///c HTTP/1.1\r\n\r\n", "/a/b/c")]
    [InlineData("GET /live.flv/ HTTP/1.1\r\n\r\n", "/live.flv/")]
    [InlineData("GET /STATUS.JSON HTTP/1.1\r\n\r\n", "/STATUS.JSON")]
    public void TryParse_Target_NormalisedPathWithoutQuery(string text, string path)
    {
        Assert.True(Parse(text, out var head, out _));
        Assert.Equal(path, head!.Path);
        Assert.Null(head.PathError);
    }

    [Theory]
    [InlineData("/./own.flv")]
    [InlineData("/a/../own.flv")]
    [InlineData("/%2E%2E/own.flv")]
    [InlineData("/own.flv%2F")]
    [InlineData("/own.flv%2f")]
    [InlineData("/a%5Cb")]
    [InlineData("/own.flv;x")]
    [InlineData("/a\\b")]
    [InlineData("/%zz")]
    [InlineData("/%00")]
    [InlineData("/%C3")]
    [InlineData("own.flv")]
    public void TryParse_TargetThatNamesNoPath_PathErrorSet(string target)
    {
        Assert.True(Parse($"GET {target} HTTP/1.1\r\n\r\n", out var head, out _));
        Assert.Null(head!.Path);
        Assert.NotNull(head.PathError);
    }

    public static TheoryData<string, string> BadHeads => new()
    {
        { "GET /live.flv\r\n\r\n", nameof(RequestHeadError.Http09) },
        { "GET /live.flv\r\n", nameof(RequestHeadError.Http09) },
        { "GET /live.flv\n", nameof(RequestHeadError.Http09) },
        { "GET /live.flv HTTP/1.1\n", nameof(RequestHeadError.BareLineFeed) },
        { "GET /live.flv HTTP/1.1\r\nHost: x\n", nameof(RequestHeadError.BareLineFeed) },
        { "GET /live.flv HTTP/1.1\r\nHost: x\r\n\n", nameof(RequestHeadError.BareLineFeed) },
        { "GET /live.flv HTTP/1.1\r\nHost\n", nameof(RequestHeadError.BareLineFeed) },
        { "GET \x01\x02garbage", nameof(RequestHeadError.BadRequestLine) },
        { "GET /a\x01b HTTP/1.1\r\n\r\n", nameof(RequestHeadError.BadTarget) },
        { "GET /caf\xe9 HTTP/1.1\r\n\r\n", nameof(RequestHeadError.BadTarget) },
        { "GET  /a HTTP/1.1\r\n\r\n", nameof(RequestHeadError.BadRequestLine) },
        { " GET /a HTTP/1.1\r\n\r\n", nameof(RequestHeadError.BadRequestLine) },
        { "\x16\x03\x01\x02\x00", nameof(RequestHeadError.BadRequestLine) },
        { "\r\n", nameof(RequestHeadError.BadRequestLine) },
        { "G(T /a HTTP/1.1\r\n\r\n", nameof(RequestHeadError.BadRequestLine) },
        { "GET /a HTTP/2.0\r\n\r\n", nameof(RequestHeadError.BadVersion) },
        { "GET /a HTTP/1.1 x\r\n\r\n", nameof(RequestHeadError.BadVersion) },
        { "GET /a HTTP/1.1\rX", nameof(RequestHeadError.BadRequestLine) },
        { "GET /a HTTP/1.1\r\n folded: x\r\n\r\n", nameof(RequestHeadError.BadHeader) },
        { "GET /a HTTP/1.1\r\nHost : x\r\n\r\n", nameof(RequestHeadError.BadHeader) },
        { "GET /a HTTP/1.1\r\n: x\r\n\r\n", nameof(RequestHeadError.BadHeader) },
        { "GET /a HTTP/1.1\r\nHost: a\x00b\r\n\r\n", nameof(RequestHeadError.BadHeader) },
        { "GET /a HTTP/1.1\r\nHost: x\rY", nameof(RequestHeadError.BadHeader) },
        { "GET /a HTTP/1.1\r\n\rX", nameof(RequestHeadError.BadHeader) },
        { "GET /a HTTP/1.1\r\nno colon here\r\n\r\n", nameof(RequestHeadError.BadHeader) },
        { "GETTTTTTTTTTTTTTTTTTTTTTTTTTTTTTTT /a HTTP/1.1\r\n\r\n", nameof(RequestHeadError.BadRequestLine) },
    };

    [Theory]
    [MemberData(nameof(BadHeads))]
    public void TryParse_BadHead_RefusedWithReason(string text, string reason) =>
        Assert.Equal(reason, Refused(text).ToString());

    [Theory]
    [MemberData(nameof(BadHeads))]
    public void TryRead_BadHeadOneByteAtATime_RefusedAtTheSameReason(string text, string reason)
    {
        var bytes = Encoding.Latin1.GetBytes(text);
        var reader = default(RequestHeadReader);
        var e = Assert.Throws<BadRequestHeadException>(() =>
        {
            for (var length = 0; length <= bytes.Length; length++)
            {
                Assert.False(reader.TryRead(new ReadOnlySequence<byte>(bytes, 0, length), out _, out _));
            }
        });
        Assert.Equal(reason, e.Reason.ToString());
    }

    [Fact]
    public void TryParse_GarbageAfterGet_RefusedBeforeTheWholeHeadArrives()
    {
        // "GET " and then bytes no request target holds: refused at the first of them, not after 32 KiB.
        Assert.Equal(RequestHeadError.BadRequestLine, Refused("GET \x00"));
        Assert.Equal(RequestHeadError.BadTarget, Refused("GET /\xff"));
    }

    [Fact]
    public void TryParse_RequestLineOverCap_414()
    {
        var text = "GET /" + new string('a', RequestHeadLimits.MaxRequestLine);
        var e = Assert.Throws<BadRequestHeadException>(() => RawRequestHead.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), out _, out _));

        Assert.Equal(RequestHeadError.RequestLineTooLong, e.Reason);
        Assert.Equal(414, e.StatusCode);
    }

    [Fact]
    public void TryParse_RequestLineJustUnderCap_Parsed()
    {
        var line = "GET /" + new string('a', RequestHeadLimits.MaxRequestLine - "GET / HTTP/1.1\r\n".Length) + " HTTP/1.1\r\n";
        Assert.Equal(RequestHeadLimits.MaxRequestLine, line.Length);
        Assert.True(Parse(line + "\r\n", out var head, out _));
        Assert.Equal(RequestHeadLimits.MaxRequestLine - "GET  HTTP/1.1\r\n".Length, head!.Target.Length);
    }

    [Fact]
    public void TryParse_HeadOverCap_431()
    {
        var text = "GET /a HTTP/1.1\r\nX-Big: " + new string('b', 64 * 1024) + "\r\n\r\n";
        var e = Assert.Throws<BadRequestHeadException>(() => RawRequestHead.TryParse(new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes(text)), out _, out _));

        Assert.Equal(RequestHeadError.HeadTooLarge, e.Reason);
        Assert.Equal(431, e.StatusCode);
    }

    [Fact]
    public void TryParse_TooManyHeaders_431()
    {
        var text = new StringBuilder("GET /a HTTP/1.1\r\n");
        for (var i = 0; i <= RequestHeadLimits.MaxHeaders; i++)
        {
            text.Append("X-").Append(i).Append(": 1\r\n");
        }
        Assert.Equal(RequestHeadError.HeadTooLarge, Refused(text.Append("\r\n").ToString()));
    }

    [Fact]
    public void TryRead_OneByteAtATime_SameHeadAsWhole()
    {
        var bytes = Encoding.Latin1.GetBytes("PUT /live.ts HTTP/1.1\r\nHost: x\r\nAuthorization: Basic abc\r\nExpect: 100-continue\r\nContent-Type: video/mp2t\r\n\r\nbody");
        var reader = default(RequestHeadReader);
        RawRequestHead? head = null;
        var length = 0;
        while (head is null)
        {
            length++;
            Assert.True(length <= bytes.Length - 4, "the head never completed");
            if (reader.TryRead(new ReadOnlySequence<byte>(bytes, 0, length), out var parsed, out var end))
            {
                head = parsed;
                Assert.Equal(bytes.Length - 4, new ReadOnlySequence<byte>(bytes, 0, length).Slice(0, end).Length);
            }
        }

        Assert.Equal(bytes.Length - 4, length);
        Assert.Equal("/live.ts", head.Path);
        Assert.Equal("Basic abc", head.Authorization);
        Assert.Equal("video/mp2t", head.ContentType);
        Assert.True(head.ExpectsContinue);
        Assert.True(head.IsRawSource);
    }

    [Fact]
    public void TryParse_HeadSplitAcrossSegments_SameResult()
    {
        var bytes = Encoding.Latin1.GetBytes("SOURCE /live ICE/1.0\r\nContent-Type: video/mp2t\r\nUser-Agent: enc\r\n\r\nbody");
        for (var split = 0; split <= bytes.Length; split++)
        {
            var buffer = TestMounts.TwoSegments(bytes, split);
            Assert.True(RawRequestHead.TryParse(buffer, out var head, out var end));
            Assert.Equal("video/mp2t", head.ContentType);
            Assert.Equal("enc", head.UserAgent);
            Assert.Equal("/live", head.Path);
            Assert.Equal(bytes.Length - 4, buffer.Slice(0, end).Length);
        }
    }

    [Fact]
    public void TryRead_GrowingTwoSegmentBuffers_ResumesWhereItStopped()
    {
        // The pipe's buffer grows across segments between reads: the reader resumes at the byte it stopped at.
        var bytes = Encoding.Latin1.GetBytes("GET /live.flv HTTP/1.1\r\nUser-Agent: VLC/3.0\r\n\r\n");
        for (var split = 1; split < bytes.Length; split++)
        {
            var reader = default(RequestHeadReader);
            Assert.False(reader.TryRead(new ReadOnlySequence<byte>(bytes, 0, split), out _, out _));
            Assert.Equal(split, reader.Examined);
            Assert.True(reader.TryRead(TestMounts.TwoSegments(bytes, split), out var head, out _));
            Assert.Equal("VLC/3.0", head.UserAgent);
        }
    }
}
