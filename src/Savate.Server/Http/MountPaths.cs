using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>Mount lookup and creation by normalised path (<see cref="RequestPath"/>), under <see cref="MountPathRules"/>.</summary>
internal static class MountPaths
{
    /// <summary>Longest dynamic mount path.</summary>
    public const int MaxDynamicLength = 256;

    /// <inheritdoc cref="MountPathRules.IsReserved"/>
    public static bool IsReserved(string path) => MountPathRules.IsReserved(path);

    /// <summary>The mount a listener asking for the normalised <paramref name="path"/> gets, or null (unknown or reserved: a 404).</summary>
    public static Mount? FindListenable(MountRegistry registry, string path) => IsReserved(path) ? null : registry.Find(path);

    /// <summary>Whether a source may create a mount at the normalised <paramref name="path"/>.</summary>
    public static bool IsValidDynamic(string path) => path.Length <= MaxDynamicLength && MountPathRules.CheckMountPath(path) is null;
}
