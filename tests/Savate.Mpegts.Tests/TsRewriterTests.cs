using System.Buffers.Binary;
using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests;

public class TsRewriterTests
{
    private const long Wrap = 1L << 33;

    [Fact]
    public void SetContinuityCounter_ChangesOnlyTheCounter()
    {
        var packet = TsBuilder.Packet(0x100, pusi: true, cc: 5, new byte[100], randomAccessIndicator: true);
        var before = TsPacketHeader.Parse(packet);

        TsRewriter.SetContinuityCounter(packet, 12);

        var after = TsPacketHeader.Parse(packet);
        Assert.Equal(12, after.ContinuityCounter);
        Assert.Equal(before with { ContinuityCounter = 12 }, after);
        Assert.Equal((before.Pid, before.AdaptationFieldControl, before.PayloadUnitStart), (after.Pid, after.AdaptationFieldControl, after.PayloadUnitStart));
        Assert.Throws<ArgumentOutOfRangeException>(() => TsRewriter.SetContinuityCounter(packet, 16));
    }

    [Fact]
    public void ShiftTimestamps_PcrPtsDts_AreShiftedWithMarkersKept()
    {
        var pes = TsBuilder.PesBytes(0xE0, pts: 10_000, dts: 6_400, es: [0, 0, 1, 0x65]);
        var packet = TsBuilder.Packet(0x100, pusi: true, cc: 0, pes, pcr: 5_000 * 300 + 7);

        TsRewriter.ShiftTimestamps(packet, 90_000);

        Assert.Equal((95_000 * 300) + 7, TsPacketHeader.Parse(packet).Pcr);
        var (pts, dts) = ReadPesTimestamps(packet);
        Assert.Equal((100_000, 96_400), (pts, dts));
        var payload = packet.AsSpan(TsPacketHeader.Parse(packet).PayloadOffset);
        Assert.Equal(0x3, payload[9] >> 4);  // '0011' prefix: PTS followed by DTS
        Assert.Equal(0x1, payload[14] >> 4); // '0001' prefix: DTS
        foreach (var i in new[] { 9, 11, 13, 14, 16, 18 })
        {
            Assert.Equal(1, payload[i] & 1);
        }

        Assert.Equal(0x7E, packet[10] & 0x7E); // PCR reserved bits
    }

    [Fact]
    public void ShiftTimestamps_WrapsAt33Bits()
    {
        var pes = TsBuilder.PesBytes(0xC0, pts: Wrap - 10, dts: -1, es: [0xFF, 0xF1]);
        var packet = TsBuilder.Packet(0x101, pusi: true, cc: 0, pes, pcr: ((Wrap - 1) * 300) + 299);

        TsRewriter.ShiftTimestamps(packet, 100);

        Assert.Equal((99 * 300) + 299, TsPacketHeader.Parse(packet).Pcr);
        Assert.Equal((90, -1), ReadPesTimestamps(packet));

        TsRewriter.ShiftTimestamps(packet, -100);

        Assert.Equal(((Wrap - 1) * 300) + 299, TsPacketHeader.Parse(packet).Pcr);
        Assert.Equal((Wrap - 10, -1), ReadPesTimestamps(packet));
    }

    [Fact]
    public void ShiftTimestamps_PacketWithoutTimestamps_IsUnchanged()
    {
        var packet = TsBuilder.Packet(0x100, pusi: false, cc: 3, new byte[184]);
        packet[100] = 0xAB;
        var copy = packet.ToArray();

        TsRewriter.ShiftTimestamps(packet, 12345);

        Assert.Equal(copy, packet);
    }

    [Fact]
    public void ShiftTimestamps_WholeFixture_ShiftsEveryTimestampAndRoundTrips()
    {
        var original = Demux.Fixture("h264_aac.ts");
        var shifted = original.ToArray();
        const long Offset = 1_234_567;
        for (var offset = 0; offset < shifted.Length; offset += 188)
        {
            TsRewriter.ShiftTimestamps(shifted.AsSpan(offset, 188), Offset);
        }

        var before = Demux.ReadAll(original);
        var after = Demux.ReadAll(shifted);
        Assert.Equal(before.Count, after.Count);
        var timestamps = 0;
        for (var i = 0; i < before.Count; i++)
        {
            Assert.Equal(before[i].Pts < 0 ? -1 : before[i].Pts + Offset, after[i].Pts);
            Assert.Equal(before[i].Dts < 0 ? -1 : before[i].Dts + Offset, after[i].Dts);
            Assert.Equal(before[i].IsRandomAccess, after[i].IsRandomAccess);
            var pcrBefore = TsPacketHeader.Parse(original.AsSpan(i * 188, 188)).Pcr;
            var pcrAfter = TsPacketHeader.Parse(shifted.AsSpan(i * 188, 188)).Pcr;
            Assert.Equal(pcrBefore < 0 ? -1 : pcrBefore + (Offset * 300), pcrAfter);
            timestamps += before[i].Pts >= 0 ? 1 : 0;
        }

        Assert.True(timestamps > 75);
        for (var offset = 0; offset < shifted.Length; offset += 188)
        {
            TsRewriter.ShiftTimestamps(shifted.AsSpan(offset, 188), -Offset);
        }

        Assert.Equal(original, shifted);
    }

