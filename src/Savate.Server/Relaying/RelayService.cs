using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Savate.Relay;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Relaying;

/// <summary>Runs the relays of the configuration (per-mount relays and master discovery) for the server's lifetime.</summary>
internal sealed class RelayService(SavateConfig config, MountRegistry registry, RelayHost host, ILoggerFactory loggerFactory, TimeProvider time)
    : IHostedService, IAsyncDisposable
{
    private RelayManager? _manager;

    public IReadOnlyList<RelayStatus> Statuses => _manager?.GetStatuses() ?? [];

    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (config.Relays.Count == 0 && config.Master is null)
        {
            return;
        }
        foreach (var relay in config.Relays)
        {
            registry.GetOrCreateRelayed(relay.Mount);
        }
        var relays = config.Relays.Select(r => new RelayOptions
        {
            Mount = r.Mount,
            Upstreams = [.. r.Upstreams.Select(u => new Uri(u))],
            OnDemand = r.OnDemand,
            IdleTimeout = r.IdleTimeout,
        });
        var master = config.Master is { } m
            ? new MasterOptions
            {
                Url = new Uri(m.Url),
                Username = m.Username,
                Password = m.Password,
                PollInterval = m.PollInterval,
                OnDemand = m.OnDemand,
            }
            : null;
        _manager = new RelayManager(relays, master, host, handler: null, loggerFactory, time);
        await _manager.StartAsync(cancellationToken).ConfigureAwait(false);
    }

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
