using Savate.TestSupport;
using System.Buffers;
using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests;

/// <summary>Real files written by ffmpeg (see Fixtures/README.md): 3 s, 25 fps, one keyframe every 25 frames.</summary>
public class TsDemuxerFixtureTests
{
    private const int Keyframes = 3;

    [Theory]
    [InlineData("h264_aac.ts", "h264", 0x1B)]
    [InlineData("hevc_aac.ts", "hevc", 0x24)]
    public void TryRead_VideoFixture_FindsProgramAndKeyframes(string fixture, string videoCodec, byte streamType)
    {
        var data = Demux.Fixture(fixture);
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(data, demuxer);

        Assert.Equal(data.Length / 188, packets.Count);
        Assert.Equal(0, demuxer.SkippedBytes);
        var program = Assert.IsType<TsProgramInfo>(demuxer.Program);
        Assert.True(program.HasVideo);
        Assert.Collection(
            program.Streams,
            video => Assert.Equal((TsPacketKind.Video, videoCodec, streamType), (video.Kind, video.Codec, video.StreamType)),
            audio => Assert.Equal((TsPacketKind.Audio, "aac", (byte)0x0F), (audio.Kind, audio.Codec, audio.StreamType)));
        var videoPid = program.Streams[0].Pid;
        Assert.Equal(videoPid, program.PcrPid);

        // ffmpeg sets random_access_indicator on keyframes; one join point per GOP, the first at the first video packet.
        var video = packets.Where(p => p.Pid == videoPid).ToList();
        Assert.Equal(Keyframes, video.Count(p => p.IsRandomAccess));
        Assert.True(video[0].IsRandomAccess);
        Assert.All(packets.Where(p => p.Pid != videoPid), p => Assert.False(p.IsRandomAccess));

        // PAT and PMT are repeated; only the first of each is a change.
        Assert.Equal(2, packets.Count(p => p.ProgramChanged));
        Assert.Equal(TsPacketKind.Pat, packets.First(p => p.ProgramChanged).Kind);
        Assert.Equal(TsPacketKind.Pmt, packets.Last(p => p.ProgramChanged).Kind);
        Assert.Equal(376, demuxer.ProgramPackets.Length);
        Assert.Equal(packets.First(p => p.Kind == TsPacketKind.Pat).Hex, Convert.ToHexString(demuxer.ProgramPackets.Span[..188]));
        Assert.Equal(packets.First(p => p.Kind == TsPacketKind.Pmt).Hex, Convert.ToHexString(demuxer.ProgramPackets.Span[188..]));
    }

    [Theory]
    [InlineData("h264_aac.ts")]
    [InlineData("hevc_aac.ts")]
    public void TryRead_VideoFixture_TimestampsAreConsistent(string fixture)
    {
        var demuxer = new TsDemuxer();
        var packets = Demux.ReadAll(Demux.Fixture(fixture), demuxer);
        var videoPid = demuxer.Program!.Streams[0].Pid;

        var starts = packets.Where(p => p.Pid == videoPid && p.Pts >= 0).ToList();
        Assert.Equal(75, starts.Count);

        // With B-frames PTS is out of order, but decode order (DTS, else PTS) strictly increases...
        var decode = starts.Select(p => p.Dts >= 0 ? p.Dts : p.Pts).ToList();
        Assert.True(decode.Zip(decode.Skip(1)).All(pair => pair.First < pair.Second), "DTS must increase");
        Assert.Contains(starts, p => p.Dts >= 0);

        // ...and the presentation times are the 25 fps grid (3600 ticks at 90 kHz).
        var pts = starts.Select(p => p.Pts).Order().ToList();
        Assert.All(pts.Zip(pts.Skip(1)), pair => Assert.Equal(3600, pair.Second - pair.First));
        Assert.All(packets.Where(p => p.Pts < 0), p => Assert.Equal(-1, p.Dts));
    }

