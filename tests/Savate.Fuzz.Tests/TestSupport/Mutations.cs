using CsCheck;

namespace Savate.Fuzz.Tests.TestSupport;

/// <summary>Inputs for the parser properties: random bytes, and valid samples with random damage.</summary>
internal static class Mutations
{
    /// <summary>One edit: where (a fraction of the length), what (0 set, 1 flip a bit, 2 delete a run, 3 insert, 4 duplicate a run), and a value.</summary>
    public readonly record struct Edit(double At, int Kind, int Value);

    private static readonly Gen<Edit> s_edit = Gen.Select(Gen.Double[0, 1], Gen.Int[0, 4], Gen.Int[0, 1000], (at, kind, value) => new Edit(at, kind, value));

    /// <summary>A seed from <paramref name="seeds"/> with 1 to 20 edits.</summary>
    public static Gen<byte[]> Of(IReadOnlyList<byte[]> seeds) =>
        Gen.Select(Gen.Int[0, seeds.Count - 1], s_edit.Array[1, 20], (index, edits) => Apply(seeds[index], edits));

    public static byte[] Apply(byte[] seed, Edit[] edits)
    {
        var data = new List<byte>(seed);
        foreach (var edit in edits)
        {
            var at = Math.Min((int)(edit.At * data.Count), Math.Max(data.Count - 1, 0));
            switch (edit.Kind)
            {
                case 0 when data.Count > 0:
                    data[at] = (byte)edit.Value;
                    break;
                case 1 when data.Count > 0:
                    data[at] ^= (byte)(1 << (edit.Value % 8));
                    break;
                case 2 when data.Count > 0:
                    data.RemoveRange(at, Math.Min(1 + (edit.Value % 300), data.Count - at));
                    break;
                case 3:
                    data.InsertRange(at, Enumerable.Repeat((byte)edit.Value, 1 + (edit.Value % 17)));
                    break;
                case 4 when data.Count > 0:
                    var run = data.GetRange(at, Math.Min(1 + (edit.Value % 400), data.Count - at));
                    data.InsertRange(Math.Min(at + run.Count, data.Count), run);
                    break;
            }
        }
        return [.. data];
    }

    /// <summary>Every file of a corpus directory of Savate.Fuzz (copied next to the tests).</summary>
    public static byte[][] Corpus(string target, string extension) =>
        [.. Directory.EnumerateFiles(Path.Combine(AppContext.BaseDirectory, "corpus", target), "*" + extension)
            .Order(StringComparer.Ordinal)
            .Select(File.ReadAllBytes)];
}
