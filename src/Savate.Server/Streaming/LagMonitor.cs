using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Savate.Server.Streaming;

/// <summary>
/// Evicts listeners stuck in a write for longer than their mount's evict-lag: a peer that stops reading
/// never returns to its own send loop, so its lag has to be checked from outside.
/// </summary>
internal sealed class LagMonitor(MountRegistry registry, TimeProvider time, ILogger<LagMonitor> logger) : BackgroundService
{
    private bool _pressure;
    private Listener[] _listeners = [];

    // Eviction lands within evict-lag plus this period.
    private static readonly TimeSpan s_period = TimeSpan.FromMilliseconds(250);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(s_period, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                CheckAll();
            }
        }
        catch (OperationCanceledException)
        {
            // Stopping.
        }
    }

    public void CheckAll()
    {
        var sample = registry.TcpMemory.Sample();
        var pressure = sample.Known && sample.Pages > sample.MinPages;
        if (pressure != _pressure)
        {
            _pressure = pressure;
            long Mib(long pages) => pages * Environment.SystemPageSize / (1024 * 1024);
            StreamingLog.TcpMemoryPressure(logger, pressure ? "above" : "back below", Mib(sample.Pages), Mib(sample.MinPages), Mib(sample.PressurePages));
        }
        foreach (var mount in registry.Mounts)
        {
            // One array for every check and mount, not a new one each time; cleared after, so that it holds no
            // listener until the next check.
            var count = mount.CopyListeners(ref _listeners);
            for (var i = 0; i < count; i++)
            {
                _listeners[i].EvictIfStuck(pressure);
            }
            Array.Clear(_listeners, 0, count);
        }
    }
}
