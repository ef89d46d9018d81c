namespace Savate.Server.Configuration;

/// <summary>Container format of a mount's stream (yaml <c>format</c>, case-insensitive).</summary>
public enum MountFormat
{
    /// <summary>Detected from the first bytes the source sends.</summary>
    Auto,

    /// <summary>FLV.</summary>
    Flv,

    /// <summary>MPEG transport stream.</summary>
    Mpegts,
}
