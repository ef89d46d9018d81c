using Savate.Relay.Tests.Infrastructure;
using static Savate.Relay.Tests.RelayTestHelpers;

namespace Savate.Relay.Tests;

public sealed class OnDemandTests
{
    private readonly FakeRelayHost _host = new();
    private readonly LogCapture _logs = new();

    [Fact]
    public async Task StartAsync_OnDemandWithoutListeners_DoesNotConnectUntilListenerArrives()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        await using var manager = Manager(_host, _logs, null, Fast("/live.flv", upstream.At("/live.flv")) with { OnDemand = true });

        await manager.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => _host.WaitCalls == 1);
        await Task.Delay(200);

        Assert.Equal(0, upstream.Requests);
        var idle = manager.Status("/live.flv");
        Assert.Equal(RelayState.Idle, idle.State);
        Assert.True(idle.OnDemand);

        _host.SetListeners("/live.flv", 1);

        await Eventually.TrueAsync(() => manager.Status("/live.flv").State == RelayState.Streaming, 2000);
        Assert.Equal(1, upstream.Requests);
        Assert.Equal(1, _logs.Count(1));
    }

    [Fact]
    public async Task Streaming_ListenersLeave_DisconnectsAfterIdleTimeoutAndGoesIdle()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        var options = Fast("/live.flv", upstream.At("/live.flv")) with { OnDemand = true, IdleTimeout = TimeSpan.FromMilliseconds(300) };
        await using var manager = Manager(_host, _logs, null, options);
        _host.SetListeners("/live.flv", 1);
        await manager.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => upstream.Active == 1 && _host.Bytes > 0);

        var left = DateTimeOffset.UtcNow;
        _host.SetListeners("/live.flv", 0);

        await Eventually.TrueAsync(() => upstream.Active == 0, 3000, "upstream connection closed");
        var after = DateTimeOffset.UtcNow - left;
        Assert.True(after >= TimeSpan.FromMilliseconds(250), $"disconnected after {after.TotalMilliseconds} ms, before the idle timeout");
        await Eventually.TrueAsync(() => manager.Status("/live.flv").State == RelayState.Idle);
        Assert.Equal(1, _logs.Count(7));
        Assert.Equal(1, upstream.Requests);

        // The next listener starts a new pull.
        _host.SetListeners("/live.flv", 1);
        await Eventually.TrueAsync(() => upstream.Requests == 2 && manager.Status("/live.flv").State == RelayState.Streaming);
        Assert.Equal(0, manager.Status("/live.flv").Reconnects);
    }

    [Fact]
    public async Task Streaming_ListenerReturnsWithinIdleTimeout_KeepsConnection()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        var options = Fast("/live.flv", upstream.At("/live.flv")) with { OnDemand = true, IdleTimeout = TimeSpan.FromMilliseconds(400) };
        await using var manager = Manager(_host, _logs, null, options);
        _host.SetListeners("/live.flv", 1);
        await manager.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => upstream.Active == 1);

        _host.SetListeners("/live.flv", 0);
        await Task.Delay(150);
        _host.SetListeners("/live.flv", 2);
        await Task.Delay(500);

        Assert.Equal(1, upstream.Requests);
        Assert.Equal(1, upstream.Active);
        Assert.Equal(0, _logs.Count(7));
    }

    [Fact]
    public async Task BodyEnds_NoListenersLeft_GoesIdleWithoutReconnecting()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream(duration: TimeSpan.FromMilliseconds(200)));
        var options = Fast("/live.flv", upstream.At("/live.flv")) with { OnDemand = true, IdleTimeout = TimeSpan.FromSeconds(10) };
        await using var manager = Manager(_host, _logs, null, options);
        _host.SetListeners("/live.flv", 1);
        await manager.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => _host.Bytes > 0);

        _host.SetListeners("/live.flv", 0);

        await Eventually.TrueAsync(() => _host.Feeds.All(f => f.End is not null) && manager.Status("/live.flv").State == RelayState.Idle);
        await Task.Delay(200);
        Assert.Equal(1, upstream.Requests);
    }
}
