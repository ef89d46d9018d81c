using Savate.Relay.Tests.Infrastructure;
using Savate.Relay.Upstream;

namespace Savate.Relay.Tests;

/// <summary>Default (long) timeouts, verified on a manual clock without waiting for them.</summary>
public sealed class FakeClockTests
{
    private readonly FakeRelayHost _host = new();
    private readonly LogCapture _logs = new();
    private readonly ManualTimeProvider _clock = new();

    [Fact]
    public async Task Streaming_DefaultIdleTimeout_DisconnectsOnlyAfterTwentyClockSeconds()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        var options = new RelayOptions { Mount = "/live.flv", Upstreams = [new Uri(upstream.Url, "/live.flv")] };
        Assert.True(options.OnDemand);
        Assert.Equal(TimeSpan.FromSeconds(20), options.IdleTimeout);
        await using var manager = new RelayManager([options], null, _host, null, _logs, _clock);
        _host.SetListeners("/live.flv", 1);
        await manager.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => upstream.Active == 1 && _host.Bytes > 0);

        _host.SetListeners("/live.flv", 0);
        // Small steps, so the data flowing in real time keeps re-arming the 10 s idle-read timer.
        await AdvanceAsync(TimeSpan.FromSeconds(19));
        Assert.Equal(1, upstream.Active);
        Assert.Equal(RelayState.Streaming, manager.GetStatuses()[0].State);

        await AdvanceAsync(TimeSpan.FromSeconds(2));

        await Eventually.TrueAsync(() => upstream.Active == 0 && manager.GetStatuses()[0].State == RelayState.Idle);
        Assert.Equal(1, upstream.Requests);
    }

    [Fact]
    public async Task ReadAsync_DefaultIdleReadTimeout_FiresAfterTenClockSeconds()
    {
        var pipe = new System.IO.Pipelines.Pipe();
        var defaults = new RelayOptions { Mount = "/x" };
        await using var stream = new IdleTimeoutStream(pipe.Reader.AsStream(), defaults.FirstByteTimeout, defaults.IdleReadTimeout, _clock);
        await pipe.Writer.WriteAsync(new byte[] { 1 });
        Assert.Equal(1, await stream.ReadAsync(new byte[4]));

        var read = stream.ReadAsync(new byte[4]).AsTask();
        _clock.Advance(TimeSpan.FromSeconds(9.9));
        await Task.Delay(50);
        Assert.False(read.IsCompleted);

        _clock.Advance(TimeSpan.FromSeconds(0.2));

        await Assert.ThrowsAsync<IOException>(() => read);
        Assert.StartsWith("idle-read timeout: no data for 10000 ms", stream.TimeoutMessage);
    }

    [Fact]
    public async Task Round_LoneUpstreamCircuitOpen_NoAttemptUntilTheBreakEnds()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Status(500));
        var options = new RelayOptions { Mount = "/live.flv", Upstreams = [new Uri(upstream.Url, "/live.flv")], OnDemand = false };
        Assert.Equal(TimeSpan.FromSeconds(30), options.CircuitBreakDuration);
        await using var manager = new RelayManager([options], null, _host, null, _logs, _clock);
        await manager.StartAsync(CancellationToken.None);

        // The first failures come within a second of clock time (backoff 250 ms, doubling); the third opens the circuit.
        for (var i = 0; i < 80 && _logs.Count(8) == 0; i++)
        {
            await AdvanceAsync(TimeSpan.FromMilliseconds(250));
        }
        Assert.Equal(1, _logs.Count(8));
        Assert.Contains("skipping it for 00:00:30", _logs.Of(8)[0].Message, StringComparison.Ordinal);
        var requests = upstream.Requests;
        Assert.Equal(options.CircuitBreakerThreshold, requests);

        // Nothing is tried while the circuit is open: the pause the log announced is real.
        await AdvanceAsync(TimeSpan.FromSeconds(29));
        await Task.Delay(200);
        Assert.Equal(requests, upstream.Requests);

        await AdvanceAsync(TimeSpan.FromSeconds(2));
        await Eventually.TrueAsync(() => upstream.Requests == requests + 1);
        await Task.Delay(200);
        Assert.Equal(requests + 1, upstream.Requests);
    }

    private async Task AdvanceAsync(TimeSpan by)
    {
        var step = TimeSpan.FromMilliseconds(250);
        for (var done = TimeSpan.Zero; done < by; done += step)
        {
            _clock.Advance(step);
            await Task.Delay(5);
        }
    }
}
