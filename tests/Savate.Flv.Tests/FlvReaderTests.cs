using System.Buffers;
using System.Runtime.InteropServices;

namespace Savate.Flv.Tests;

public class FlvReaderTests
{
    private static readonly byte[] s_fixture = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "fixture.flv"));

    public static TheoryData<string> Streams => ["fixture", "representative"];

    private static byte[] Stream(string name) => name == "fixture" ? s_fixture : FlvStreamBuilder.Representative().ToArray();

    [Fact]
    public void TryReadTag_RepresentativeStream_ClassifiesEveryTag()
    {
        var builder = FlvStreamBuilder.Representative();
        var bytes = builder.ToArray();

        var tags = FlvTestReader.ReadAll(new ReadOnlySequence<byte>(bytes), out var header, out var consumed);

        Assert.True(header.HasAudio);
        Assert.True(header.HasVideo);
        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(builder.Expected.Count, tags.Count);
        for (var i = 0; i < tags.Count; i++)
        {
            var expected = builder.Expected[i];
            var actual = tags[i];
            Assert.True(expected.Type == actual.Type && expected.Kind == actual.Kind && expected.IsKeyframe == actual.IsKeyframe
                && expected.VideoCodec == actual.VideoCodec && expected.AudioCodec == actual.AudioCodec && expected.Timestamp == actual.Timestamp,
                $"tag {i}: expected {expected with { Bytes = [] }}, got {actual with { Bytes = [] }}");
            Assert.Equal(expected.Offset, actual.Offset);
            Assert.Equal(expected.Bytes, actual.Bytes);
        }
    }

    [Fact]
    public void TryReadTag_Fixture_ReadsHeaderMetadataAndSequenceHeadersFirst()
    {
        var tags = FlvTestReader.ReadAll(new ReadOnlySequence<byte>(s_fixture), out var header, out var consumed);

        Assert.Equal(1, header.Version);
        Assert.True(header.HasAudio);
        Assert.True(header.HasVideo);
        Assert.Equal(9u, header.DataOffset);
        Assert.Equal(s_fixture.Length, consumed);

        Assert.Equal(FlvTagType.Script, tags[0].Type);
        Assert.Equal(FlvPacketKind.Metadata, tags[0].Kind);
        Assert.Equal(FlvTagType.Video, tags[1].Type);
        Assert.Equal(FlvPacketKind.SequenceHeader, tags[1].Kind);
        Assert.Equal(FlvVideoCodec.Avc, tags[1].VideoCodec);
        Assert.False(tags[1].IsKeyframe);
        Assert.Equal(FlvTagType.Audio, tags[2].Type);
        Assert.Equal(FlvPacketKind.SequenceHeader, tags[2].Kind);
        Assert.Equal(FlvAudioCodec.Aac, tags[2].AudioCodec);
        Assert.Equal(FlvTagType.Video, tags[3].Type);
        Assert.True(tags[3].IsKeyframe);
    }

    [Fact]
    public void TryReadTag_Fixture_KeyframesMatchGopAndTimestampsNeverDecrease()
    {
        var tags = FlvTestReader.ReadAll(new ReadOnlySequence<byte>(s_fixture), out _, out _);

        var video = tags.Where(t => t.Type == FlvTagType.Video && t.Kind == FlvPacketKind.Media).ToList();
        Assert.Equal(50, video.Count); // 2 s at 25 fps
        Assert.Equal(2, video.Count(t => t.IsKeyframe)); // -g 25
        Assert.All(video, t => Assert.Equal(FlvVideoCodec.Avc, t.VideoCodec));
        Assert.All(tags.Where(t => t.Type == FlvTagType.Audio), t => Assert.Equal(FlvAudioCodec.Aac, t.AudioCodec));
        Assert.Contains(tags, t => t.Type == FlvTagType.Audio && t.Kind == FlvPacketKind.Media);

        // ffmpeg ends with an AVC end-of-sequence stamped with the last video DTS, after later
        // audio: timestamps never decrease per track, not across tracks.
        Assert.Equal(FlvPacketKind.SequenceEnd, tags[^1].Kind);
        foreach (var type in new[] { FlvTagType.Video, FlvTagType.Audio })
        {
            var track = tags.Where(t => t.Type == type).ToList();
            for (var i = 1; i < track.Count; i++)
            {
                Assert.True(track[i].Timestamp >= track[i - 1].Timestamp, $"{type} tag {i}: {track[i].Timestamp} after {track[i - 1].Timestamp}");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void TryReadTag_OneByteAtATime_MatchesSingleBuffer(string name)
    {
        var bytes = Stream(name);
        var expected = FlvTestReader.ReadAll(bytes);

        // Bytes arrive one at a time; the caller keeps what was not consumed, as with a Pipe.
        var flv = new FlvReader(null);
        var found = 0;
        long consumed = 0;
        for (var available = 1; available <= bytes.Length; available++)
        {
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes, (int)consumed, available - (int)consumed));
            if (!flv.HeaderRead)
            {
                if (!flv.TryReadHeader(ref reader, out _))
                {
                    Assert.Equal(0, reader.Consumed);
                    continue;
                }
            }

            while (true)
            {
                var before = reader.Consumed;
                if (!flv.TryReadTag(ref reader, out var tag))
                {
                    Assert.Equal(before, reader.Consumed);
                    break;
                }

                Assert.True(expected[found].Matches(tag, consumed + before), $"tag {found} differs at {available} bytes");
                found++;
            }

            consumed += reader.Consumed;
        }

        Assert.Equal(expected.Count, found);
        Assert.Equal(bytes.Length, consumed);
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void TryReadTag_EverySplitPointOfTwoSegments_MatchesSingleBuffer(string name)
    {
        var bytes = Stream(name);
        var expected = FlvTestReader.ReadAll(bytes);

        for (var split = 0; split <= bytes.Length; split++)
        {
            var flv = new FlvReader(null);
            var reader = new SequenceReader<byte>(TestBuffers.Split(bytes, split));
            Assert.True(flv.TryReadHeader(ref reader, out _));
            var found = 0;
            var offset = reader.Consumed;
            while (flv.TryReadTag(ref reader, out var tag))
            {
                if (!expected[found].Matches(tag, offset))
                {
                    Assert.Fail($"split at {split}: tag {found} at offset {offset} differs");
                }

                found++;
                offset = reader.Consumed;
            }

            Assert.Equal(expected.Count, found);
            Assert.Equal(bytes.Length, reader.Consumed);
        }
    }

    [Theory]
    [MemberData(nameof(Streams))]
    public void TryReadTag_OneBytePerSegment_MatchesSingleBuffer(string name)
    {
        var bytes = Stream(name);
        var expected = FlvTestReader.ReadAll(bytes);

        var tags = FlvTestReader.ReadAll(TestBuffers.OneBytePerSegment(bytes), out _, out var consumed);

        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(expected, tags, (a, b) => a with { Bytes = [] } == b with { Bytes = [] } && a.Bytes.AsSpan().SequenceEqual(b.Bytes));
    }

    [Fact]
    public void TryReadTag_HeaderNotRead_ReadsHeaderFirst()
    {
        var flv = new FlvReader(null);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(s_fixture));

        Assert.True(flv.TryReadTag(ref reader, out var tag));

        Assert.True(flv.HeaderRead);
        Assert.Equal(FlvPacketKind.Metadata, tag.Kind);
        Assert.Equal(FlvHeader.SizeWithPreviousTagSize + tag.TotalSize, reader.Consumed);
    }

    [Fact]
    public void TryReadTag_HeaderNotReadAndIncomplete_ReturnsFalseWithoutAdvancing()
    {
        var flv = new FlvReader(null);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(s_fixture, 0, 12));

        Assert.False(flv.TryReadTag(ref reader, out _));

        Assert.False(flv.HeaderRead);
        Assert.Equal(0, reader.Consumed);
    }

    [Fact]
    public void TryReadTag_DefaultStruct_BehavesLikeDefaultOptions()
    {
        var expected = FlvTestReader.ReadAll(s_fixture);
        FlvReader flv = default;
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(s_fixture));
        var count = 0;
        while (flv.TryReadTag(ref reader, out _))
        {
            count++;
        }

        Assert.Equal(expected.Count, count);
    }

    [Fact]
    public void TryReadHeader_LargerDataOffset_SkipsExtraHeaderBytes()
    {
        var tag = FlvTags.Build(FlvTagType.Audio, 5, FlvStreamBuilder.Aac(1));
        byte[] bytes = [(byte)'F', (byte)'L', (byte)'V', 1, 4, 0, 0, 0, 12, 0xEE, 0xEE, 0xEE, 0, 0, 0, 0, .. tag];
        var flv = new FlvReader(null);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(bytes));

        Assert.True(flv.TryReadHeader(ref reader, out var header));
        Assert.True(flv.TryReadTag(ref reader, out var parsed));

        Assert.Equal(12u, header.DataOffset);
        Assert.True(header.HasAudio);
        Assert.False(header.HasVideo);
        Assert.Equal(5u, parsed.Timestamp);
        Assert.Equal(tag, parsed.Bytes.ToArray());
    }

    [Fact]
    public void TryReadTag_SingleSegment_BytesAliasTheInputBuffer()
    {
        var flv = new FlvReader(null);
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(s_fixture));

        Assert.True(flv.TryReadTag(ref reader, out var tag));

        Assert.True(tag.Bytes.IsSingleSegment);
        Assert.True(MemoryMarshal.TryGetArray(tag.Bytes.First, out var segment));
        Assert.Same(s_fixture, segment.Array);
        Assert.Equal(FlvHeader.SizeWithPreviousTagSize, segment.Offset);
        Assert.Equal(tag.Header.DataSize, tag.Data.Length);
    }

    [Fact]
    public void TryReadTag_SteadyState_AllocatesNothing()
    {
        var split = TestBuffers.Split(s_fixture, s_fixture.Length / 3);
        CountTags(new ReadOnlySequence<byte>(s_fixture));
        CountTags(split);

        var before = GC.GetAllocatedBytesForCurrentThread();
        var count = 0;
        for (var i = 0; i < 20; i++)
        {
            count += CountTags(new ReadOnlySequence<byte>(s_fixture));
            count += CountTags(split);
        }

        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        Assert.True(count > 0);
        Assert.Equal(0, allocated);

        static int CountTags(ReadOnlySequence<byte> sequence)
        {
            var flv = new FlvReader(null);
            var reader = new SequenceReader<byte>(sequence);
            var count = 0;
            while (flv.TryReadTag(ref reader, out var tag))
            {
                count += tag.IsKeyframe ? 2 : 1;
            }

            return count;
        }
    }

    [Fact]
    public void TryReadTag_PreviousTagSizeCheckDisabled_AcceptsMismatch()
    {
        var bytes = FlvStreamBuilder.Representative().ToArray();
        bytes[^1] ^= 0x55;
        var options = new FlvReaderOptions { ValidatePreviousTagSize = false };

        var tags = FlvTestReader.ReadAll(new ReadOnlySequence<byte>(bytes), out _, out var consumed, options);

        Assert.Equal(bytes.Length, consumed);
        Assert.Equal(FlvStreamBuilder.Representative().Expected.Count, tags.Count);
    }

    [Fact]
    public void Constructor_NegativeMaxTagDataSize_Throws()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new FlvReader(new FlvReaderOptions { MaxTagDataSize = -1 }));
    }
}
