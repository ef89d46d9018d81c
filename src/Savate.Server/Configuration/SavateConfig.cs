namespace Savate.Server.Configuration;

/// <summary>The whole <c>savate.yaml</c>, validated. An immutable snapshot: a reload builds a new one.</summary>
public sealed record SavateConfig
{
    /// <summary>yaml <c>server</c>. Default: every <see cref="ServerConfig"/> default.</summary>
    public ServerConfig Server { get; init; } = new();

    /// <summary>yaml <c>mounts</c>: the declared mounts, in file order. Default: none (mounts are created dynamically).</summary>
    public IReadOnlyList<MountConfig> Mounts { get; init => field = ValueList<MountConfig>.From(value); } = ValueList<MountConfig>.Empty;

    /// <summary>yaml <c>relays</c>: mounts pulled from an upstream server. Default: none.</summary>
    public IReadOnlyList<RelayConfig> Relays { get; init => field = ValueList<RelayConfig>.From(value); } = ValueList<RelayConfig>.Empty;

    /// <summary>yaml <c>master</c>: a master server whose mounts are all relayed. Default: none.</summary>
    public MasterConfig? Master { get; init; }

    /// <summary>yaml <c>metrics</c>: OTLP push of the metrics. Default: no push (the <c>/metrics</c> scrape is always served).</summary>
    public MetricsConfig Metrics { get; init; } = new();

    /// <summary>
    /// Directory relative paths (fallback files) are resolved against: the config file's directory
    /// for <see cref="ConfigLoader.Load"/>, the <c>baseDirectory</c> argument for <see cref="ConfigLoader.Parse"/>.
    /// </summary>
    public string BaseDirectory { get; init; } = ".";
}
