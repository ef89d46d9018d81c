namespace Savate.Server.Configuration;

/// <summary>An item of yaml <c>relays</c>: a local mount fed from an upstream server.</summary>
public sealed record RelayConfig
{
    /// <summary>yaml <c>mount</c>: the local path. It may also be declared under <c>mounts</c>; if not, it gets <c>mount-defaults</c>.</summary>
    public required string Mount { get; init; }

    /// <summary>yaml <c>upstreams</c> (a string or a list): absolute http(s) URLs, tried in order. Required.</summary>
    public IReadOnlyList<string> Upstreams { get; init => field = ValueList<string>.From(value); } = ValueList<string>.Empty;

    /// <summary>yaml <c>on-demand</c>: connect upstream only while someone listens. Default: true.</summary>
    public bool OnDemand { get; init; } = true;

    /// <summary>yaml <c>idle-timeout</c>: an on-demand relay without listeners this long disconnects. Default: 20s.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(20);
}
