using System.Buffers;
using Savate.Mpegts;
using Savate.Server.Streaming.Ingest;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class TsIngestTests
{
    private static readonly byte[] s_sample = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.ts"));

    private static (HashSet<string> RandomAccess, byte[] ProgramPackets) Reference()
    {
        var demuxer = new TsDemuxer();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(s_sample));
        var randomAccess = new HashSet<string>();
        while (demuxer.TryRead(ref reader, out var packet))
        {
            if (packet.IsRandomAccess)
            {
                randomAccess.Add(Convert.ToHexString(packet.Bytes.ToArray()));
            }
        }
        return (randomAccess, demuxer.ProgramPackets.ToArray());
    }

    [Fact]
    public void Process_Sample_SlicesStartAtRandomAccessPointsWithProgramHeaders()
    {
        using var mount = TestMounts.Create();
        var ingest = new TsIngest(mount);
        ingest.Activate();
        TestMounts.FeedInChunks(ingest, s_sample, chunk: 7 * 188, flushEachRead: true);
        var (randomAccess, programPackets) = Reference();
        var slices = TestMounts.Snapshot(mount.Ring);
        var keyframes = slices.Where(s => s.IsKeyframe).ToList();

        Assert.True(keyframes.Count >= 2, $"{keyframes.Count} join points");
        Assert.All(slices, s => Assert.Equal(0, s.Bytes.Length % 188));
        foreach (var slice in keyframes)
        {
            Assert.Contains(Convert.ToHexString(slice.Bytes, 0, 188), randomAccess);
            var headers = Assert.IsType<TsJoinHeaders>(slice.Headers);
            Assert.Equal(programPackets, Assert.IsType<TsJoinHeaders>(headers.Configuration).ProgramPackets);
            Assert.Equal(0, headers.ProgramPackets.Length % 188);
            Assert.True(headers.ProgramPackets.Length >= 2 * 188);
            Assert.Equal(0, ((headers.ProgramPackets[1] & 0x1F) << 8) | headers.ProgramPackets[2]);
            // The join copy differs from the source's packets only in its continuity counters.
            Assert.Equal(WithoutContinuity(programPackets), WithoutContinuity(headers.BuildJoin(0)));
        }
        var times = keyframes.Select(s => s.StartTime).ToList();
        Assert.Equal(times.Order(), times);
        // The first source keeps its own times (ffmpeg starts TS at 1.4 s).
        Assert.Equal(1400, times[0]);

        // The slices are packed into shared chunks, and the ingest lets go of its own when it ends.
        Assert.True(mount.Pool.TotalRented * 4 < mount.Ring.Head, $"{mount.Pool.TotalRented} chunks for {mount.Ring.Head} slices");
        ingest.Abandon();
        mount.Ring.Dispose();
        Assert.Equal(0, mount.Pool.Outstanding);
        Assert.Equal(0, mount.Pool.OutstandingBytes);
    }

    [Fact]
    public void Process_Sample_JoinAtAnyKeyframeCountsOnWithoutAContinuityJump()
    {
        using var mount = TestMounts.Create();
        var ingest = new TsIngest(mount);
        ingest.Activate();
        TestMounts.FeedInChunks(ingest, s_sample, chunk: 5 * 188, flushEachRead: true);
        var slices = TestMounts.Snapshot(mount.Ring);
        var keyframes = slices.Where(s => s.IsKeyframe).ToList();

        Assert.True(keyframes.Count >= 2, $"{keyframes.Count} join points");
        foreach (var keyframe in keyframes)
        {
            // What a listener joining at this keyframe receives: the join PAT/PMT, then the ring from there.
            var received = keyframe.Headers!.BuildJoin(keyframe.StartTime)
                .Concat(slices.Where(s => s.Sequence >= keyframe.Sequence).SelectMany(s => s.Bytes)).ToArray();

            var report = Functional.ContinuityChecker.Check(received);

            Assert.True(report.PacketsPerPid[0] >= 2, "the source's own PAT follows the join PAT");
            Assert.True(report.Jumps.Count == 0, $"join at {keyframe.Sequence}: " + string.Join("; ", report.Jumps));
        }
        ingest.Abandon();
    }

    private static byte[] WithoutContinuity(byte[] packets)
    {
        var copy = (byte[])packets.Clone();
        for (var offset = 0; offset + 188 <= copy.Length; offset += 188)
        {
            copy[offset + 3] &= 0xF0;
        }
        return copy;
    }

    [Fact]
    public void Process_SampleWholeVsChunks_SameSlices()
    {
        using var whole = TestMounts.Create();
        var a = new TsIngest(whole);
        a.Activate();
        a.Process(new ReadOnlySequence<byte>(s_sample));
        a.Flush();

        using var chunked = TestMounts.Create();
        var b = new TsIngest(chunked);
        b.Activate();
        TestMounts.FeedInChunks(b, s_sample, chunk: 1000, flushEachRead: false);

        var expected = TestMounts.Snapshot(whole.Ring);
        var actual = TestMounts.Snapshot(chunked.Ring);
        Assert.Equal(expected.Count, actual.Count);
        for (var i = 0; i < expected.Count; i++)
        {
            Assert.Equal(expected[i].Bytes, actual[i].Bytes);
            Assert.Equal((expected[i].IsKeyframe, expected[i].StartTime, expected[i].EndTime), (actual[i].IsKeyframe, actual[i].StartTime, actual[i].EndTime));
        }
    }

    [Fact]
    public void Process_SecondSourceSession_TimesContinueAfterFirst()
    {
        using var mount = TestMounts.Create();
        var first = new TsIngest(mount);
        first.Activate();
        first.Process(new ReadOnlySequence<byte>(s_sample));
        first.Flush();
        first.Abandon();
        var lastTime = mount.Timeline.LastTime;
        var firstCount = mount.Ring.Head;

        var second = new TsIngest(mount);

        second.Activate();
        second.Process(new ReadOnlySequence<byte>(s_sample));
        second.Flush();
        second.Abandon();

        var slices = TestMounts.Snapshot(mount.Ring);
        var secondKeyframes = slices.Where(s => s.Sequence >= firstCount && s.IsKeyframe).ToList();
        Assert.NotEmpty(secondKeyframes);
        Assert.Equal(lastTime + MediaTimeline.SpliceGap, secondKeyframes[0].StartTime);
        var times = slices.Where(s => s.IsKeyframe).Select(s => s.StartTime).ToList();
        Assert.Equal(times.Order(), times);
        Assert.Equal(1, mount.Timeline.Discontinuities);
    }
}
