using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>The mount lookup of <see cref="MountPaths"/> (its pure rules are in RequestPath.cs, which the config tests compile too).</summary>
internal static partial class MountPaths
{
    /// <summary>The mount a listener asking for the normalised <paramref name="path"/> gets, or null (unknown or reserved: a 404).</summary>
    public static Mount? FindListenable(MountRegistry registry, string path) => IsReserved(path) ? null : registry.Find(path);
}
