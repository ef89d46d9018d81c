using System.Buffers;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Flv;
using Savate.Mpegts;
using Savate.Mpegts.Muxing;
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

    /// <summary>
    /// Like <see cref="Media"/>, with B-frame style composition times (keyframes at <paramref name="cts"/>) and
    /// audio interleaved <paramref name="audioLag"/> ms late: after a keyframe come audio frames from before it.
    /// </summary>
    private static IEnumerable<byte[]> LateAudioMedia(long from, long to, long gop, int cts, long audioLag)
    {
        var audio = from;
        for (var t = from; t < to; t += 40)
        {
            var keyframe = (t - from) % gop == 0;
            yield return Tag(FlvTagType.Video, t, [keyframe ? (byte)0x17 : (byte)0x27, 1, (byte)(cts >> 16), (byte)(cts >> 8), (byte)cts, 0, 0, 0, 2, keyframe ? (byte)0x65 : (byte)0x41, 0x88]);
            for (; audio < t + 40 - audioLag; audio += 23)
            {
                yield return Audio(audio);
            }
        }
    }

    private static (HlsSegmenter Segmenter, HlsPlaylist Playlist) Create(double segmentSeconds = 2, MountFormat format = MountFormat.Flv)
    {
        var playlist = new HlsPlaylist("testrun1", window: 100, maxBytes: 1 << 30);
        var config = new HlsConfig { SegmentDuration = TimeSpan.FromSeconds(segmentSeconds) };
        return (new HlsSegmenter(playlist, format, config, NullLogger.Instance, "/test", startWithDiscontinuity: false), playlist);
    }

    private const int AacFrameTicks = 1920; // 1024 samples at 48 kHz, in 90 kHz ticks
    private static readonly AudioConfig s_aac = new(2, 3, 2); // LC, 48 kHz, stereo

    /// <summary>
    /// A TS stream as ffmpeg's muxer writes one: video every 40 ms (keyframes every <paramref name="gop"/> ms,
    /// random access indicator), AAC frames of 1024 samples at 48 kHz packed <paramref name="framesPerPes"/> to a PES, each
    /// PES written once the video has passed its end by <paramref name="audioLag"/> ms (so a PES spanning a keyframe comes after it).
    /// </summary>
    private static byte[] TsMedia(long from, long to, long gop, int framesPerPes, long audioLag, bool withAudio = true)
    {
        var muxer = new TsMuxer();
        muxer.SetStreams(TsVideoCodec.H264, hasAudio: true);
        var output = new ArrayBufferWriter<byte>();
        muxer.WriteProgramTables(output);
        var audio = from * 90;
        var adts = new byte[framesPerPes * 20];
        for (var i = 0; i < framesPerPes; i++)
        {
            s_aac.WriteAdtsHeader(adts.AsSpan(i * 20), 13);
        }
        for (var t = from; t < to; t += 40)
        {
            var keyframe = (t - from) % gop == 0;
            byte[] frame = [0, 0, 0, 1, 0x09, 0xF0, 0, 0, 0, 1, keyframe ? (byte)0x65 : (byte)0x41, 0x88, 0x84, 0x00];
            muxer.WriteVideo(output, new ReadOnlySequence<byte>(frame), t * 90, t * 90, keyframe);
            for (; withAudio && audio + (framesPerPes * AacFrameTicks) <= (t - audioLag) * 90; audio += framesPerPes * AacFrameTicks)
            {
                muxer.WriteAudio(output, new ReadOnlySequence<byte>(adts), audio);
            }
        }
        return output.WrittenSpan.ToArray();
    }

    private static IEnumerable<byte[]> Chunks(byte[] data, int size)
    {
        for (var offset = 0; offset < data.Length; offset += size)
        {
            yield return data[offset..Math.Min(data.Length, offset + size)];
        }
    }

    /// <summary>A segment's first video PTS and its audio, as (PTS, end PTS) per PES, with the continuity counters checked per PID.</summary>
    private static (long Video, List<(long Pts, long End)> Audio) ReadAv(HlsSegment segment, long audioFrameTicks)
    {
        var demuxer = new TsDemuxer();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(segment.Data));
        var video = -1L;
        var pes = new List<List<byte[]>>();
        var counters = new Dictionary<int, int>();
        while (demuxer.TryRead(ref reader, out var packet))
        {
            var bytes = packet.Bytes.ToArray();
            if (packet.Header.HasPayload)
            {
                if (counters.TryGetValue(packet.Header.Pid, out var last))
                {
                    Assert.True(((last + 1) & 0x0F) == packet.Header.ContinuityCounter, $"segment {segment.Sequence}: counter jump on PID {packet.Header.Pid}");
                }
                counters[packet.Header.Pid] = packet.Header.ContinuityCounter;
            }
            if (packet.Kind == TsPacketKind.Video && packet.Pts >= 0 && video < 0)
            {
                video = packet.Pts;
            }
            else if (packet.Kind == TsPacketKind.Audio)
            {
                if (packet.Pts >= 0)
                {
                    pes.Add([]);
                }
                Assert.NotEmpty(pes); // no audio continuation without its start
                pes[^1].Add(bytes);
            }
        }
        var audio = new List<(long, long)>();
        foreach (var packets in pes)
        {
            var es = new ArrayBufferWriter<byte>();
            Assert.True(AdtsPes.TryReadPes(packets.SelectMany(p => p).ToArray(), es, out var pts, out _));
            Assert.True(AdtsPes.TryFindSplit(es.WrittenSpan, pts, long.MaxValue, out _, out var end));
            audio.Add((pts, end));
            Assert.True(end - pts >= audioFrameTicks - 90);
        }
        return (video, audio);
    }

    /// <summary>
    /// What hls.js needs to start with no hole: each segment's audio starts within one audio frame at or after its first
    /// video PTS, and the audio runs on from one segment to the next without a gap or an overlap.
    /// </summary>
    private static void AssertAudioStartsWithVideo(HlsSegment[] segments, long audioFrameTicks)
    {
        Assert.NotEmpty(segments);
        (long Video, List<(long Pts, long End)> Audio)? previous = null;
        foreach (var segment in segments)
        {
            var av = ReadAv(segment, audioFrameTicks);
            Assert.NotEmpty(av.Audio);
            var offset = av.Audio[0].Pts - av.Video;
            Assert.True(offset >= 0 && offset < audioFrameTicks, $"segment {segment.Sequence}: audio starts {offset / 90.0:0.0} ms after its video");
            for (var i = 1; i < av.Audio.Count; i++)
            {
                Assert.InRange(av.Audio[i].Pts - av.Audio[i - 1].End, -90, 90);
            }
            if (previous is { } p)
            {
                Assert.InRange(av.Audio[0].Pts - p.Audio[^1].End, -90, 90);
                Assert.True(p.Audio[^1].Pts < av.Video, $"segment {segment.Sequence - 1} holds audio of the next one");
            }
            previous = av;
        }
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

    [Theory]
    [InlineData(0, 0)]
    [InlineData(80, 0)]
    [InlineData(80, 100)]
    [InlineData(0, 300)]
    public async Task WriteAsync_FlvAudioAroundKeyframes_EachSegmentStartsItsAudioWithItsVideo(int cts, long audioLag)
    {
        var (segmenter, playlist) = Create();
        await FeedAsync(segmenter, [.. Join(), .. LateAudioMedia(0, 9000, gop: 1000, cts, audioLag)]);

        var segments = Segments(playlist);
        Assert.Equal(4, segments.Length);
        Assert.All(segments, AssertStartsWithTablesAndKeyframe);
        AssertAudioStartsWithVideo(segments, 23 * 90);
        // Only audio from before the first keyframe's PTS is dropped.
        Assert.Equal((long)Math.Ceiling(cts / 23.0), segmenter.AudioDropped);
    }

    [Theory]
    [InlineData(1, 0)]
    [InlineData(8, 0)]
    [InlineData(8, 200)]
    [InlineData(16, 350)]
    public async Task WriteAsync_TsAudioPesAcrossKeyframes_RoutedAndSplitByPts(int framesPerPes, long audioLag)
    {
        var (segmenter, playlist) = Create(format: MountFormat.Mpegts);
        await FeedAsync(segmenter, Chunks(TsMedia(10000, 19000, gop: 1000, framesPerPes, audioLag), 188 * 7));

        var segments = Segments(playlist);
        Assert.Equal(4, segments.Length);
        Assert.Equal([10000L, 12000, 14000, 16000], segments.Select(s => s.StartTime));
        Assert.All(segments, AssertStartsWithTablesAndKeyframe);
        AssertAudioStartsWithVideo(segments, AacFrameTicks);
    }

    [Fact]
    public async Task WriteAsync_TsProgramWithAudioThatNeverComes_SegmentsPublishedAfterTheHoldBound()
    {
        var (segmenter, playlist) = Create(format: MountFormat.Mpegts);
        var stream = TsMedia(0, 10000, gop: 1000, framesPerPes: 8, audioLag: 0, withAudio: false);
        await FeedAsync(segmenter, Chunks(stream, 188 * 7));

        // Cut at 8 s; the segment before it waits for audio up to 1 s of video, then goes out without it.
        Assert.Equal([0L, 2000, 4000, 6000], Segments(playlist).Select(s => s.StartTime));
    }

    [Fact]
    public async Task WriteAsync_FlvAudioStopsAfterAWhile_SegmentsKeepComing()
    {
        var (segmenter, playlist) = Create();
        await FeedAsync(segmenter, [.. Join(), .. Media(0, 4000, gop: 1000), .. LateAudioMedia(4000, 10000, 1000, cts: 0, audioLag: 100000)]);

        Assert.Equal([0L, 2000, 4000, 6000], Segments(playlist).Select(s => s.StartTime));
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
