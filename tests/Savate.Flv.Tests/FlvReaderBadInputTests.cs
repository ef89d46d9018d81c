using System.Buffers;

namespace Savate.Flv.Tests;

/// <summary>A named corpus of malformed inputs, and a fuzz test over mutated real streams.</summary>
public class FlvReaderBadInputTests
{
    private static readonly byte[] s_header = FlvHeader.ToArray(hasAudio: true, hasVideo: true);

    private static byte[] WithHeader(params byte[] rest) => [.. s_header, .. rest];

    /// <summary>An 11-byte tag header with arbitrary fields, data and PreviousTagSize.</summary>
    private static byte[] RawTag(byte typeByte, int dataSize, int streamId = 0, int? previousTagSize = null, int bodyBytes = -1)
    {
        var body = bodyBytes < 0 ? dataSize : bodyBytes;
        var tag = new byte[11 + body + 4];
        tag[0] = typeByte;
        tag[1] = (byte)(dataSize >> 16);
        tag[2] = (byte)(dataSize >> 8);
        tag[3] = (byte)dataSize;
        tag[8] = (byte)(streamId >> 16);
        tag[9] = (byte)(streamId >> 8);
        tag[10] = (byte)streamId;
        var pts = previousTagSize ?? 11 + dataSize;
        tag[^4] = (byte)(pts >> 24);
        tag[^3] = (byte)(pts >> 16);
        tag[^2] = (byte)(pts >> 8);
        tag[^1] = (byte)pts;
        return tag;
    }

    public static TheoryData<string, byte[], FlvError> Corpus => new()
    {
        { "http request instead of FLV", "GET / HTTP/1.1\r\n\r\n"u8.ToArray(), FlvError.BadSignature },
        { "MPEG-TS instead of FLV", [0x47, 0x40, 0x00, 0x10, 0, 0, 0, 0, 0, 0, 0, 0, 0], FlvError.BadSignature },
        { "signature wrong in the third byte", "FLX"u8.ToArray(), FlvError.BadSignature },
        { "one byte that cannot start FLV", [0x47], FlvError.BadSignature },
        { "data offset below 9", [(byte)'F', (byte)'L', (byte)'V', 1, 5, 0, 0, 0, 5, 0, 0, 0, 0], FlvError.BadHeaderSize },
        { "absurd data offset", [(byte)'F', (byte)'L', (byte)'V', 1, 5, 0x7F, 0xFF, 0xFF, 0xFF], FlvError.BadHeaderSize },
        { "garbage tag type", WithHeader(RawTag(0x07, 10)), FlvError.UnknownTagType },
        { "tag type zero", WithHeader(RawTag(0x00, 0)), FlvError.UnknownTagType },
        { "tag type 0xFF", WithHeader(RawTag(0xFF, 4)), FlvError.UnknownTagType },
        { "garbage tag type, body not arrived", WithHeader(RawTag(0x33, 4000, bodyBytes: 0)[..11]), FlvError.UnknownTagType },
        { "absurd data size, body not arrived", WithHeader(RawTag(0x09, 0xFFFFFF, bodyBytes: 0)[..11]), FlvError.TagTooLarge },
        { "stream id not zero", WithHeader(RawTag(0x08, 3, streamId: 1)), FlvError.BadStreamId },
        { "stream id not zero, body not arrived", WithHeader(RawTag(0x12, 3000, streamId: 0x010000, bodyBytes: 0)[..11]), FlvError.BadStreamId },
        { "previous tag size mismatch", WithHeader(RawTag(0x09, 20, previousTagSize: 20)), FlvError.PreviousTagSizeMismatch },
        { "previous tag size zero", WithHeader(RawTag(0x08, 2, previousTagSize: 0)), FlvError.PreviousTagSizeMismatch },
        { "second tag corrupt", WithHeader([.. FlvTags.Build(FlvTagType.Audio, 0, [0xAF, 0]), .. RawTag(0x0A, 1)]), FlvError.UnknownTagType },
        { "random bytes after a valid header", WithHeader([0xC3, 0x5A, 0x99, 0x01, 0xFE, 0x44, 0x10, 0x7B, 0x2E, 0xD0, 0x03, 0x88, 0x61]), FlvError.UnknownTagType },
    };

    [Theory]
    [MemberData(nameof(Corpus))]
    public void TryReadTag_BadInput_ThrowsSpecificError(string name, byte[] bytes, FlvError expected)
    {
        var error = Assert.Throws<FlvFormatException>(() => ReadToEnd(new ReadOnlySequence<byte>(bytes), null));

        Assert.True(expected == error.Reason, $"{name}: expected {expected}, got {error.Reason}: {error.Message}");
        Assert.False(string.IsNullOrEmpty(error.Message));
    }

