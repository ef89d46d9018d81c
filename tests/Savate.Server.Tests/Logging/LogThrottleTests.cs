using Xunit;
using Savate.Server.Logging;
using Savate.Server.Tests.Fakes;

namespace Savate.Server.Tests.Logging;

public sealed class LogThrottleTests
{
    [Fact]
    public void ShouldLog_FirstEventThenRepeats_LogsOnceAndReportsSuppressedCountAfterWindow()
    {
        var clock = new ManualTimeProvider();
        var throttle = new LogThrottle(clock, TimeSpan.FromSeconds(10));

        Assert.True(throttle.ShouldLog("1.2.3.4", out var suppressed));
        Assert.Equal(0, suppressed);
        for (var i = 0; i < 279; i++)
        {
            Assert.False(throttle.ShouldLog("1.2.3.4", out _));
        }

        clock.Advance(TimeSpan.FromSeconds(10));
        Assert.True(throttle.ShouldLog("1.2.3.4", out suppressed));
        Assert.Equal(279, suppressed);
        Assert.False(throttle.ShouldLog("1.2.3.4", out _));
    }

    [Fact]
    public void ShouldLog_DifferentKeys_AreLimitedSeparately()
    {
        var throttle = new LogThrottle(new ManualTimeProvider(), TimeSpan.FromSeconds(10));

        Assert.True(throttle.ShouldLog("a", out _));
        Assert.True(throttle.ShouldLog("b", out _));
        Assert.False(throttle.ShouldLog("a", out _));
        Assert.False(throttle.ShouldLog("b", out _));
    }

    [Fact]
    public void ShouldLog_FloodFromManyKeys_StaysBoundedAndSharesOverflowEntry()
    {
        var clock = new ManualTimeProvider();
        var throttle = new LogThrottle(clock, TimeSpan.FromSeconds(10), maxKeys: 100);

        var logged = 0;
        for (var i = 0; i < 10_000; i++)
        {
            if (throttle.ShouldLog($"10.0.{i / 256}.{i % 256}", out _))
            {
                logged++;
            }
        }

        // 99 keys of their own, then every other address shares the overflow entry: one more line.
        Assert.Equal(100, logged);
        Assert.Equal(100, throttle.Count);

        // Once the window passes, stale keys make room again.
        clock.Advance(TimeSpan.FromSeconds(21));
        Assert.True(throttle.ShouldLog("192.0.2.1", out _));
        Assert.True(throttle.Count <= 100);
    }
}