    [Fact]
    public void TryRead_H264WithoutRandomAccessIndicator_NalScanFindsTheIdrs()
    {
        var data = Demux.Fixture("h264_aac.ts");
        var cleared = 0;
        for (var offset = 0; offset < data.Length; offset += 188)
        {
            var header = TsPacketHeader.Parse(data.AsSpan(offset, 188));
            if (header.RandomAccessIndicator)
            {
                data[offset + 5] &= 0xBF;
                cleared++;
            }
        }

        // ffmpeg flags audio PES starts too (every AAC frame is a keyframe).
        Assert.True(cleared > Keyframes);
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(data, demuxer);

        var videoPid = demuxer.Program!.Streams[0].Pid;
        Assert.All(packets, p => Assert.Equal(p.Pid == videoPid && TsPacketHeader.Parse(Convert.FromHexString(p.Hex)).PayloadUnitStart && p.IsRandomAccess, p.IsRandomAccess));
        Assert.Equal(Keyframes, packets.Count(p => p.IsRandomAccess));
    }

    [Fact]
    public void TryRead_HevcWithoutRandomAccessIndicator_NalScanFindsTheIraps()
    {
        var data = Demux.Fixture("hevc_aac.ts");
        for (var offset = 0; offset < data.Length; offset += 188)
        {
            if (TsPacketHeader.Parse(data.AsSpan(offset, 188)).RandomAccessIndicator)
            {
                data[offset + 5] &= 0xBF;
            }
        }

        var packets = Demux.ReadAll(data);

        Assert.Equal(Keyframes, packets.Count(p => p.IsRandomAccess));
    }

    [Fact]
    public void TryRead_AudioOnlyFixture_EveryAudioPesStartIsAJoinPoint()
    {
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(Demux.Fixture("aac_only.ts"), demuxer);

        var program = demuxer.Program!;
        Assert.False(program.HasVideo);
        var audio = Assert.Single(program.Streams);
        Assert.Equal("aac", audio.Codec);
        var audioPackets = packets.Where(p => p.Pid == audio.Pid).ToList();
        Assert.All(audioPackets, p => Assert.Equal(p.Pts >= 0, p.IsRandomAccess));
        Assert.Equal(audioPackets.Count(p => TsPacketHeader.Parse(Convert.FromHexString(p.Hex)).PayloadUnitStart), audioPackets.Count(p => p.IsRandomAccess));
        Assert.True(audioPackets.Count(p => p.IsRandomAccess) >= 5);
        Assert.All(audioPackets, p => Assert.Equal(TsPacketKind.Audio, p.Kind));
    }

    [Fact]
    public void TryRead_Fixture_KindsFollowThePidMaps()
    {
        var demuxer = new TsDemuxer();
        var packets = Demux.ReadAll(Demux.Fixture("h264_aac.ts"), demuxer);
        var program = demuxer.Program!;

        Assert.All(packets.Where(p => p.Pid == 0), p => Assert.Equal(TsPacketKind.Pat, p.Kind));
        Assert.All(packets.Where(p => p.Pid == program.PmtPid), p => Assert.Equal(TsPacketKind.Pmt, p.Kind));
        Assert.All(packets.Where(p => p.Pid == 0x11), p => Assert.Equal(TsPacketKind.Other, p.Kind)); // SDT
        Assert.Contains(packets, p => p.Pid == 0x11);
        Assert.All(packets.Where(p => p.Pid == program.Streams[1].Pid), p => Assert.Equal(TsPacketKind.Audio, p.Kind));
    }

    [Fact]
    public void TryRead_SteadyState_AllocatesNothing()
    {
        var data = Demux.Fixture("h264_aac.ts");
        var demuxer = new TsDemuxer();
        Drain(demuxer, data);

        // Same program again: PAT/PMT unchanged, so no allocation at all, even on PSI packets.
        var before = GC.GetAllocatedBytesForCurrentThread();
        var count = Drain(demuxer, data);
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        Assert.Equal(data.Length / 188, count);
        Assert.Equal(0, allocated);

        // Two segments split mid-packet: the straddling packet is parsed from a stack copy.
        var split = Sequences.SplitAt(data, 1000);
        before = GC.GetAllocatedBytesForCurrentThread();
        count = Drain(demuxer, split);
        allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.Equal(data.Length / 188, count);
        Assert.Equal(0, allocated);
    }

    private static int Drain(TsDemuxer demuxer, byte[] data) => Drain(demuxer, new ReadOnlySequence<byte>(data));

    private static int Drain(TsDemuxer demuxer, ReadOnlySequence<byte> sequence)
    {
        var reader = new SequenceReader<byte>(sequence);
        var count = 0;
        while (demuxer.TryRead(ref reader, out _))
        {
            count++;
        }

        return count;
    }
}
