using Savate.Server.Hls;
using Xunit;

namespace Savate.Server.Tests.Hls;

public sealed class HlsPlaylistTests
{
    private static HlsPlaylist Filled(int count, int window = 3, long maxBytes = 1 << 20, Func<int, bool>? discontinuity = null)
    {
        var playlist = new HlsPlaylist("abcd1234", window, maxBytes);
        playlist.FixTargetDuration(2);
        for (var i = 0; i < count; i++)
        {
            playlist.Add(new byte[188], i * 2000, 2000, discontinuity?.Invoke(i) ?? false, startsWithKeyframe: true);
        }
        return playlist;
    }

    [Fact]
    public void RenderMediaPlaylist_SlidingWindow_LastSegmentsWithTheirSequence()
    {
        var text = Filled(5).RenderMediaPlaylist();
        Assert.Equal("""
            #EXTM3U
            #EXT-X-VERSION:3
            #EXT-X-TARGETDURATION:2
            #EXT-X-MEDIA-SEQUENCE:2
            #EXT-X-DISCONTINUITY-SEQUENCE:0
            #EXT-X-INDEPENDENT-SEGMENTS
            #EXT-X-START:TIME-OFFSET=-5.750,PRECISE=YES
            #EXTINF:2.000,
            abcd1234-2.ts
            #EXTINF:2.000,
            abcd1234-3.ts
            #EXTINF:2.000,
            abcd1234-4.ts

            """.ReplaceLineEndings("\n"), text);
    }

    [Fact]
    public void RenderMediaPlaylist_FirstSegment_StartsAQuarterSecondIntoIt()
    {
        // One segment: the start is inside it, past a B-frame keyframe's composition offset (hls.js would otherwise
        // start in the hole before the keyframe's presentation time).
        Assert.Contains("#EXT-X-START:TIME-OFFSET=-1.750,PRECISE=YES\n", Filled(1).RenderMediaPlaylist(), StringComparison.Ordinal);
    }

    [Fact]
    public void Add_PastTwiceTheWindow_SegmentsLeavingThePlaylistStayFetchableThenGo()
    {
        var playlist = Filled(10, window: 3);
        Assert.Null(playlist.Find(3));
        Assert.NotNull(playlist.Find(4)); // left the playlist (7..9), still served
        Assert.NotNull(playlist.Find(9));
        Assert.Null(playlist.Find(10));
        Assert.Equal(10, playlist.NextSequence);
    }

    [Fact]
    public void Add_OverMaxBytes_DropsOldestButKeepsThree()
    {
        var playlist = Filled(6, window: 6, maxBytes: 188);
        Assert.Equal(3, playlist.Count);
        Assert.Equal(3 * 188, playlist.Bytes);
    }

    [Fact]
    public void Snapshot_DiscontinuitiesBeforeTheWindow_CountedInDiscontinuitySequence()
    {
        // Discontinuities at 1, 4 and 7; window 3 over 0..9 lists 7, 8, 9.
        var playlist = Filled(10, window: 3, discontinuity: i => i % 3 == 1);
        var text = playlist.RenderMediaPlaylist()!;
        Assert.Contains("#EXT-X-MEDIA-SEQUENCE:7\n#EXT-X-DISCONTINUITY-SEQUENCE:2\n", text);
        Assert.Contains("#EXT-X-DISCONTINUITY\n#EXTINF:2.000,\nabcd1234-7.ts\n", text);
    }

    [Fact]
    public void FixTargetDuration_SecondCall_KeepsTheFirst()
    {
        var playlist = new HlsPlaylist("abcd1234", 3, 1 << 20);
        Assert.Equal(0, playlist.TargetDuration);
        Assert.Equal(4, playlist.FixTargetDuration(4));
        Assert.Equal(4, playlist.FixTargetDuration(6));
    }

    [Theory]
    [InlineData("abcd1234-0.ts", true, 0)]
    [InlineData("abcd1234-12345.ts", true, 12345)]
    [InlineData("ffff0000-1.ts", false, -1)]
    [InlineData("abcd1234-.ts", false, -1)]
    [InlineData("abcd1234--1.ts", false, -1)]
    [InlineData("abcd1234-1.ts.ts", false, -1)]
    [InlineData("index.m3u8", false, -1)]
    public void TryParseSegmentName_OnlyThisRunsNames(string name, bool ok, long sequence)
    {
        var playlist = new HlsPlaylist("abcd1234", 3, 1 << 20);
        Assert.Equal(ok, playlist.TryParseSegmentName(name, out var parsed));
        Assert.Equal(sequence, parsed);
    }

    [Theory]
    [InlineData("bytes=0-99", 1000, true, 0, 100)]
    [InlineData("bytes=900-", 1000, true, 900, 100)]
    [InlineData("bytes=-100", 1000, true, 900, 100)]
    [InlineData("bytes=-5000", 1000, true, 0, 1000)]
    [InlineData("bytes=990-5000", 1000, true, 990, 10)]
    [InlineData("bytes=1000-", 1000, false, 0, 0)]
    [InlineData("bytes=5-4", 1000, false, 0, 0)]
    [InlineData("bytes=0-1,5-6", 1000, false, 0, 0)]
    [InlineData("items=0-1", 1000, false, 0, 0)]
    [InlineData("bytes=-0", 1000, false, 0, 0)]
    public void TryParseRange_SingleRanges(string header, int size, bool ok, int offset, int length)
    {
        Assert.Equal(ok, HlsEndpoints.TryParseRange(header, size, out var o, out var l));
        if (ok)
        {
            Assert.Equal((offset, length), (o, l));
        }
    }
}
