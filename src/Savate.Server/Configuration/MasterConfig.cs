namespace Savate.Server.Configuration;

/// <summary>yaml <c>master</c>: a master server whose mount list is polled and every mount relayed.</summary>
public sealed record MasterConfig
{
    /// <summary>yaml <c>url</c>: the master's absolute http(s) base URL. Required.</summary>
    public required string Url { get; init; }

    /// <summary>
    /// yaml <c>public-url</c>: this slave's absolute http(s) URL as listeners reach it. When set, each poll announces it
    /// with this server's load, and the master may redirect listeners here. Default: none (not a redirect target).
    /// </summary>
    public string? PublicUrl { get; init; }

    /// <summary>yaml <c>username</c>. Default: relay (Icecast's relay user).</summary>
    public string Username { get; init; } = "relay";

    /// <summary>yaml <c>password</c>: the master's relay-password. Default: none.</summary>
    public string? Password { get; init; }

    /// <summary>yaml <c>poll-interval</c>: how often the mount list is fetched. Default: 10s.</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>yaml <c>on-demand</c>: relay a mount only while someone listens. Default: true.</summary>
    public bool OnDemand { get; init; } = true;
}
