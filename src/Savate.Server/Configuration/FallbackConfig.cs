namespace Savate.Server.Configuration;

/// <summary>An item of a mount's yaml <c>fallback</c>: exactly one of <c>mount</c> or <c>file</c>.</summary>
public sealed record FallbackConfig
{
    /// <summary>yaml <c>mount</c>: the path of another declared mount.</summary>
    public string? Mount { get; init; }

    /// <summary>yaml <c>file</c>: a media file played in a loop, as written in the config.</summary>
    public string? File { get; init; }

    /// <summary><see cref="File"/> resolved against <see cref="SavateConfig.BaseDirectory"/>; null for a mount fallback.</summary>
    public string? FullPath { get; init; }
}
