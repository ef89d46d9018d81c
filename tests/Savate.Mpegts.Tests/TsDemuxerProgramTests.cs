using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests;

public class TsDemuxerProgramTests
{
    private const int PmtPid = 0x1000;
    private const int VideoPid = 0x100;
    private const int AudioPid = 0x101;

    private static readonly (byte, int, byte[])[] _h264Aac = [(0x1B, VideoPid, []), (0x0F, AudioPid, [])];

    // AUD, SPS, PPS, IDR slice: what x264 puts at the start of a keyframe.
    private static readonly byte[] _h264Idr = [0, 0, 0, 1, 0x09, 0x10, 0, 0, 0, 1, 0x67, 0x64, 0, 0x0C, 0, 0, 0, 1, 0x68, 0xEE, 0, 0, 1, 0x65, 0x88, 0x84];
    private static readonly byte[] _h264NonIdr = [0, 0, 0, 1, 0x09, 0x30, 0, 0, 1, 0x41, 0x9A, 0x21];
    private static readonly byte[] _h264SeiThenSlice = [0, 0, 0, 1, 0x09, 0x30, 0, 0, 1, 0x06, 0x05, 0x01, 0x80, 0, 0, 1, 0x41, 0x9A, 0, 0, 1, 0x65];

    [Fact]
    public void TryRead_PatAndPmt_DescribeProgramAndClassifyPids()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Pes(VideoPid, 0xE0, 3600, 0, _h264Idr)
            .Pes(AudioPid, 0xC0, 3000, -1, [0xFF, 0xF1])
            .Add(TsBuilder.Packet(0x1FFF, false, 0, new byte[184]))
            .Add(TsBuilder.Packet(0x200, false, 0, new byte[184]));
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.Equal(
            [TsPacketKind.Pat, TsPacketKind.Pmt, TsPacketKind.Video, TsPacketKind.Audio, TsPacketKind.Null, TsPacketKind.Other],
            packets.Select(p => p.Kind));
        Assert.Equal([true, true, false, false, false, false], packets.Select(p => p.ProgramChanged));
        Assert.Equal(new TsProgramInfo(1, PmtPid, VideoPid, 0, demuxer.Program!.Streams), demuxer.Program);
        Assert.Equal(
            [new TsStreamInfo(VideoPid, 0x1B, TsPacketKind.Video, "h264"), new TsStreamInfo(AudioPid, 0x0F, TsPacketKind.Audio, "aac")],
            demuxer.Program.Streams);
        Assert.Equal((3600, 0), (packets[2].Pts, packets[2].Dts));
        Assert.Equal((3000, -1), (packets[3].Pts, packets[3].Dts));
        Assert.True(packets[2].IsRandomAccess);
        Assert.False(packets[3].IsRandomAccess);
        Assert.Equal(packets[0].Hex + packets[1].Hex, Convert.ToHexString(demuxer.ProgramPackets.Span));
    }

    [Fact]
    public void TryRead_BeforePmt_NothingIsRandomAccessAndProgramIsNull()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pes(VideoPid, 0xE0, 3600, -1, _h264Idr, randomAccessIndicator: true);
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.Null(demuxer.Program);
        Assert.True(demuxer.ProgramPackets.IsEmpty);
        Assert.True(packets[0].ProgramChanged);
        Assert.Equal(TsPacketKind.Other, packets[1].Kind);
        Assert.False(packets[1].IsRandomAccess);
        Assert.Equal(3600, packets[1].Pts);
    }

    [Fact]
    public void TryRead_RepeatedIdenticalTables_ChangeOnlyOnce()
    {
        var ts = new TsBuilder();
        for (var i = 0; i < 5; i++)
        {
            ts.Pat(1, PmtPid).Pmt(PmtPid, 1, VideoPid, 0, _h264Aac);
        }

        var demuxer = new TsDemuxer();
        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.Equal(2, packets.Count(p => p.ProgramChanged));
        Assert.True(packets[0].ProgramChanged);
        Assert.True(packets[1].ProgramChanged);
    }

    [Fact]
    public void TryRead_BadCrcPmt_IsIgnored()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Psi(PmtPid, TsBuilder.PmtSection(1, VideoPid, 0, _h264Aac, corruptCrc: true))
            .Pes(VideoPid, 0xE0, 3600, -1, _h264Idr);
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.Null(demuxer.Program);
        Assert.False(packets[1].ProgramChanged);
        Assert.Equal(TsPacketKind.Other, packets[2].Kind);

        // The next good copy is taken.
        ts.Pmt(PmtPid, 1, VideoPid, 0, _h264Aac);
        packets = Demux.ReadAll(ts.ToArray(), new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 }));
        Assert.True(packets[^1].ProgramChanged);
    }

    [Fact]
    public void TryRead_BadCrcPmtAfterGoodOne_KeepsTheGoodOne()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Psi(PmtPid, TsBuilder.PmtSection(1, VideoPid, 1, [(0x24, VideoPid, [])], corruptCrc: true));
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.False(packets[2].ProgramChanged);
        Assert.Equal("h264", demuxer.Program!.Streams[0].Codec);
    }

    [Fact]
    public void TryRead_PmtVersionChange_SetsProgramChangedAndUpdatesProgramPackets()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Pmt(PmtPid, 1, VideoPid, 1, _h264Aac);
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.True(packets[2].ProgramChanged);
        Assert.Equal(1, demuxer.Program!.Version);
        Assert.Equal(packets[0].Hex + packets[2].Hex, Convert.ToHexString(demuxer.ProgramPackets.Span));
    }

    [Fact]
    public void TryRead_PmtStreamListChange_RemapsPids()
    {
        const int NewVideoPid = 0x102;
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Pes(VideoPid, 0xE0, 0, -1, _h264Idr)
            .Pmt(PmtPid, 1, NewVideoPid, 0, [(0x24, NewVideoPid, []), (0x0F, AudioPid, [])])
            .Pes(VideoPid, 0xE0, 3600, -1, _h264Idr)
            .Pes(NewVideoPid, 0xE0, 3600, -1, [0, 0, 1, 0x40, 0x01, 0, 0, 1, 0x26, 0x01]); // VPS
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.True(packets[3].ProgramChanged);
        Assert.Equal(TsPacketKind.Other, packets[4].Kind);
        Assert.Equal(TsPacketKind.Video, packets[5].Kind);
        Assert.True(packets[5].IsRandomAccess);
        Assert.Equal("hevc", demuxer.Program!.Streams[0].Codec);
        Assert.Equal(NewVideoPid, demuxer.Program.PcrPid);
        Assert.Equal(packets[0].Hex + packets[3].Hex, Convert.ToHexString(demuxer.ProgramPackets.Span));
    }

    [Fact]
    public void TryRead_PatPointsElsewhere_ForgetsTheOldProgram()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Pat(2, 0x1001)
            .Pes(VideoPid, 0xE0, 0, -1, _h264Idr)
            .Pmt(0x1001, 2, AudioPid, 0, [(0x0F, AudioPid, [])])
            .Pes(AudioPid, 0xC0, 0, -1, [0xFF, 0xF1]);
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.True(packets[2].ProgramChanged);
        Assert.Equal(TsPacketKind.Other, packets[3].Kind);
        Assert.Equal(TsPacketKind.Pmt, packets[4].Kind);
        Assert.True(packets[4].ProgramChanged);
        Assert.True(packets[5].IsRandomAccess); // audio-only now
        Assert.Equal((2, 0x1001), (demuxer.Program!.ProgramNumber, demuxer.Program.PmtPid));
        Assert.Equal(packets[2].Hex + packets[4].Hex, Convert.ToHexString(demuxer.ProgramPackets.Span));
    }

    [Fact]
    public void TryRead_PmtSpanningPackets_IsAssembled()
    {
        // 40 streams with 10-byte descriptors: a 620-byte section over 4 packets.
        var streams = Enumerable.Range(0, 40)
            .Select(i => ((byte)(i == 0 ? 0x1B : 0x06), 0x100 + i, new byte[] { 0x0A, 8, (byte)'e', (byte)'n', (byte)'g', 0, 0, 0, 0, 0 }))
            .ToArray();
        var ts = new TsBuilder().Pat(1, PmtPid).Pmt(PmtPid, 1, 0x100, 3, streams);
        var data = ts.ToArray();
        Assert.Equal(5 * 188, data.Length);
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(data, demuxer);

        Assert.Equal([true, false, false, false, true], packets.Select(p => p.ProgramChanged));
        Assert.Equal(40, demuxer.Program!.Streams.Count);
        Assert.Equal(Convert.ToHexString(data), Convert.ToHexString(demuxer.ProgramPackets.Span));
    }

    [Fact]
    public void TryRead_SectionStartingMidPacket_UsesPointerField()
    {
        // Packet 1: stuffing-free tail of nothing, then the PMT starts after 10 bytes of a (dropped) earlier section.
        var pmt = TsBuilder.PmtSection(1, VideoPid, 0, _h264Aac);
        var payload = new byte[184];
        Array.Fill(payload, (byte)0xFF);
        payload[0] = 10;
        pmt.CopyTo(payload, 11);
        var ts = new TsBuilder().Pat(1, PmtPid).Add(TsBuilder.Packet(PmtPid, true, 0, payload));
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.True(packets[1].ProgramChanged);
        Assert.Equal(2, demuxer.Program!.Streams.Count);
    }

    [Fact]
    public void TryRead_TwoSectionsInOnePacket_BothAreRead()
    {
        var pat = TsBuilder.PatSection(1, PmtPid, version: 0);
        var pat2 = TsBuilder.PatSection(1, PmtPid, version: 5);
        var payload = new byte[184];
        Array.Fill(payload, (byte)0xFF);
        payload[0] = 0;
        pat.CopyTo(payload, 1);
        pat2.CopyTo(payload, 1 + pat.Length);
        var ts = new TsBuilder().Add(TsBuilder.Packet(0, true, 0, payload)).Pmt(PmtPid, 1, VideoPid, 0, _h264Aac);
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.NotNull(demuxer.Program);
    }

    [Theory]
    [InlineData(new byte[] { 0x05, 4, (byte)'O', (byte)'p', (byte)'u', (byte)'s' }, TsPacketKind.Audio, "opus")]
    [InlineData(new byte[] { 0x05, 4, (byte)'A', (byte)'C', (byte)'-', (byte)'3' }, TsPacketKind.Audio, "ac3")]
    [InlineData(new byte[] { 0x6A, 1, 0x00 }, TsPacketKind.Audio, "ac3")]
    [InlineData(new byte[] { 0x7A, 1, 0x00 }, TsPacketKind.Audio, "eac3")]
    [InlineData(new byte[] { 0x7F, 2, 0x80, 0x02 }, TsPacketKind.Audio, "opus")]
    [InlineData(new byte[] { 0x59, 0 }, TsPacketKind.Data, "dvb_subtitle")]
    [InlineData(new byte[] { }, TsPacketKind.Data, "data")]
    [InlineData(new byte[] { 0x05, 40 }, TsPacketKind.Data, "data")] // overrunning descriptor
    public void TryRead_PrivateDataStream_ClassifiedByDescriptors(byte[] descriptors, TsPacketKind kind, string codec)
    {
        var ts = new TsBuilder().Pat(1, PmtPid).Pmt(PmtPid, 1, AudioPid, 0, (0x06, AudioPid, descriptors));
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        Demux.ReadAll(ts.ToArray(), demuxer);

        var stream = Assert.Single(demuxer.Program!.Streams);
        Assert.Equal((kind, codec), (stream.Kind, stream.Codec));
    }

    [Theory]
    [InlineData(0x01, TsPacketKind.Video, "mpeg2video")]
    [InlineData(0x02, TsPacketKind.Video, "mpeg2video")]
    [InlineData(0x10, TsPacketKind.Video, "mpeg4")]
    [InlineData(0x24, TsPacketKind.Video, "hevc")]
    [InlineData(0x03, TsPacketKind.Audio, "mp3")]
    [InlineData(0x04, TsPacketKind.Audio, "mp3")]
    [InlineData(0x11, TsPacketKind.Audio, "aac_latm")]
    [InlineData(0x81, TsPacketKind.Audio, "ac3")]
    [InlineData(0x87, TsPacketKind.Audio, "eac3")]
    [InlineData(0x86, TsPacketKind.Data, "scte_35")]
    [InlineData(0x99, TsPacketKind.Data, "data")]
    public void TryRead_StreamTypes_MapToKindAndCodec(byte streamType, TsPacketKind kind, string codec)
    {
        var ts = new TsBuilder().Pat(1, PmtPid).Pmt(PmtPid, 1, AudioPid, 0, (streamType, AudioPid, []));
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        Demux.ReadAll(ts.ToArray(), demuxer);

        var stream = Assert.Single(demuxer.Program!.Streams);
        Assert.Equal((kind, codec), (stream.Kind, stream.Codec));
    }

    [Theory]
    [InlineData(0x1B, new byte[] { 0, 0, 0, 1, 0x09, 0x10, 0, 0, 1, 0x65, 0x88 }, true)]  // AUD, IDR
    [InlineData(0x1B, new byte[] { 0, 0, 1, 0x67, 0x42 }, true)]                          // SPS
    [InlineData(0x1B, new byte[] { 0, 0, 0, 1, 0x09, 0x30, 0, 0, 1, 0x41, 0x9A }, false)] // AUD, non-IDR
    [InlineData(0x1B, new byte[] { 0, 0, 1, 0x06, 0x05, 0, 0, 1, 0x41, 0, 0, 1, 0x65 }, false)] // stops at the first slice
    [InlineData(0x1B, new byte[] { 0x12, 0x34 }, false)]
    [InlineData(0x24, new byte[] { 0, 0, 0, 1, 0x46, 0x01, 0, 0, 1, 0x26, 0x01 }, true)]  // AUD, IDR_W_RADL
    [InlineData(0x24, new byte[] { 0, 0, 1, 0x2A, 0x01 }, true)]                          // CRA
    [InlineData(0x24, new byte[] { 0, 0, 1, 0x42, 0x01 }, true)]                          // SPS
    [InlineData(0x24, new byte[] { 0, 0, 0, 1, 0x46, 0x01, 0, 0, 1, 0x02, 0x01 }, false)] // TRAIL_R
    [InlineData(0x02, new byte[] { 0, 0, 1, 0xB3, 0x0A }, true)]                          // MPEG-2 sequence header
    [InlineData(0x02, new byte[] { 0, 0, 1, 0x00, 0x0A }, false)]                         // picture
    [InlineData(0x10, new byte[] { 0, 0, 1, 0xB0, 0x01 }, false)]                         // MPEG-4 part 2: flag only
    public void TryRead_VideoPesStart_ScansNalUnits(byte streamType, byte[] es, bool expected)
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, (streamType, VideoPid, []))
            .Pes(VideoPid, 0xE0, 0, -1, es);
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.Equal(expected, packets[2].IsRandomAccess);
    }

    [Fact]
    public void TryRead_RandomAccessIndicator_OnlyOnPesStart()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Pes(VideoPid, 0xE0, 0, -1, _h264NonIdr, randomAccessIndicator: true, pcr: 600)
            .Add(TsBuilder.Packet(VideoPid, false, 1, new byte[100], randomAccessIndicator: true))
            .Pes(VideoPid, 0xE0, 3600, -1, _h264SeiThenSlice);
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.Equal([true, false, false], packets.Skip(2).Select(p => p.IsRandomAccess));
    }

    [Fact]
    public void TryRead_AudioInProgramWithVideo_IsNotAJoinPoint()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Pes(AudioPid, 0xC0, 0, -1, [0xFF, 0xF1], randomAccessIndicator: true);
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.False(packets[2].IsRandomAccess);
    }

    [Fact]
    public void TryRead_PesWithoutTimestamps_PtsIsMinusOne()
    {
        var ts = new TsBuilder()
            .Pat(1, PmtPid)
            .Pmt(PmtPid, 1, VideoPid, 0, _h264Aac)
            .Pes(VideoPid, 0xE0, -1, -1, _h264Idr)
            .Pes(VideoPid, 0xE0, (1L << 33) - 1, (1L << 33) - 2, _h264NonIdr);
        var demuxer = new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 });

        var packets = Demux.ReadAll(ts.ToArray(), demuxer);

        Assert.Equal((-1, -1), (packets[2].Pts, packets[2].Dts));
        Assert.True(packets[2].IsRandomAccess);
        Assert.Equal(((1L << 33) - 1, (1L << 33) - 2), (packets[3].Pts, packets[3].Dts));
    }
}
