using System.Buffers;
using System.Buffers.Binary;

namespace Savate.Benchmarks;

/// <summary>Inputs shared by the benchmarks: the repository's samples, repeated to a few MB so one pass is long enough to time.</summary>
public static class SampleData
{
    public const int TargetBytes = 8 * 1024 * 1024;

    public static string SamplePath(string name)
    {
        var local = Path.Combine(AppContext.BaseDirectory, "samples", name);
        if (File.Exists(local))
        {
            return local;
        }
        // BenchmarkDotNet runs from a generated project: walk up to the repository.
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = Path.Combine(dir.FullName, "samples", name);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }
        throw new FileNotFoundException($"samples/{name} not found from {AppContext.BaseDirectory}");
    }

    /// <summary>
    /// samples/sample.flv (ffmpeg H.264 + AAC, real tag sizes): its header once, then its tags repeated
    /// until the buffer holds about <see cref="TargetBytes"/>. Returns the number of tags.
    /// </summary>
    public static byte[] Flv(out int tags)
    {
        var file = File.ReadAllBytes(SamplePath("sample.flv"));
        var dataOffset = (int)BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(5)) + 4;
        var body = file.AsSpan(dataOffset);
        var tagsPerCopy = CountFlvTags(body);
        var copies = Math.Max(1, TargetBytes / body.Length);
        var result = new byte[dataOffset + copies * body.Length];
        file.AsSpan(0, dataOffset).CopyTo(result);
        for (var i = 0; i < copies; i++)
        {
            body.CopyTo(result.AsSpan(dataOffset + i * body.Length));
        }
        tags = tagsPerCopy * copies;
        return result;
    }

    /// <summary>samples/sample.ts repeated to about <see cref="TargetBytes"/> (whole packets). Returns the packet count.</summary>
    public static byte[] Ts(out int packets)
    {
        var file = File.ReadAllBytes(SamplePath("sample.ts"));
        var whole = file.Length / 188 * 188;
        var copies = Math.Max(1, TargetBytes / whole);
        var result = new byte[copies * whole];
        for (var i = 0; i < copies; i++)
        {
            file.AsSpan(0, whole).CopyTo(result.AsSpan(i * whole));
        }
        packets = result.Length / 188;
        return result;
    }

    private static int CountFlvTags(ReadOnlySpan<byte> body)
    {
        var count = 0;
        var pos = 0;
        while (pos + 11 <= body.Length)
        {
            var size = (body[pos + 1] << 16) | (body[pos + 2] << 8) | body[pos + 3];
            if (pos + 15 + size > body.Length)
            {
                break;
            }
            pos += 15 + size;
            count++;
        }
        return count;
    }

    /// <summary>The buffer cut into segments of <paramref name="segmentSize"/> bytes, as a socket's reads would give it.</summary>
    public static ReadOnlySequence<byte> Segmented(byte[] data, int segmentSize) => Savate.TestSupport.Sequences.Split(data, segmentSize);
}
