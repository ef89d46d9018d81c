namespace Savate.Relay;

/// <summary>Lifecycle state of one relay.</summary>
public enum RelayState
{
    /// <summary>On-demand relay with no listeners: no upstream connection.</summary>
    Idle,

    /// <summary>Connecting to an upstream, or connected and waiting for the first byte.</summary>
    Connecting,

    /// <summary>Bytes are flowing from <see cref="RelayStatus.Upstream"/> into the mount.</summary>
    Streaming,

    /// <summary>Every upstream failed; waiting (exponential backoff with jitter) before the next round.</summary>
    BackingOff,

    /// <summary>The relay was stopped (manager disposed or mount retired by discovery).</summary>
    Stopped,
}

/// <summary>A snapshot of one relay, for status pages.</summary>
/// <param name="Mount">The local mount path.</param>
/// <param name="State">Current state.</param>
/// <param name="Upstream">The upstream being used or tried last, without credentials.</param>
/// <param name="Connects">Successful upstream connections (2xx response) since start.</param>
/// <param name="Reconnects">Successful connections that restored a lost or failed stream (all but the first of each pull session).</param>
/// <param name="LastError">The last upstream error, or null.</param>
/// <param name="Since">When <paramref name="State"/> was entered.</param>
/// <param name="OnDemand">Whether the relay only pulls while the mount has listeners.</param>
public sealed record RelayStatus(
    string Mount,
    RelayState State,
    string? Upstream,
    long Connects,
    long Reconnects,
    string? LastError,
    DateTimeOffset Since,
    bool OnDemand);
