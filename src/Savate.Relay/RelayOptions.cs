namespace Savate.Relay;

/// <summary>One relayed mount: pull a live FLV or MPEG-TS body from the first working upstream.</summary>
public sealed record RelayOptions
{
    /// <summary>Local mount path, e.g. <c>/live.flv</c>.</summary>
    public required string Mount { get; init; }

    /// <summary>Upstream URLs, tried in order (failover). A URL with userinfo sends HTTP Basic.</summary>
    public IReadOnlyList<Uri> Upstreams { get; init; } = [];

    /// <summary>Pull only while the mount has listeners (Icecast <c>on-demand</c>).</summary>
    public bool OnDemand { get; init; } = true;

    /// <summary>How long an on-demand relay keeps pulling after the last listener left.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(20);

    /// <summary>HTTP Basic user name (overrides userinfo in the URL).</summary>
    public string? Username { get; init; }

    /// <summary>HTTP Basic password (overrides userinfo in the URL).</summary>
    public string? Password { get; init; }

    /// <summary>Time to connect and receive the response headers.</summary>
    public TimeSpan ConnectTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>Time from the response headers to the first body byte.</summary>
    public TimeSpan FirstByteTimeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>A read that gets no byte for this long fails the connection (stalled upstream).</summary>
    public TimeSpan IdleReadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Median delay before the first retry after every upstream failed (jittered, then doubling).</summary>
    public TimeSpan FirstRetryDelay { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>Cap on the retry delay; also the delay after an auth failure (401/403) or a refused feed.</summary>
    public TimeSpan MaxRetryDelay { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>
    /// A connection that streamed at least this long counts as healthy: when it ends the relay reconnects at once
    /// and the backoff starts over. Shorter ones count as failures, so an upstream that accepts and closes
    /// cannot make the relay spin.
    /// </summary>
    internal TimeSpan StableAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>Consecutive failures (within <see cref="CircuitSamplingDuration"/>) that open an upstream's circuit.</summary>
    internal int CircuitBreakerThreshold { get; init; } = 3;

    /// <summary>How long an upstream with an open circuit is skipped.</summary>
    internal TimeSpan CircuitBreakDuration { get; init; } = TimeSpan.FromSeconds(30);

    /// <summary>Window in which the failures that open a circuit are counted.</summary>
    internal TimeSpan CircuitSamplingDuration { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>
    /// A failure repeated identically is logged once, then once per this interval with how many times it recurred
    /// (an upstream that can never work, such as FLV relayed from Icecast, would otherwise log every attempt).
    /// </summary>
    internal TimeSpan RepeatedFailureLogInterval { get; init; } = TimeSpan.FromMinutes(5);
}

/// <summary>Relay every mount of a master (Icecast master/slave), discovered by polling <c>/admin/streamlist.txt</c>.</summary>
public sealed record MasterOptions
{
    /// <summary>Base URL of the master, e.g. <c>http://master:8000/</c>.</summary>
    public required Uri Url { get; init; }

    /// <summary>
    /// This slave's URL as listeners reach it. When set, each poll announces it with the slave's load
    /// (<see cref="SlaveAnnouncement"/>), so that the master may redirect listeners here. Null: no announcement.
    /// </summary>
    public Uri? PublicUrl { get; init; }

    /// <summary>HTTP Basic user for the stream list and the relayed mounts (Icecast's default is <c>relay</c>).</summary>
    public string Username { get; init; } = "relay";

    /// <summary>HTTP Basic password; null sends no credentials.</summary>
    public string? Password { get; init; }

    /// <summary>How often the stream list is polled (Icecast <c>master-update-interval</c> defaults to 120 s; we poll faster).</summary>
    public TimeSpan PollInterval { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>On-demand setting of every discovered relay.</summary>
    public bool OnDemand { get; init; } = true;

    /// <summary>Idle timeout of every discovered relay.</summary>
    public TimeSpan IdleTimeout { get; init; } = TimeSpan.FromSeconds(20);
}