    [Fact]
    public void SetDiscontinuityIndicator_WithAdaptationField_SetsFlag()
    {
        var packet = TsBuilder.Packet(0x100, pusi: true, cc: 0, new byte[100], randomAccessIndicator: true);

        Assert.True(TsRewriter.SetDiscontinuityIndicator(packet));

        var header = TsPacketHeader.Parse(packet);
        Assert.True(header.DiscontinuityIndicator);
        Assert.True(header.RandomAccessIndicator);
    }

    [Fact]
    public void SetDiscontinuityIndicator_WithoutUsableAdaptationField_ReturnsFalseUnchanged()
    {
        var noAdaptation = TsBuilder.Packet(0x100, pusi: false, cc: 0, new byte[184]);
        var emptyAdaptation = TsBuilder.Packet(0x100, pusi: false, cc: 0, new byte[183]);
        Assert.Equal(0, emptyAdaptation[4]);
        var copies = (NoAdaptation: noAdaptation.ToArray(), EmptyAdaptation: emptyAdaptation.ToArray());

        Assert.False(TsRewriter.SetDiscontinuityIndicator(noAdaptation));
        Assert.False(TsRewriter.SetDiscontinuityIndicator(emptyAdaptation));

        Assert.Equal(copies.NoAdaptation, noAdaptation);
        Assert.Equal(copies.EmptyAdaptation, emptyAdaptation);
    }

    [Fact]
    public void WriteDiscontinuityPacket_IsAdaptationOnlyWithFlagAndStuffing()
    {
        var packet = new byte[188];
        packet.AsSpan().Fill(0x55);

        TsRewriter.WriteDiscontinuityPacket(packet, 0x1234, 9);

        var header = TsPacketHeader.Parse(packet);
        Assert.Equal((0x1234, 2, 9, true, false, 188), (header.Pid, header.AdaptationFieldControl, header.ContinuityCounter, header.DiscontinuityIndicator, header.PayloadUnitStart, header.PayloadOffset));
        Assert.Equal(183, packet[4]);
        Assert.Equal(0x80, packet[5]);
        Assert.All(packet[6..], b => Assert.Equal(0xFF, b));
        Assert.True(TsDemuxer.LooksLikeTs([.. packet, .. packet]));
        Assert.Throws<ArgumentOutOfRangeException>(() => TsRewriter.WriteDiscontinuityPacket(packet, 0x2000, 0));
    }

    [Fact]
    public void SetPsiVersion_FixturePmtAndPat_NewVersionWithValidCrc()
    {
        var data = Demux.Fixture("h264_aac.ts");
        var demuxer = new TsDemuxer();
        Demux.ReadAll(data, demuxer);
        var tables = demuxer.ProgramPackets.ToArray();
        Assert.Equal(0, demuxer.Program!.Version);
        var streams = demuxer.Program.Streams;

        TsRewriter.SetPsiVersion(tables.AsSpan(0, 188), 3);
        TsRewriter.SetPsiVersion(tables.AsSpan(188, 188), 7);

        // The same demuxer sees both tables change, with their CRC accepted.
        var packets = Demux.ReadAll(tables, demuxer);
        Assert.Equal([true, true], packets.Select(p => p.ProgramChanged));
        Assert.Equal(7, demuxer.Program!.Version);
        Assert.Equal(streams, demuxer.Program.Streams);
        Assert.Equal(tables, demuxer.ProgramPackets.ToArray());
        var pmtSection = tables.AsSpan(188 + 5, 3 + (BinaryPrimitives.ReadUInt16BigEndian(tables.AsSpan(188 + 6)) & 0x0FFF));
        Assert.Equal(0u, Crc32Mpeg2.Compute(pmtSection));
        Assert.Equal(7, (pmtSection[5] >> 1) & 0x1F);
        Assert.Equal(1, pmtSection[5] & 1); // current_next_indicator kept
    }

    [Fact]
    public void SetPsiVersion_NotASectionStart_Throws()
    {
        var packet = TsBuilder.Packet(0x100, pusi: false, cc: 0, new byte[184]);

        Assert.False(TsRewriter.TrySetPsiVersion(packet, 1));
        Assert.Throws<ArgumentException>(() => TsRewriter.SetPsiVersion(packet, 1));
    }

    [Fact]
    public void SetPsiVersion_SectionNotFittingInPacket_ReturnsFalseUnchanged()
    {
        var streams = Enumerable.Range(0, 40).Select(i => ((byte)0x1B, 0x100 + i, new byte[10])).ToArray();
        var ts = new TsBuilder().Pmt(0x1000, 1, 0x100, 0, streams).ToArray();
        var first = ts[..188];
        var copy = first.ToArray();

        Assert.False(TsRewriter.TrySetPsiVersion(first, 1));
        Assert.Equal(copy, first);
    }

    private static (long Pts, long Dts) ReadPesTimestamps(byte[] packet)
    {
        var packets = Demux.ReadAll(packet, new TsDemuxer(new TsDemuxerOptions { SyncConfirmPackets = 1 }));
        return (packets[0].Pts, packets[0].Dts);
    }
}
