using Savate.Relay.Tests.Infrastructure;

namespace Savate.Relay.Tests;

internal static class RelayTestHelpers
{
    /// <summary>Options with small timeouts so the suite stays fast.</summary>
    public static RelayOptions Fast(string mount, params Uri[] upstreams) => new()
    {
        Mount = mount,
        Upstreams = upstreams,
        OnDemand = false,
        IdleTimeout = TimeSpan.FromMilliseconds(300),
        ConnectTimeout = TimeSpan.FromSeconds(1),
        FirstByteTimeout = TimeSpan.FromSeconds(1),
        IdleReadTimeout = TimeSpan.FromSeconds(1),
        FirstRetryDelay = TimeSpan.FromMilliseconds(20),
        MaxRetryDelay = TimeSpan.FromMilliseconds(300),
        StableAfter = TimeSpan.FromMilliseconds(100),
        // The break is real (a lone upstream waits it out): short, so failing upstreams are retried within a test.
        CircuitBreakDuration = TimeSpan.FromMilliseconds(500),
    };

    public static Uri At(this TestUpstream upstream, string path) => new(upstream.Url, path);

    public static RelayManager Manager(FakeRelayHost host, LogCapture logs, MasterOptions? master, params RelayOptions[] relays) =>
        new(relays, master, host, handler: null, logs, TimeProvider.System);

    public static RelayStatus Status(this RelayManager manager, string mount) => manager.GetStatuses().Single(s => s.Mount == mount);
}
