using System.Diagnostics.CodeAnalysis;
using Savate.Fuzz.Targets;

namespace Savate.Fuzz;

/// <summary>
/// The fuzz targets by name. Each takes one input and returns normally for any input, however hostile;
/// it throws (and afl records a crash) only when the code under test breaks its contract: an exception
/// other than the parser's own format exception, a result that depends on how the bytes were split, or
/// a buffer not given back.
/// </summary>
public static class FuzzTargets
{
    private static readonly Dictionary<string, Action<byte[]>> s_targets = new(StringComparer.Ordinal)
    {
        ["flv"] = FlvTarget.Run,
        ["ts"] = TsTarget.Run,
        ["request-head"] = RequestHeadTarget.Run,
        ["source-body"] = SourceBodyTarget.Run,
        ["config"] = ConfigTarget.Run,
    };

    public static IEnumerable<string> Names => s_targets.Keys;

    public static bool TryGet(string name, [NotNullWhen(true)] out Action<byte[]>? target) => s_targets.TryGetValue(name, out target);

    public static void Run(string name, byte[] input) => s_targets[name](input);
}

/// <summary>The code under test broke its contract on this input (not a format error: a bug).</summary>
public sealed class FuzzInvariantException(string message) : Exception(message);
