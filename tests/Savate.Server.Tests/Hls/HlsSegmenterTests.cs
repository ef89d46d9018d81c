using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Flv;
using Savate.Mpegts;
using Savate.Server.Configuration;
using Savate.Server.Hls;
using Xunit;

namespace Savate.Server.Tests.Hls;

/// <summary>The cutter on its own: FLV bytes in (as a listener would get them), segments out. No clock, no I/O.</summary>
public sealed class HlsSegmenterTests
{
    // The sample's real avcC and ASC, so the remuxer has a valid configuration.
    private static readonly (byte[] Avc, byte[] Aac) s_config = ReadSampleConfig();

    private static (byte[] Avc, byte[] Aac) ReadSampleConfig()
    {
        var flv = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv"));
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(flv));
        var flvReader = new FlvReader(null);
        byte[]? avc = null, aac = null;
        while ((avc is null || aac is null) && flvReader.TryReadTag(ref reader, out var tag))
        {
            if (tag.Kind == FlvPacketKind.SequenceHeader)
            {
                if (tag.Type == FlvTagType.Video)
                {
                    avc = tag.Data.ToArray();
                }
                else
                {
                    aac = tag.Data.ToArray();
                }
            }
        }
        return (avc!, aac!);
    }

    /// <summary>The same configuration with another level byte in the record and the SPS: other bytes, still valid.</summary>
    private static byte[] OtherAvcConfig()
    {
        var data = (byte[])s_config.Avc.Clone();
        data[5 + 3] ^= 0x01; // AVCLevelIndication
        data[5 + 8 + 3] ^= 0x01; // level_idc in the SPS
        return data;
    }

    private static byte[] Tag(FlvTagType type, long time, byte[] data) => FlvTags.Build(type, (uint)time, data);

    private static byte[] Frame(long time, bool keyframe) =>
        Tag(FlvTagType.Video, time, keyframe ? [0x17, 1, 0, 0, 0, 0, 0, 0, 2, 0x65, 0x88] : [0x27, 1, 0, 0, 0, 0, 0, 0, 2, 0x41, 0x9A]);

    private static byte[] Audio(long time) => Tag(FlvTagType.Audio, time, [0xAF, 1, 0x21, 0x10, 0x04]);

    /// <summary>Video every 40 ms (keyframes every <paramref name="gop"/> ms) and audio every 23 ms, from <paramref name="from"/> to <paramref name="to"/>.</summary>
    private static IEnumerable<byte[]> Media(long from, long to, long gop)
    {
        var audio = from;
        for (var t = from; t < to; t += 40)
        {
            yield return Frame(t, (t - from) % gop == 0);
            for (; audio < t + 40; audio += 23)
            {
                yield return Audio(audio);
            }
        }
    }

    private static (HlsSegmenter Segmenter, HlsPlaylist Playlist) Create(double segmentSeconds = 2)
    {
        var playlist = new HlsPlaylist("testrun1", window: 100, maxBytes: 1 << 30);
        var config = new HlsConfig { SegmentDuration = TimeSpan.FromSeconds(segmentSeconds) };
        return (new HlsSegmenter(playlist, MountFormat.Flv, config, NullLogger.Instance, "/test.flv", startWithDiscontinuity: false), playlist);
    }

    private static async Task FeedAsync(HlsSegmenter segmenter, IEnumerable<byte[]> parts)
    {
        foreach (var part in parts)
        {
            Assert.True(await segmenter.WriteAsync(new ReadOnlyMemory<byte>[] { part }, CancellationToken.None));
        }
    }

    private static IEnumerable<byte[]> Join() =>
        [FlvHeader.ToArray(true, true), Tag(FlvTagType.Video, 0, s_config.Avc), Tag(FlvTagType.Audio, 0, s_config.Aac)];

    private static HlsSegment[] Segments(HlsPlaylist playlist) => playlist.Snapshot().Segments;

    private static void AssertStartsWithTablesAndKeyframe(HlsSegment segment)
    {
        var demuxer = new TsDemuxer();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(segment.Data));
        var kinds = new List<(TsPacketKind Kind, bool RandomAccess)>();
        while (kinds.Count < 3 && demuxer.TryRead(ref reader, out var packet))
        {
            kinds.Add((packet.Kind, packet.IsRandomAccess));
        }
        Assert.Equal([(TsPacketKind.Pat, false), (TsPacketKind.Pmt, false), (TsPacketKind.Video, true)], kinds);
    }

    [Fact]
    public async Task WriteAsync_OneSecondGops_TwoSecondSegmentsOnKeyframes()
    {
        var (segmenter, playlist) = Create();
        await FeedAsync(segmenter, [.. Join(), .. Media(0, 9000, gop: 1000)]);

        var segments = Segments(playlist);
        Assert.Equal([0, 1, 2, 3], segments.Select(s => s.Sequence));
        Assert.All(segments, s => Assert.Equal(2000, s.DurationMilliseconds));
        Assert.Equal([0L, 2000, 4000, 6000], segments.Select(s => s.StartTime));
        Assert.All(segments, s => Assert.False(s.Discontinuity));
        Assert.All(segments, AssertStartsWithTablesAndKeyframe);
        Assert.Equal(2, playlist.TargetDuration);
        Assert.Equal(new HlsCodecs("avc1.4d401e", "mp4a.40.2", 640, 360), playlist.Codecs);
    }

    [Fact]
    public async Task WriteAsync_GopLongerThanSegmentDuration_TargetRoundedUpToGop()
    {
        var (segmenter, playlist) = Create();
        await FeedAsync(segmenter, [.. Join(), .. Media(0, 13000, gop: 3000)]);

        var segments = Segments(playlist);
        Assert.Equal(4, segments.Length);
        Assert.All(segments, s => Assert.Equal(3000, s.DurationMilliseconds));
        Assert.Equal(3, playlist.TargetDuration);
    }

    [Fact]
    public async Task WriteAsync_NewSequenceHeader_CutsAtItsKeyframeWithDiscontinuity()
    {
        var (segmenter, playlist) = Create();
        await FeedAsync(segmenter, [.. Join(), .. Media(0, 3000, gop: 1000), Tag(FlvTagType.Video, 3000, OtherAvcConfig()), .. Media(3000, 8000, gop: 1000)]);

        var segments = Segments(playlist);
        Assert.Equal([2000L, 1000, 2000, 2000], segments.Select(s => s.DurationMilliseconds));
        Assert.Equal([false, false, true, false], segments.Select(s => s.Discontinuity));
        Assert.Equal(3000, segments[2].StartTime);
        Assert.All(segments, AssertStartsWithTablesAndKeyframe);
    }

    [Fact]
    public async Task WriteAsync_SameSequenceHeaderAgain_NoCutNoDiscontinuity()
    {
        var (segmenter, playlist) = Create();
        // What a fallback switch to a source with the same configuration sends: the same sequence headers again.
        await FeedAsync(segmenter, [.. Join(), .. Media(0, 3000, gop: 1000), Tag(FlvTagType.Video, 3000, s_config.Avc), Tag(FlvTagType.Audio, 3000, s_config.Aac), .. Media(3000, 7000, gop: 1000)]);

        var segments = Segments(playlist);
        Assert.Equal([2000L, 2000, 2000], segments.Select(s => s.DurationMilliseconds));
        Assert.All(segments, s => Assert.False(s.Discontinuity));
    }

    [Fact]
    public async Task WriteAsync_GopGrowsPastTarget_ExtinfStillRoundsWithinTarget()
    {
        var (segmenter, playlist) = Create();
        // 1 s GOPs fix the target at 2 s; then a source with 5 s GOPs.
        await FeedAsync(segmenter, [.. Join(), .. Media(0, 4000, gop: 1000), .. Media(4000, 20000, gop: 5000)]);

        var segments = Segments(playlist);
        Assert.Equal(2, playlist.TargetDuration);
        Assert.All(segments, s => Assert.True(Math.Round(s.DurationMilliseconds / 1000.0, MidpointRounding.AwayFromZero) <= 2, $"segment {s.Sequence}: {s.DurationMilliseconds} ms"));
        // Each keyframe starts a segment again after a forced cut.
        Assert.Contains(segments, s => s.StartTime == 9000 && s.StartsWithKeyframe);
        Assert.Contains(segments, s => !s.StartsWithKeyframe);
    }

    [Fact]
    public async Task WriteAsync_AfterAbort_ReturnsFalse()
    {
        var (segmenter, _) = Create();
        await FeedAsync(segmenter, Join());
        segmenter.Abort();
        Assert.False(await segmenter.WriteAsync(new ReadOnlyMemory<byte>[] { Frame(0, true) }, CancellationToken.None));
    }
}
