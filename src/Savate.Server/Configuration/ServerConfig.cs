namespace Savate.Server.Configuration;

/// <summary>yaml <c>server</c>: process-wide settings.</summary>
public sealed record ServerConfig
{
    /// <summary>yaml <c>listen</c> (a string or a list of absolute http/https URLs). Default: all interfaces, port 8000 (the Icecast port).</summary>
    public IReadOnlyList<string> Listen { get; init => field = ValueList<string>.From(value); } = ValueList<string>.From(["http://0.0.0.0:8000"]);

    /// <summary>yaml <c>source-password</c>: password sources publish with; a mount's own overrides it. Default: none (no check).</summary>
    public string? SourcePassword { get; init; }

    /// <summary>yaml <c>relay-password</c>: password relays (slaves) authenticate with. Default: none.</summary>
    public string? RelayPassword { get; init; }

    /// <summary>yaml <c>admin-password</c>: password of the <c>/admin</c> endpoints. Default: none (admin disabled).</summary>
    public string? AdminPassword { get; init; }

    /// <summary>yaml <c>max-listeners</c>: listeners across all mounts. Default: 10000.</summary>
    public int MaxListeners { get; init; } = 10000;

    /// <summary>yaml <c>dynamic-mounts</c>: whether a source may publish to an undeclared path. Default: true.</summary>
    public bool DynamicMounts { get; init; } = true;

    /// <summary>yaml <c>source-timeout</c>: a source silent this long is dropped. Default: 10s (Icecast's <c>source-timeout</c>).</summary>
    public TimeSpan SourceTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// yaml <c>source-min-rate</c> (size syntax, bytes per second): a source that sends less than this on average over a
    /// <c>source-timeout</c> window is dropped (as Kestrel's MinRequestBodyDataRate; the first window is the grace
    /// period), 0 = off. Default: 1 KiB/s (8 kbit/s, a quarter of the leanest audio-only stream).
    /// </summary>
    public int SourceMinRate { get; init; } = 1024;

    /// <summary>yaml <c>max-dynamic-mounts</c>: mounts sources may create on the fly at once; over it, 503. Default: 100.</summary>
    public int MaxDynamicMounts { get; init; } = 100;

    /// <summary>
    /// yaml <c>max-tag-size</c> (size syntax): largest FLV tag DataSize a source may send; a larger one drops the source before
    /// it is buffered. Default: 4 MiB (a 4K keyframe is rarely above 1 MiB; FLV's own limit is 16 MiB).
    /// </summary>
    public int MaxTagSize { get; init; } = 4 * 1024 * 1024;

    /// <summary>
    /// yaml <c>partial-input-budget</c> (size syntax): bytes of incomplete tags/packets all sources may hold at once; over it,
    /// the source holding the most is dropped. Default: 64 MiB (16 sources each mid-way through a maximal tag).
    /// </summary>
    public long PartialInputBudget { get; init; } = 64L * 1024 * 1024;

    /// <summary>yaml <c>flush-interval</c>: how often listeners are woken to send. Default: 40ms (one frame at 25 fps).</summary>
    public TimeSpan FlushInterval { get; init; } = TimeSpan.FromMilliseconds(40);

    /// <summary>
    /// yaml <c>max-flush-interval</c>: how far the flush interval may stretch when the send loops are busy (fewer,
    /// larger writes per listener; this is the latency the operator accepts for it). Default: 250ms.
    /// </summary>
    public TimeSpan MaxFlushInterval { get; init; } = TimeSpan.FromMilliseconds(250);

    /// <summary>yaml <c>listener-send-buffer</c> (size syntax): SO_SNDBUF of listener sockets, 0 = kernel default. Default: 256 KiB.</summary>
    public int ListenerSendBuffer { get; init; } = 256 * 1024;

    /// <summary>
    /// yaml <c>request-head-timeout</c>: a connection's whole request head must arrive within this long of its accept, whoever
    /// reads it (front door, connection middleware, Kestrel); else 408 and close. Default: 10s (HAProxy's <c>timeout http-request</c>).
    /// </summary>
    public TimeSpan RequestHeadTimeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// yaml <c>max-pending-connections</c>: connections that have not finished their request head, server-wide; over it the oldest
    /// is shed. Default: 2000 (a join storm of 1,000 players a second finishes its heads in milliseconds).
    /// </summary>
    public int MaxPendingConnections { get; init; } = 2000;

