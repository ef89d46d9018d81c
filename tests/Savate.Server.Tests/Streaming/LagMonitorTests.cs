using Microsoft.Extensions.Logging.Abstractions;
using Savate.Server.Configuration;
using Savate.Server.Streaming;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class LagMonitorTests
{
    [Fact]
    public void CheckAll_ThousandsOfListeners_AllocatesNothingPerListener()
    {
        // Four times a second over every listener: a new snapshot array each time was 32 KB per check at 4,000
        // listeners (a large-object-heap array from about 10,600).
        var time = new ManualTimeProvider();
        using var registry = new MountRegistry(new SavateConfig { Server = new ServerConfig(), Mounts = [new MountConfig { Path = "/live" }] },
            time, NullLoggerFactory.Instance, new SlicePool());
        var monitor = new LagMonitor(registry, time, NullLogger<LagMonitor>.Instance);
        var mount = registry.Find("/live")!;
        for (var i = 0; i < 4000; i++)
        {
            Assert.True(mount.TryAddListener(new Listener(mount, new MemorySink(), "listener")));
        }
        monitor.CheckAll();

        var before = GC.GetAllocatedBytesForCurrentThread();
        monitor.CheckAll();
        var allocated = GC.GetAllocatedBytesForCurrentThread() - before;

        // What is left is reading /proc for the TCP memory sample (a few hundred bytes), not 8 bytes per listener.
        Assert.True(allocated < 8_000, $"{allocated} bytes allocated by one check of 4,000 listeners");
    }
}
