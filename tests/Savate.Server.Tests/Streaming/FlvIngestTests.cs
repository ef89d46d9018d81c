using System.Buffers;
using Savate.Flv;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class FlvIngestTests
{
    private static List<SliceCopy> IngestWhole(byte[] data)
    {
        using var mount = TestMounts.Create();
        var ingest = new FlvIngest(mount);
        ingest.Activate();
        var consumed = ingest.Process(new ReadOnlySequence<byte>(data));
        Assert.Equal(data.Length, new ReadOnlySequence<byte>(data).Slice(0, consumed).Length);
        ingest.Flush();
        return TestMounts.Snapshot(mount.Ring);
    }

    private static void AssertSameSlices(List<SliceCopy> expected, List<SliceCopy> actual, string context)
    {
        Assert.True(expected.Count == actual.Count, $"{context}: {actual.Count} slices, expected {expected.Count}");
        for (var i = 0; i < expected.Count; i++)
        {
            var (e, a) = (expected[i], actual[i]);
            Assert.True(e.Bytes.AsSpan().SequenceEqual(a.Bytes), $"{context}: bytes of slice {i} differ");
            Assert.True(e.IsKeyframe == a.IsKeyframe && e.StartTime == a.StartTime && e.EndTime == a.EndTime,
                $"{context}: slice {i} is ({a.IsKeyframe}, {a.StartTime}-{a.EndTime}), expected ({e.IsKeyframe}, {e.StartTime}-{e.EndTime})");
            Assert.Equal(e.Headers?.BuildJoin(0), a.Headers?.BuildJoin(0));
        }
    }

    [Fact]
    public void Process_ByteByByte_SameSlicesAsWhole()
    {
        var data = FlvSynth.Stream(gops: 4);
        var expected = IngestWhole(data);
        Assert.Equal(4, expected.Count(s => s.IsKeyframe));

        using var mount = TestMounts.Create();
        var ingest = new FlvIngest(mount);
        ingest.Activate();
        TestMounts.FeedInChunks(ingest, data, chunk: 1, flushEachRead: false);

        AssertSameSlices(expected, TestMounts.Snapshot(mount.Ring), "byte by byte");
    }

    [Fact]
    public void Process_EverySplitOfTwoSegments_SameSlicesAsWhole()
    {
        var data = FlvSynth.Stream(gops: 2, framesPerGop: 3);
        var expected = IngestWhole(data);
        for (var split = 0; split <= data.Length; split++)
        {
            using var mount = TestMounts.Create();
            var ingest = new FlvIngest(mount);
            ingest.Activate();
            var sequence = TestMounts.TwoSegments(data, split);
            var consumed = ingest.Process(sequence);
            Assert.Equal(data.Length, sequence.Slice(0, consumed).Length);
            ingest.Flush();
            AssertSameSlices(expected, TestMounts.Snapshot(mount.Ring), $"split at {split}");
        }
    }

    [Fact]
    public void Process_SampleFileInReadSizedChunksWithFlushes_SameBytesAndJoinPoints()
    {
        var data = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv"));
        var expected = IngestWhole(data);

        using var mount = TestMounts.Create(config: new() { Path = "/live", BufferBytes = 1L << 30, Buffer = TimeSpan.FromHours(1) });
        var ingest = new FlvIngest(mount);
        ingest.Activate();
        TestMounts.FeedInChunks(ingest, data, chunk: 4096, flushEachRead: true);
        var actual = TestMounts.Snapshot(mount.Ring);

        // Flushing per read cuts more slices, but the byte stream and where keyframe slices start are the same.
        Assert.Equal(expected.SelectMany(s => s.Bytes), actual.SelectMany(s => s.Bytes));
        Assert.Equal(KeyframeOffsets(expected), KeyframeOffsets(actual));
        Assert.True(expected.Count(s => s.IsKeyframe) >= 2);

        // The slices are packed into shared chunks, and the ingest lets go of its own when it ends.
        Assert.True(mount.Pool.TotalRented * 4 < mount.Ring.Head, $"{mount.Pool.TotalRented} chunks for {mount.Ring.Head} slices");
        ingest.Abandon();
        mount.Ring.Dispose();
        Assert.Equal(0, mount.Pool.Outstanding);
        Assert.Equal(0, mount.Pool.OutstandingBytes);
    }

    private static List<(long Offset, long Time)> KeyframeOffsets(List<SliceCopy> slices)
    {
        var result = new List<(long, long)>();
        long offset = 0;
        foreach (var slice in slices)
        {
            if (slice.IsKeyframe)
            {
                result.Add((offset, slice.StartTime));
            }
            offset += slice.Bytes.Length;
        }
        return result;
    }

    [Fact]
    public void Process_Stream_KeyframesStartSlicesAndOnlyThere()
    {
        var slices = IngestWhole(FlvSynth.Stream(gops: 3));
        foreach (var slice in slices)
        {
            var tags = FlvSynth.Tags(slice.Bytes);
            Assert.Equal(slice.IsKeyframe, FlvSynth.IsVideoKeyframe(tags[0]));
            Assert.DoesNotContain(tags.Skip(1), FlvSynth.IsVideoKeyframe);
            if (slice.IsKeyframe)
            {
                Assert.Equal(slice.StartTime, tags[0].Header.Timestamp);
            }
        }
    }

    [Fact]
    public void Process_SampleFile_KeyframeSlicesStartOnKeyframeTag()
    {
        var slices = IngestWhole(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv")));
        var keyframes = slices.Where(s => s.IsKeyframe).ToList();
        Assert.NotEmpty(keyframes);
        foreach (var slice in keyframes)
        {
            var first = FlvSynth.Tags(slice.Bytes)[0];
            Assert.Equal(FlvTagType.Video, first.Header.TagType);
            Assert.Equal(0x10, first.Bytes[FlvTagHeader.Size] & 0xF0);
            Assert.IsType<FlvJoinHeaders>(slice.Headers);
        }
    }

    [Fact]
    public void Process_Stream_JoinHeadersHoldFileHeaderMetadataAndConfigs()
    {
        var metadata = FlvSynth.Metadata();
        var avc = FlvSynth.AvcConfig(0);
        var aac = FlvSynth.AacConfig(0);
        var slices = IngestWhole(FlvSynth.Stream(gops: 2));
        var headers = Assert.IsType<FlvJoinHeaders>(slices.First(s => s.IsKeyframe).Headers);

        var join = headers.BuildJoin(0);
        Assert.Equal(FlvSynth.Concat(FlvSynth.Header(), metadata, avc, aac), join);
        Assert.Equal(FlvSynth.Concat(metadata, avc, aac), headers.BuildUpdate(0));
        Assert.Equal(["h264", "aac"], headers.Codecs);
        // Sequence headers stamped at the join time; onMetaData at 0, as at the start of a file (players
        // built on libavformat take script data at any other time for a data stream).
        var stamped = FlvSynth.Tags(headers.BuildJoin(1234));
        Assert.Equal([0u, 1234u, 1234u], stamped.Select(t => t.Header.Timestamp));
        Assert.Equal(Savate.Flv.FlvTagType.Script, stamped[0].Header.TagType);
        Assert.Equal([0u, 1234u, 1234u], FlvSynth.Tags(headers.BuildUpdate(1234)).Select(t => t.Header.Timestamp));
    }

    [Fact]
    public void Process_NewSequenceHeaderMidStream_NextKeyframeCarriesIt()
    {
        var first = FlvSynth.AvcConfig(0, variant: 1);
        var second = FlvSynth.AvcConfig(200, variant: 2);
        var data = FlvSynth.Concat(
            FlvSynth.Header(), FlvSynth.Metadata(), first, FlvSynth.AacConfig(0),
            FlvSynth.Keyframe(0), FlvSynth.Inter(40), FlvSynth.Aac(45), FlvSynth.Inter(80),
            second,
            FlvSynth.Inter(160), FlvSynth.Keyframe(200), FlvSynth.Inter(240),
            FlvSynth.Keyframe(400));
        var slices = IngestWhole(data).Where(s => s.IsKeyframe).ToList();

        Assert.Equal(3, slices.Count);
        Assert.Equal(first, ((FlvJoinHeaders)slices[0].Headers!).VideoConfig);
        Assert.Equal(second, ((FlvJoinHeaders)slices[1].Headers!).VideoConfig);
        Assert.Equal(second, ((FlvJoinHeaders)slices[2].Headers!).VideoConfig);
        Assert.NotNull(((FlvJoinHeaders)slices[1].Headers!).AudioConfig);
        Assert.NotNull(((FlvJoinHeaders)slices[1].Headers!).Metadata);
    }

    [Fact]
    public void Process_MediaBeforeFirstKeyframe_Dropped()
    {
        var data = FlvSynth.Concat(
            FlvSynth.Header(), FlvSynth.AvcConfig(0), FlvSynth.AacConfig(0),
            FlvSynth.Inter(0, fill: 0x51), FlvSynth.Aac(5, fill: 0x52), FlvSynth.Inter(40, fill: 0x53), FlvSynth.Aac(45, fill: 0x54),
            FlvSynth.Keyframe(80), FlvSynth.Aac(85), FlvSynth.Inter(120));
        var slices = IngestWhole(data);
        var tags = slices.SelectMany(s => FlvSynth.Tags(s.Bytes)).ToList();

        // Only configuration precedes the first keyframe; no frame from before it is sent.
        var firstKeyframe = tags.FindIndex(FlvSynth.IsVideoKeyframe);
        Assert.True(firstKeyframe >= 0);
        Assert.All(tags.Take(firstKeyframe), t => Assert.Equal(0x00, t.Bytes[FlvTagHeader.Size + 1]));
        Assert.DoesNotContain(tags, t => t.Bytes.AsSpan(FlvTagHeader.Size + 2).ContainsAny((byte)0x51, (byte)0x52, (byte)0x53));
        Assert.DoesNotContain(tags, t => t.Bytes.AsSpan(FlvTagHeader.Size + 2).Contains((byte)0x54));
        Assert.Equal(3, tags.Count - firstKeyframe);
        Assert.Equal(1, slices.Count(s => s.IsKeyframe));
    }

    [Fact]
    public void Process_AudioOnlyHeader_JoinPointsOnAudio()
    {
        var parts = new List<byte[]> { FlvSynth.Header(audio: true, video: false), FlvSynth.AacConfig(0) };
        for (uint t = 0; t < 2000; t += 20)
        {
            parts.Add(FlvSynth.Aac(t));
        }
        var slices = IngestWhole(FlvSynth.Concat([.. parts]));
        var keyframes = slices.Where(s => s.IsKeyframe).ToList();

        Assert.Equal([0L, 500L, 1000L, 1500L], keyframes.Select(s => s.StartTime));
        foreach (var slice in keyframes)
        {
            var first = FlvSynth.Tags(slice.Bytes)[0];
            Assert.Equal(FlvTagType.Audio, first.Header.TagType);
            var headers = Assert.IsType<FlvJoinHeaders>(slice.Headers);
            Assert.Null(headers.VideoConfig);
            Assert.NotNull(headers.AudioConfig);
            Assert.Equal(FlvSynth.Header(audio: true, video: false), headers.FileHeader);
        }
    }

    [Fact]
    public void Process_SecondSourceSession_TimestampsContinueMonotonicPerTrack()
    {
        using var mount = TestMounts.Create();
        var first = new FlvIngest(mount);
        first.Activate();
        first.Process(new ReadOnlySequence<byte>(FlvSynth.Stream(gops: 2)));
        first.Flush();
        first.Abandon();
        var lastTime = mount.Timeline.LastTime;
        Assert.Equal(2 * 5 * 40 - 40 + 5, lastTime);

        // The next encoder starts again from 0 (and even with a large offset the result is the same).
        var second = new FlvIngest(mount);
        second.Activate();
        second.Process(new ReadOnlySequence<byte>(FlvSynth.Stream(gops: 2, start: 50_000)));
        second.Flush();
        second.Abandon();

        var slices = TestMounts.Snapshot(mount.Ring);
        var secondStart = slices.Where(s => s.IsKeyframe).Select(s => s.StartTime).ElementAt(2);
        Assert.Equal(lastTime + MediaTimeline.SpliceGap, secondStart);
        Assert.Equal(1, mount.Timeline.Discontinuities);
        var tags = slices.SelectMany(s => FlvSynth.Tags(s.Bytes)).ToList();
        foreach (var type in new[] { FlvTagType.Video, FlvTagType.Audio })
        {
            var times = tags.Where(t => t.Header.TagType == type).Select(t => (long)t.Header.Timestamp).ToList();
            Assert.Equal(times.Order(), times);
        }
        // Abandoned ingests hold no chunk: the slices in the ring hold what is left, and let go of it with the ring.
        Assert.InRange(mount.Pool.Outstanding, 1, mount.Ring.Count);
        mount.Ring.Dispose();
        Assert.Equal(0, mount.Pool.Outstanding);
        Assert.Equal(0, mount.Pool.OutstandingBytes);
    }
}
