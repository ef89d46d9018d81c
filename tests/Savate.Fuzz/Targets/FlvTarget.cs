using System.Buffers;
using Savate.Flv;

namespace Savate.Fuzz.Targets;

/// <summary>
/// <see cref="FlvReader"/> on arbitrary bytes: only <see cref="FlvFormatException"/> may escape, and reading the
/// bytes whole or as a live body (a few bytes per read, segments straddling headers) finds the same tags and
/// the same error. Each script tag also goes through <see cref="FlvTags.TryRemoveSetDataFrame"/>.
/// </summary>
internal static class FlvTarget
{
    public static void Run(byte[] input)
    {
        var whole = Read(input, input.Length + 1);
        var split = Read(input, Segments.SplitSize(input));
        if (!whole.SequenceEqual(split))
        {
            throw new FuzzInvariantException(
                $"FLV reader: whole input gives [{string.Join(", ", whole)}], read {Segments.SplitSize(input)} bytes at a time gives [{string.Join(", ", split)}]");
        }
    }

    /// <summary>Reads as an ingest does: bytes arrive <paramref name="readSize"/> at a time, unconsumed bytes stay.</summary>
    internal static List<string> Read(byte[] input, int readSize)
    {
        var seen = new List<string>();
        var reader = new FlvReader(null);
        var consumed = 0;
        try
        {
            for (var available = Math.Min(readSize, input.Length); ; available = Math.Min(available + readSize, input.Length))
            {
                var buffer = Segments.Split(input.AsMemory(consumed, available - consumed), readSize);
                var sequence = new SequenceReader<byte>(buffer);
                while (reader.TryReadTag(ref sequence, out var tag))
                {
                    var offset = consumed + sequence.Consumed - tag.TotalSize;
                    seen.Add($"{offset}:{tag.Type}/{tag.Timestamp}/{tag.Header.DataSize}/{tag.Kind}/{tag.IsKeyframe}/{tag.VideoCodec}/{tag.AudioCodec}");
                    if (tag.Bytes.Length != tag.TotalSize || tag.Data.Length != tag.Header.DataSize)
                    {
                        throw new FuzzInvariantException($"FLV tag at {offset}: {tag.Bytes.Length} bytes for a total size of {tag.TotalSize}");
                    }
                    if (tag.Type == FlvTagType.Script && FlvTags.TryRemoveSetDataFrame(tag.Bytes, out var rewritten))
                    {
                        seen.Add($"rewritten:{rewritten.Length}");
                    }
                }
                consumed += (int)sequence.Consumed;
                if (available == input.Length)
                {
                    break;
                }
            }
        }
        catch (FlvFormatException e)
        {
            seen.Add($"error:{e.Reason}");
        }
        return seen;
    }
}
