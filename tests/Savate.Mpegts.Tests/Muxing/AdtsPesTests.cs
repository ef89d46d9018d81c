using System.Buffers;
using Savate.Mpegts.Muxing;
using Xunit;

namespace Savate.Mpegts.Tests.Muxing;

public class AdtsPesTests
{
    private static readonly AudioConfig s_aac = new(2, 3, 2); // LC, 48 kHz: 1920 ticks per frame

    /// <summary><paramref name="count"/> ADTS frames of 20 bytes, the i-th filled with i.</summary>
    private static byte[] Frames(int count)
    {
        var data = new byte[count * 20];
        for (var i = 0; i < count; i++)
        {
            s_aac.WriteAdtsHeader(data.AsSpan(i * 20), 13);
            data.AsSpan(i * 20 + 7, 13).Fill((byte)i);
        }
        return data;
    }

    [Theory]
    [InlineData(0, 0, 0)] // boundary at the first frame: nothing before it
    [InlineData(1, 20, 1920)] // one tick past the first frame's start: the second frame
    [InlineData(1920, 20, 1920)]
    [InlineData(5000, 60, 5760)]
    [InlineData(15360, 160, 15360)] // past the last frame: the whole PES, and where it ends
    [InlineData(99999, 160, 15360)]
    public void TryFindSplit_FirstFrameAtOrAfterBoundary(long boundary, int offset, long splitPts)
    {
        Assert.True(AdtsPes.TryFindSplit(Frames(8), 0, boundary, out var actualOffset, out var actualPts));
        Assert.Equal(offset, actualOffset);
        Assert.Equal(splitPts, actualPts);
    }

    [Fact]
    public void TryFindSplit_NotAdts_False()
    {
        var data = Frames(3);
        data[40] = 0; // the third frame's sync word
        Assert.False(AdtsPes.TryFindSplit(data, 0, 99999, out _, out _));
        Assert.False(AdtsPes.TryFindSplit(Frames(3).AsSpan(0, 50), 0, 99999, out _, out _)); // truncated
    }

    [Fact]
    public void WritePes_ThenTryReadPes_SameBytesPtsAndStreamId_CountersFromTheCaller()
    {
        var es = Frames(30); // 600 bytes: four packets
        var output = new ArrayBufferWriter<byte>();
        var cc = 14;
        new TsMuxer().WritePes(output, 0x123, ref cc, 0xC1, new ReadOnlySequence<byte>(es), (1L << 33) + 1000);
        Assert.Equal(0, output.WrittenCount % 188);
        Assert.Equal(4, output.WrittenCount / 188);
        Assert.Equal(2, cc); // 14, 15, 0, 1 used

        var packets = output.WrittenSpan;
        Assert.Equal(0x123, TsPacketHeader.Parse(packets).Pid);
        Assert.Equal(6 + 3 + 5 + es.Length, AdtsPes.PesSize(packets[4..]));
        var read = new ArrayBufferWriter<byte>();
        Assert.True(AdtsPes.TryReadPes(packets, read, out var pts, out var streamId));
        Assert.Equal(1000, pts); // written modulo 2^33
        Assert.Equal(0xC1, streamId);
        Assert.Equal(es, read.WrittenSpan.ToArray());
        Assert.False(AdtsPes.TryReadPes(packets[188..], read, out _, out _)); // no PES start
    }
}