    [Theory]
    [MemberData(nameof(Corpus))]
    public void TryReadTag_BadInputOneBytePerSegment_ThrowsSameError(string name, byte[] bytes, FlvError expected)
    {
        var error = Assert.Throws<FlvFormatException>(() => ReadToEnd(TestBuffers.OneBytePerSegment(bytes), null));

        Assert.True(expected == error.Reason, $"{name}: expected {expected}, got {error.Reason}");
    }

    [Fact]
    public void TryReadTag_TagLargerThanConfiguredMaximum_ThrowsTagTooLarge()
    {
        var bytes = WithHeader(FlvTags.Build(FlvTagType.Video, 0, new byte[200]));

        var error = Assert.Throws<FlvFormatException>(() => ReadToEnd(new ReadOnlySequence<byte>(bytes), new FlvReaderOptions { MaxTagDataSize = 100 }));

        Assert.Equal(FlvError.TagTooLarge, error.Reason);
        Assert.Contains("200", error.Message);
        Assert.Contains("100", error.Message);
    }

    [Fact]
    public void TryReadTag_UnknownTagType_MessageNamesTypeAndOffset()
    {
        var error = Assert.Throws<FlvFormatException>(() => ReadToEnd(new ReadOnlySequence<byte>(WithHeader(RawTag(0x07, 10))), null));

        Assert.Contains("0x07", error.Message);
        Assert.Contains("offset 13", error.Message);
    }

    [Fact]
    public void TryReadTag_TruncatedTag_ReturnsFalseWithoutAdvancing()
    {
        var tag = FlvTags.Build(FlvTagType.Video, 40, FlvStreamBuilder.LegacyVideo(1, 7, 1, 100));
        for (var length = 0; length < tag.Length; length++)
        {
            var flv = new FlvReader(null);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(WithHeader(tag[..length])));
            Assert.True(flv.TryReadHeader(ref reader, out _));

            Assert.False(flv.TryReadTag(ref reader, out _));

            Assert.Equal(FlvHeader.SizeWithPreviousTagSize, reader.Consumed);
        }
    }

    [Fact]
    public void TryReadHeader_TruncatedHeader_ReturnsFalseWithoutAdvancing()
    {
        var header = WithHeader();
        for (var length = 0; length < header.Length; length++)
        {
            var flv = new FlvReader(null);
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(header, 0, length));

            Assert.False(flv.TryReadHeader(ref reader, out _));

            Assert.Equal(0, reader.Consumed);
            Assert.False(flv.HeaderRead);
        }
    }

    [Fact]
    public void TryReadTag_MutatedAndTruncatedStreams_OnlyEverThrowsFlvFormatException()
    {
        var fixture = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "Fixtures", "fixture.flv"));
        byte[][] seeds = [fixture[..4000], FlvStreamBuilder.Representative().ToArray()];
        var random = new Random(20261120);
        var outcomes = new int[3]; // complete, needs more, rejected
        for (var i = 0; i < 4000; i++)
        {
            var bytes = Mutate(seeds[i % seeds.Length], random);
            var options = (i & 4) == 0 ? null : new FlvReaderOptions { ValidatePreviousTagSize = false, MaxTagDataSize = 1000 };
            var sequence = (i & 8) == 0 ? new ReadOnlySequence<byte>(bytes) : TestBuffers.Split(bytes, random.Next(bytes.Length + 1));
            try
            {
                var consumed = ReadToEnd(sequence, options);
                Assert.InRange(consumed, 0, bytes.Length);
                outcomes[consumed == bytes.Length ? 0 : 1]++;
            }
            catch (FlvFormatException)
            {
                outcomes[2]++;
            }
        }

        // The mutations must exercise every outcome, or the fuzz proves little.
        Assert.All(outcomes, count => Assert.True(count > 100, string.Join(", ", outcomes)));
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        var bytes = (byte[])seed.Clone();
        switch (random.Next(4))
        {
            case 0: // flip a few bytes
                for (var n = random.Next(1, 4); n > 0; n--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }

                break;
            case 1: // truncate
                bytes = bytes[..random.Next(bytes.Length)];
                break;
            case 2: // corrupt the byte after the header, or a tag header field
                bytes[random.Next(13, 30)] ^= (byte)(1 << random.Next(8));
                break;
            default: // splice random bytes in
                var at = random.Next(bytes.Length);
                var noise = new byte[random.Next(1, 20)];
                random.NextBytes(noise);
                bytes = [.. bytes[..at], .. noise, .. bytes[at..]];
                break;
        }

        return bytes;
    }

    private static long ReadToEnd(ReadOnlySequence<byte> sequence, FlvReaderOptions? options)
    {
        var flv = new FlvReader(options);
        var reader = new SequenceReader<byte>(sequence);
        while (flv.TryReadTag(ref reader, out var tag))
        {
            Assert.Equal(tag.TotalSize, tag.Bytes.Length);
        }

        return reader.Consumed;
    }
}
