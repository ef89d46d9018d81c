using System.Buffers;
using CsCheck;
using Savate.Flv;
using Savate.Fuzz.Targets;
using Savate.Fuzz.Tests.TestSupport;

namespace Savate.Fuzz.Tests;

/// <summary>
/// Properties of <see cref="FlvReader"/>: on any input only <see cref="FlvFormatException"/> escapes and the
/// result does not depend on how the bytes are split into reads; valid generated streams read back exactly.
/// </summary>
public class FlvReaderPropertyTests
{
    private static readonly byte[] s_header = [(byte)'F', (byte)'L', (byte)'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0];
    private static readonly byte[][] s_samples = Mutations.Corpus("flv", ".flv");

    [Fact]
    public void TryReadTag_ArbitraryBytesAfterHeader_ThrowsOnlyFlvFormatExceptionWhateverTheSplit()
    {
        var errors = 0;
        Gen.Select(Gen.Byte.Array[0, 3000], Gen.Int[1, 400]).Sample((body, readSize) =>
        {
            byte[] input = [.. s_header, .. body];
            var outcome = Check(input, readSize);
            Interlocked.Add(ref errors, outcome.Count(o => o.StartsWith("error:", StringComparison.Ordinal)));
        }, iter: 2000);

        // Random bytes mostly fail fast (unknown tag type, stream id); valid tags are the mutation test's.
        Assert.True(errors > 0, "no input was refused");
    }

    [Fact]
    public void TryReadTag_BytesWithoutSignature_RefusedAsBadSignatureOrWaiting()
    {
        Gen.Select(Gen.Byte.Array[0, 64].Where(b => !b.AsSpan().StartsWith("FLV"u8)), Gen.Int[1, 16]).Sample((input, readSize) =>
        {
            var outcome = Check(input, readSize);

            // "F" or "FL" may still become FLV: the reader waits; anything else is refused at once.
            Assert.True(outcome.Count == 0 || outcome.SequenceEqual(["error:BadSignature"]), string.Join(", ", outcome));
            Assert.Equal(outcome.Count == 0, input.Length < 3 && "FLV"u8.StartsWith(input));
        }, iter: 2000);
    }

    [Fact]
    public void TryReadTag_MutatedSamples_ThrowsOnlyFlvFormatExceptionWhateverTheSplit()
    {
        var refused = 0;
        var read = 0;
        Gen.Select(Mutations.Of(s_samples), Gen.Int[1, 700]).Sample((input, readSize) =>
        {
            var outcome = Check(input, readSize);
            if (outcome.Count > 0 && outcome[^1].StartsWith("error:", StringComparison.Ordinal))
            {
                Interlocked.Increment(ref refused);
            }
            else
            {
                Interlocked.Increment(ref read);
            }
        }, iter: 1000);

        Assert.True(refused > 0 && read > 0, $"{refused} refused, {read} read to the end");
    }

    [Fact]
    public void TryReadTag_GeneratedStream_RoundTripsWhateverTheSplit()
    {
        var tagGen = Gen.Select(
            Gen.OneOf(Gen.Const(FlvTagType.Audio), Gen.Const(FlvTagType.Video), Gen.Const(FlvTagType.Script)),
            Gen.UInt,
            Gen.Byte.Array[0, 600],
            (type, timestamp, data) => (Type: type, Timestamp: timestamp, Data: data));
        Gen.Select(tagGen.Array[0, 40], Gen.Int[1, 1000]).Sample((tags, readSize) =>
        {
            var stream = new List<byte>(s_header);
            foreach (var (type, timestamp, data) in tags)
            {
                stream.AddRange(FlvTags.Build(type, timestamp, data));
            }
            var input = stream.ToArray();

            var read = ReadAll(input, readSize, out var consumed);

            Assert.Equal(input.Length, consumed);
            Assert.Equal(tags.Length, read.Count);
            for (var i = 0; i < tags.Length; i++)
            {
                Assert.Equal(tags[i].Type, read[i].Type);
                Assert.Equal(tags[i].Timestamp, read[i].Timestamp);
                Assert.Equal(tags[i].Data, read[i].Data);
            }
        }, iter: 300);
    }

    /// <summary>Reads whole and in reads of <paramref name="readSize"/>: the same outcome, and no exception but the format one.</summary>
    private static List<string> Check(byte[] input, int readSize)
    {
        var whole = FlvTarget.Read(input, input.Length + 1);
        var split = FlvTarget.Read(input, readSize);
        Assert.Equal(whole, split);
        return whole;
    }

    private static List<(FlvTagType Type, uint Timestamp, byte[] Data)> ReadAll(byte[] input, int readSize, out int consumed)
    {
        var tags = new List<(FlvTagType, uint, byte[])>();
        var reader = new FlvReader(null);
        consumed = 0;
        for (var available = Math.Min(readSize, input.Length); ; available = Math.Min(available + readSize, input.Length))
        {
            var sequence = new SequenceReader<byte>(Segments.Split(input.AsMemory(consumed, available - consumed), readSize));
            while (reader.TryReadTag(ref sequence, out var tag))
            {
                tags.Add((tag.Type, tag.Timestamp, tag.Data.ToArray()));
            }
            consumed += (int)sequence.Consumed;
            if (available == input.Length)
            {
                return tags;
            }
        }
    }
}
