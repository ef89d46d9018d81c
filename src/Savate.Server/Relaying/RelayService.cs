using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Savate.Relay;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Relaying;

/// <summary>
/// Runs the relays of the configuration (per-mount relays and master discovery) for the server's lifetime, and
/// applies a reloaded configuration's relays (<see cref="ApplyAsync"/>).
/// </summary>
internal sealed class RelayService(SavateConfig config, MountRegistry registry, RelayHost host, ILoggerFactory loggerFactory, TimeProvider time)
    : IHostedService, IAsyncDisposable
{
    private RelayManager? _manager;
    private SavateConfig _config = config;

    public IReadOnlyList<RelayStatus> Statuses => _manager?.GetStatuses() ?? [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        foreach (var relay in _config.Relays)
        {
            registry.GetOrCreateRelayed(relay.Mount);
        }
        // Created even with nothing to relay, so that a reload can add relays.
        _manager = new RelayManager(ToOptions(_config.Relays), ToOptions(_config.Master), host, loggerFactory, time);
        await _manager.StartAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Applies the relays and master of a reloaded config: new relayed mounts exist before their relay starts, a
    /// re-pointed relay keeps its connection unless its upstream was removed, and a removed relay's mount goes
    /// (unless it is declared under mounts). Returns the mounts whose relay reconnects.
    /// </summary>
    public async Task<IReadOnlyList<string>> ApplyAsync(SavateConfig next, CancellationToken cancellationToken)
    {
        var previous = _config;
        _config = next;
        if (_manager is not { } manager)
        {
            return [];
        }
        foreach (var relay in next.Relays)
        {
            registry.GetOrCreateRelayed(relay.Mount);
        }
        var reconnecting = await manager.ApplyAsync(ToOptions(next.Relays), ToOptions(next.Master), cancellationToken).ConfigureAwait(false);
        var kept = next.Relays.Select(r => r.Mount).ToHashSet(StringComparer.Ordinal);
        foreach (var relay in previous.Relays.Where(r => !kept.Contains(r.Mount)))
        {
            registry.RelayRemoved(relay.Mount);
        }
        return reconnecting;
    }

    /// <summary>What the relay library would refuse in <paramref name="next"/> (the config validator checks the same, so normally nothing).</summary>
    public static IReadOnlyList<string> Check(SavateConfig next) => RelayManager.Check(ToOptions(next.Relays), ToOptions(next.Master));

    private static IEnumerable<RelayOptions> ToOptions(IReadOnlyList<RelayConfig> relays) => relays.Select(r => new RelayOptions
    {
        Mount = r.Mount,
        Upstreams = [.. r.Upstreams.Select(u => new Uri(u))],
        OnDemand = r.OnDemand,
        IdleTimeout = r.IdleTimeout,
    });

    private static MasterOptions? ToOptions(MasterConfig? master) => master is { } m
        ? new MasterOptions
        {
            Url = new Uri(m.Url),
            PublicUrl = m.PublicUrl is { } publicUrl ? new Uri(publicUrl) : null,
            Username = m.Username,
            Password = m.Password,
            PollInterval = m.PollInterval,
            OnDemand = m.OnDemand,
        }
        : null;

    public async Task StopAsync(CancellationToken cancellationToken) => await DisposeAsync().ConfigureAwait(false);

    public async ValueTask DisposeAsync()
    {
        if (_manager is { } manager)
        {
            _manager = null;
            await manager.DisposeAsync().ConfigureAwait(false);
        }
    }
}
