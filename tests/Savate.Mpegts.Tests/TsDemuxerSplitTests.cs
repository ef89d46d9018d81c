using Savate.TestSupport;
using System.Buffers;
using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests;

/// <summary>However the bytes arrive, the demuxer finds the same packets with the same classification.</summary>
public class TsDemuxerSplitTests
{
    public static TheoryData<string> Fixtures => ["h264_aac.ts", "hevc_aac.ts", "aac_only.ts"];

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void TryRead_OneByteAtATime_SameAsSingleBuffer(string fixture)
    {
        var data = WithGarbagePrefix(Demux.Fixture(fixture), 77);
        var expected = Demux.ReadAll(data);

        var actual = Demux.ReadChunked(data, () => 1);

        Assert.Equal(expected, actual);
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void TryRead_RandomChunks_SameAsSingleBuffer(string fixture)
    {
        var data = WithGarbagePrefix(Demux.Fixture(fixture), 300);
        var expected = Demux.ReadAll(data);
        var random = new Random(1234);

        var actual = Demux.ReadChunked(data, () => random.Next(1, 700));

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void TryRead_EverySplitPointOfTwoSegments_SameAsSingleBuffer()
    {
        // 40 packets (PAT, PMT, keyframe start) behind some garbage keep the n² affordable.
        var data = WithGarbagePrefix(Demux.Fixture("h264_aac.ts")[..(40 * 188)], 200);
        var expected = Demux.ReadAll(data);
        Assert.Equal(40, expected.Count);
        Assert.Contains(expected, p => p.IsRandomAccess);

        for (var split = 0; split <= data.Length; split++)
        {
            var actual = Demux.ReadAll(Sequences.SplitAt(data, split));
            Assert.True(expected.SequenceEqual(actual), $"split at {split}");
        }
    }

    [Fact]
    public void TryRead_SplitPointsOverWholeFixture_SameAsSingleBuffer()
    {
        var data = Demux.Fixture("hevc_aac.ts");
        var expected = Demux.ReadAll(data);

        for (var split = 1; split < data.Length; split += 97)
        {
            var actual = Demux.ReadAll(Sequences.SplitAt(data, split));
            Assert.True(expected.SequenceEqual(actual), $"split at {split}");
        }
    }

    [Fact]
    public void TryRead_NotEnoughBytes_ReturnsFalseWithoutConsuming()
    {
        var data = Demux.Fixture("h264_aac.ts")[..(3 * 188)];
        var demuxer = new TsDemuxer();

        // Sync needs 0x47 at 0, 188 and 376 to confirm: with 370 bytes nothing is read yet, nothing consumed.
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data, 0, 370));
        Assert.False(demuxer.TryRead(ref reader, out _));
        Assert.Equal(0, reader.Consumed);

        reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
        Assert.True(demuxer.TryRead(ref reader, out _));
        Assert.True(demuxer.TryRead(ref reader, out _));
        Assert.True(demuxer.TryRead(ref reader, out _));
        Assert.False(demuxer.TryRead(ref reader, out _));
        Assert.Equal(data.Length, reader.Consumed);
    }

    /// <summary>Garbage without 0x47, so no false sync point can hide in it.</summary>
    internal static byte[] WithGarbagePrefix(byte[] data, int garbage)
    {
        var random = new Random(garbage);
        var result = new byte[garbage + data.Length];
        random.NextBytes(result.AsSpan(0, garbage));
        for (var i = 0; i < garbage; i++)
        {
            if (result[i] == 0x47)
            {
                result[i] = 0x46;
            }
        }

        data.CopyTo(result, garbage);
        return result;
    }
}