    /// <summary>
    /// yaml <c>max-pending-per-address</c>: connections from one client address that have not finished their request head; over
    /// it, once the oldest has waited a second, new ones from that address are closed at accept. Default: 64 (a NAT of players joining at once stays far below).
    /// </summary>
    public int MaxPendingPerAddress { get; init; } = 64;

    /// <summary>
    /// yaml <c>trusted-proxies</c>: CIDRs of reverse proxies whose <c>X-Forwarded-For</c> / <c>Forwarded</c> headers are believed
    /// (<see cref="Http.ClientAddress"/>). Default: none (the socket's peer is the client).
    /// </summary>
    public IReadOnlyList<System.Net.IPNetwork> TrustedProxies { get; init => field = ValueList<System.Net.IPNetwork>.From(value); } = ValueList<System.Net.IPNetwork>.Empty;

    /// <summary>yaml <c>listener-ip</c>: CIDR allow/deny lists for every listener (a mount's own apply too). Default: none.</summary>
    public Auth.IpRules ListenerIp { get; init; } = Auth.IpRules.None;

    /// <summary>yaml <c>source-ip</c>: CIDR allow/deny lists for every source (a mount's own apply too). Default: none.</summary>
    public Auth.IpRules SourceIp { get; init; } = Auth.IpRules.None;

    /// <summary>
    /// yaml <c>tls-certificate</c>: the PEM certificate (chain) served on <c>https://</c> listen URLs, resolved against the config
    /// file's folder. Read again when the file changes (checked at most once a second, on a handshake) and on each reload.
    /// Default: none (an https:// listen URL then is an error).
    /// </summary>
    public string? TlsCertificate { get; init; }

    /// <summary>yaml <c>tls-key</c>: the PEM private key of <see cref="TlsCertificate"/>, resolved like it. Default: none.</summary>
    public string? TlsKey { get; init; }

    /// <summary>
    /// yaml <c>max-connections-per-address</c>: requests in progress at once from one client address (a stream counts for its
    /// whole life), 0 = no cap; over it listeners get 429, sources 403. Default: 0 (a carrier-grade NAT or a corporate proxy
    /// puts thousands of players behind one address: a cap is a deployment's choice, see samples/tls.yaml).
    /// </summary>
    public int MaxConnectionsPerAddress { get; init; }

    /// <summary>
    /// yaml <c>max-new-connections-per-address</c>: new requests per second from one client address (a token bucket of that
    /// many, refilled every second), 0 = no cap; over it listeners get 429, sources 403. Default: 0 (as above).
    /// </summary>
    public int MaxNewConnectionsPerAddress { get; init; }

    /// <summary>yaml <c>access-log</c>: a file path, <c>-</c> for stdout. Default: none (off).</summary>
    public string? AccessLog { get; init; }

    /// <summary>
    /// yaml <c>redirect</c> (<c>never</c>, <c>when-full</c>, <c>always</c>): send new listeners (302, path and query kept) to a
    /// slave with room, when this server or the mount is at its max-listeners, or always. Default: never.
    /// </summary>
    public RedirectMode Redirect { get; init; } = RedirectMode.Never;

    /// <summary>yaml <c>watch-config</c>: reload the config file when it changes (debounced). Default: true (SIGHUP works either way).</summary>
    public bool WatchConfig { get; init; } = true;

    /// <summary>
    /// yaml <c>mount-defaults</c>: the same keys as a mount minus <c>path</c>. Settings of dynamic mounts, and the defaults of
    /// every declared mount (a mount's own keys override them). Default: every <see cref="MountConfig"/> default.
    /// </summary>
    public MountConfig MountDefaults { get; init; } = new() { Path = "/" };
}

/// <summary>When a master sends new listeners to its slaves (yaml <c>server.redirect</c>).</summary>
public enum RedirectMode
{
    /// <summary>Never: every listener is served here (or refused with 503).</summary>
    Never,

    /// <summary>When this server or the mount is at its max-listeners.</summary>
    WhenFull,

    /// <summary>Whenever a slave has room.</summary>
    Always,
}
