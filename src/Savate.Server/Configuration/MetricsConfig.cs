namespace Savate.Server.Configuration;

/// <summary>yaml <c>metrics</c>: where metrics go besides the Prometheus scrape at <c>/metrics</c> (always on).</summary>
public sealed record MetricsConfig
{
    /// <summary>yaml <c>otlp-endpoint</c>: an absolute http(s) URL of an OTLP/HTTP collector (e.g. <c>http://collector:4318</c>) metrics are pushed to. Default: none (no push).</summary>
    public string? OtlpEndpoint { get; init; }

    /// <summary>yaml <c>otlp-interval</c>: how often metrics are pushed. Default: 15s (the Prometheus scrape interval people use most).</summary>
    public TimeSpan OtlpInterval { get; init; } = TimeSpan.FromSeconds(15);
}
