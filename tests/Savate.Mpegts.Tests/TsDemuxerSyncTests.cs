using System.Buffers;
using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests;

public class TsDemuxerSyncTests
{
    [Fact]
    public void TryRead_GarbageBeforeFirstPacket_SkipsAndCountsIt()
    {
        var clean = Demux.Fixture("h264_aac.ts");
        var data = TsDemuxerSplitTests.WithGarbagePrefix(clean, 1000);
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(data, demuxer);

        Assert.Equal(Demux.ReadAll(clean).Select(p => p.Hex), packets.Select(p => p.Hex));
        Assert.Equal(1000, packets[0].SkippedBytes);
        Assert.All(packets.Skip(1), p => Assert.Equal(0, p.SkippedBytes));
        Assert.Equal(1000, demuxer.SkippedBytes);
    }

    [Fact]
    public void TryRead_StartingMidPacket_JoinsAtTheNextPacket()
    {
        // What Icecast hands a listener: the stream from an arbitrary offset (84 mod 188 was seen).
        var clean = Demux.Fixture("h264_aac.ts");
        var data = clean[(10 * 188 + 84)..];
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(data, demuxer);

        Assert.Equal(104, packets[0].SkippedBytes);
        Assert.Equal(Demux.ReadAll(clean).Skip(11).Select(p => p.Hex), packets.Select(p => p.Hex));
    }

    [Fact]
    public void TryRead_BytesLostMidStream_ResyncsAndFindsLaterPackets()
    {
        var clean = Demux.Fixture("h264_aac.ts");
        var original = Demux.ReadAll(clean);

        // Lose 10 bytes in the middle of packet 50.
        var data = clean[..(50 * 188 + 100)].Concat(clean[(50 * 188 + 110)..]).ToArray();
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(data, demuxer);

        // Packet 50 still starts with 0x47 and is passed on (it now ends with 10 bytes of packet 51);
        // the rest of packet 51 is garbage; packet 52 on are found again.
        Assert.Equal(original.Take(50).Select(p => p.Hex), packets.Take(50).Select(p => p.Hex));
        Assert.Equal(178, packets[51].SkippedBytes);
        Assert.Equal(178, demuxer.SkippedBytes);
        Assert.Equal(original.Skip(52).Select(p => p.Hex), packets.Skip(51).Select(p => p.Hex));
        Assert.Equal(original.Count - 1, packets.Count);
    }

    [Fact]
    public void TryRead_BytesInsertedMidStream_ResyncsAndFindsLaterPackets()
    {
        var clean = Demux.Fixture("h264_aac.ts");
        var original = Demux.ReadAll(clean);
        var data = clean[..(20 * 188)].Concat(new byte[33]).Concat(clean[(20 * 188)..]).ToArray();
        var demuxer = new TsDemuxer();

        var packets = Demux.ReadAll(data, demuxer);

        Assert.Equal(original.Select(p => p.Hex), packets.Select(p => p.Hex));
        Assert.Equal(33, packets[20].SkippedBytes);
        Assert.Equal(33, demuxer.SkippedBytes);
    }

    [Fact]
    public void TryRead_PureGarbage_ThrowsNoSync()
    {
        var garbage = new byte[200_000];
        new Random(7).NextBytes(garbage);
        for (var i = 0; i < garbage.Length; i++)
        {
            if (garbage[i] == 0x47)
            {
                garbage[i] = 0;
            }
        }

        var demuxer = new TsDemuxer();

        var exception = Assert.Throws<TsFormatException>(() => Demux.ReadAll(garbage, demuxer));

        Assert.Equal(TsError.NoSync, exception.Reason);
        Assert.Contains("sync", exception.Message, StringComparison.OrdinalIgnoreCase);
    }

    [Fact]
    public void TryRead_GarbageDeliveredInChunks_ThrowsOnceOverTheLimit()
    {
        var demuxer = new TsDemuxer(new TsDemuxerOptions { MaxResyncBytes = 1000 });
        var chunk = new byte[300]; // zeros: known garbage, consumed as it comes
        for (var i = 0; i < 3; i++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(chunk));
            Assert.False(demuxer.TryRead(ref reader, out _));
            Assert.Equal(300, reader.Consumed);
        }

        Assert.Equal(900, demuxer.SkippedBytes);
        var exception = Assert.Throws<TsFormatException>(() =>
        {
            var last = new SequenceReader<byte>(new ReadOnlySequence<byte>(chunk));
            demuxer.TryRead(ref last, out _);
        });
        Assert.Equal(TsError.NoSync, exception.Reason);
    }

    [Fact]
    public void TryRead_SyncBytesAtWrongStride_NotAcceptedAsSync()
    {
        // 0x47 every 100 bytes never lines up at 188.
        var data = new byte[20_000];
        for (var i = 0; i < data.Length; i += 100)
        {
            data[i] = 0x47;
        }

        var exception = Assert.Throws<TsFormatException>(() => Demux.ReadAll(data, new TsDemuxer(new TsDemuxerOptions { MaxResyncBytes = 10_000 })));
        Assert.Equal(TsError.NoSync, exception.Reason);
    }

    [Fact]
    public void TryRead_ResyncSkipsAFalseCandidate()
    {
        var clean = Demux.Fixture("aac_only.ts");

        // A lone 0x47 in the garbage that does not repeat at the stride.
        var garbage = new byte[50];
        garbage[10] = 0x47;
        var packets = Demux.ReadAll([.. garbage, .. clean]);

        Assert.Equal(50, packets[0].SkippedBytes);
        Assert.Equal(clean.Length / 188, packets.Count);
    }

    [Theory]
    [InlineData(0, false)]
    [InlineData(188, false)]
    [InlineData(376, true)]
    [InlineData(500, true)]
    [InlineData(564, true)]
    public void LooksLikeTs_CoversFullPacketsOnly(int length, bool expected)
    {
        var data = Demux.Fixture("h264_aac.ts")[..length];

        Assert.Equal(expected, TsDemuxer.LooksLikeTs(data));
    }

    [Fact]
    public void LooksLikeTs_MisalignedOrOtherFormat_False()
    {
        var data = Demux.Fixture("h264_aac.ts");

        Assert.False(TsDemuxer.LooksLikeTs(data.AsSpan(1)));
        Assert.False(TsDemuxer.LooksLikeTs("FLV\x01\x05"u8.ToArray().Concat(new byte[400]).ToArray()));
        var broken = data[..(5 * 188)];
        broken[3 * 188] = 0;
        Assert.False(TsDemuxer.LooksLikeTs(broken));
    }
}
