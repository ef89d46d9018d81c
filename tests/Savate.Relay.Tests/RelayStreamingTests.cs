using Savate.Relay.Tests.Infrastructure;
using static Savate.Relay.Tests.RelayTestHelpers;

namespace Savate.Relay.Tests;

public sealed class RelayStreamingTests
{
    private readonly FakeRelayHost _host = new();
    private readonly LogCapture _logs = new();

    [Fact]
    public async Task StartAsync_UpstreamStreams_FeedsBytesWithContentType()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream("video/x-flv"));
        await using var manager = Manager(_host, _logs, null, Fast("/live.flv", upstream.At("/live.flv")));

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Bytes >= 8 * 1024);
        var feed = Assert.Single(_host.Feeds);
        Assert.Equal("/live.flv", feed.Mount);
        Assert.Equal("video/x-flv", feed.ContentType);
        Assert.Equal("/live.flv", Assert.Single(upstream.Paths));
        var status = manager.Status("/live.flv");
        Assert.Equal(RelayState.Streaming, status.State);
        Assert.Equal(upstream.At("/live.flv").ToString(), status.Upstream);
        Assert.Equal(1, status.Connects);
        Assert.Equal(0, status.Reconnects);
        Assert.False(status.OnDemand);
    }

    [Fact]
    public async Task StartAsync_FirstUpstreamRefusesConnections_FailsOverToSecond()
    {
        await using var second = await TestUpstream.StartAsync(TestUpstream.Stream("video/mp2t"));
        await using var manager = Manager(_host, _logs, null, Fast("/live.ts", TestUpstream.RefusingUrl(), second.At("/live.ts")));

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Bytes > 0);
        Assert.Equal("video/mp2t", Assert.Single(_host.Feeds).ContentType);
        var status = manager.Status("/live.ts");
        Assert.Equal(RelayState.Streaming, status.State);
        Assert.Equal(second.At("/live.ts").ToString(), status.Upstream);
        Assert.Contains("127.0.0.1", status.LastError);
    }

    [Fact]
    public async Task FeedAsync_BodyEndsAfterStreaming_ReconnectsInUnderOneSecondAndCounts()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream(duration: TimeSpan.FromMilliseconds(300)));
        await using var manager = Manager(_host, _logs, null, Fast("/live.flv", upstream.At("/live.flv")));

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Feeds.Count >= 3);
        var feeds = _host.Feeds.ToArray();
        var gap = feeds[1].Start - feeds[0].End!.Value;
        Assert.True(gap < TimeSpan.FromSeconds(1), $"first reconnect took {gap.TotalMilliseconds} ms");
        var status = manager.Status("/live.flv");
        Assert.True(status.Connects >= 3);
        Assert.Equal(status.Connects - 1, status.Reconnects);
        Assert.NotNull(status.LastError);
        var log = string.Join(Environment.NewLine, _logs.Entries.Select(e => e.Message));
        Assert.True(_logs.Count(4) >= 2, "each lost upstream is logged: " + log);
        Assert.True(_logs.Count(5) == 0, "no backoff after healthy streams: " + log);
    }

    [Fact]
    public async Task Retry_UpstreamKeepsFailing_BackoffGrowsAndIsCapped()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Status(503));
        var options = Fast("/live.flv", upstream.At("/live.flv")) with
        {
            FirstRetryDelay = TimeSpan.FromMilliseconds(20),
            MaxRetryDelay = TimeSpan.FromMilliseconds(200),
            CircuitBreakerThreshold = 1000,
        };
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _logs.Count(6) >= 12, 10_000);
        var delays = _logs.Of(6).Select(e => (TimeSpan)e.Values["Delay"]!).ToList();
        Assert.True(delays[0] < TimeSpan.FromMilliseconds(100), $"first retry {delays[0]}");
        Assert.All(delays, d => Assert.True(d <= options.MaxRetryDelay, $"delay {d} above cap"));
        Assert.Equal(options.MaxRetryDelay, delays[^1]);
        Assert.True(delays.Skip(8).Min() > delays[0], "backoff grows");
        var status = manager.Status("/live.flv");
        Assert.Contains("HTTP 503", status.LastError);
        Assert.Equal(0, status.Connects);
        Assert.Empty(_host.Feeds);
    }

    [Fact]
    public async Task Retry_DefaultFirstRetryDelay_FirstRetryWellUnderOneSecond()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Status(500));
        var options = Fast("/live.flv", upstream.At("/live.flv")) with
        {
            FirstRetryDelay = new RelayOptions { Mount = "/x" }.FirstRetryDelay,
            MaxRetryDelay = new RelayOptions { Mount = "/x" }.MaxRetryDelay,
        };
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _logs.Count(6) >= 1);
        var first = (TimeSpan)_logs.Of(6)[0].Values["Delay"]!;
        Assert.True(first < TimeSpan.FromMilliseconds(500), $"first retry {first}");
    }

    [Fact]
    public async Task RunRound_UpstreamKeepsFailing_CircuitOpensAndSkipsIt()
    {
        await using var failing = await TestUpstream.StartAsync(TestUpstream.Status(500));
        await using var healthy = await TestUpstream.StartAsync(TestUpstream.Stream(duration: TimeSpan.FromMilliseconds(150)));
        var options = Fast("/live.flv", failing.At("/live.flv"), healthy.At("/live.flv")) with
        {
            CircuitBreakerThreshold = 3,
            CircuitBreakDuration = TimeSpan.FromSeconds(30),
        };
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        // Each healthy stream that ends starts a new round at the preferred (failing) upstream.
        await Eventually.TrueAsync(() => healthy.Requests >= 7, 10_000);
        Assert.Equal(3, failing.Requests);
        Assert.Equal(1, _logs.Count(8));
        Assert.Contains(_logs.Of(10), e => e.Message.Contains("circuit open", StringComparison.Ordinal));
    }

    [Fact]
    public async Task FeedAsync_UpstreamStalls_IdleReadTimeoutEndsFeedAndReconnects()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stall());
        var options = Fast("/live.ts", upstream.At("/live.ts")) with { IdleReadTimeout = TimeSpan.FromMilliseconds(200) };
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Feeds.Count >= 2);
        var first = _host.Feeds.First();
        Assert.NotNull(first.End);
        var elapsed = first.End.Value - first.Start;
        Assert.True(elapsed < TimeSpan.FromSeconds(1), $"feed ended after {elapsed.TotalMilliseconds} ms");
        Assert.IsType<TimeoutException>(Assert.IsType<IOException>(first.Error).InnerException);
        Assert.Equal(188, first.Bytes);
        await Eventually.TrueAsync(() => manager.Status("/live.ts").LastError?.Contains("idle-read timeout", StringComparison.Ordinal) == true);
    }

    [Fact]
    public async Task FeedAsync_NoFirstByte_FirstByteTimeoutFails()
    {
        await using var upstream = await TestUpstream.StartAsync(async context =>
        {
            context.Response.ContentType = "video/x-flv";
            await context.Response.StartAsync();
            await context.Response.Body.FlushAsync();
            await Task.Delay(Timeout.Infinite, context.RequestAborted).ContinueWith(_ => { });
        });
        var options = Fast("/live.flv", upstream.At("/live.flv")) with { FirstByteTimeout = TimeSpan.FromMilliseconds(150) };
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => manager.Status("/live.flv").LastError?.Contains("no first byte", StringComparison.Ordinal) == true, describe: () => manager.Status("/live.flv").ToString());
        Assert.NotEqual(RelayState.Streaming, manager.Status("/live.flv").State);
    }

    [Fact]
    public async Task Retry_UpstreamKeepsFailing_BackingOffLoggedOnceNotPerRetry()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Status(404));
        await using var manager = Manager(_host, _logs, null, Fast("/live.flv", upstream.At("/live.flv")));

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => upstream.Requests >= 6);
        Assert.Equal(1, _logs.Count(5));
        Assert.Equal(1, _logs.Count(2));
        Assert.Contains("HTTP 404", _logs.Of(5)[0].Message);
        Assert.True(_logs.Count(6) >= 5, "each retry is still logged at Debug");
        Assert.Equal(RelayState.BackingOff, manager.Status("/live.flv").State);

        // Recovery is a state change: logged once (once the stream has lasted StableAfter).
        upstream.Handler = TestUpstream.Stream();
        await Eventually.TrueAsync(() => manager.Status("/live.flv").State == RelayState.Streaming);
        await Eventually.TrueAsync(() => _logs.Count(3) == 1);
        Assert.Equal(1, _logs.Count(5));
    }

    [Fact]
    public async Task Retry_SameFailureEveryAttempt_LoggedOnceThenWithACountPerInterval()
    {
        // An upstream that answers and sends bytes the host cannot take, every time (FLV relayed from Icecast).
        _host.Result = RelayFeedResult.BadData;
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        var options = Fast("/live.flv", upstream.At("/live.flv")) with
        {
            MaxRetryDelay = TimeSpan.FromMilliseconds(50),
            CircuitBreakDuration = TimeSpan.FromMilliseconds(500),
            RepeatedFailureLogInterval = TimeSpan.FromSeconds(1),
        };
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Feeds.Count >= 12 && _logs.Count(13) >= 1, 15_000);
        var log = string.Join(Environment.NewLine, _logs.Entries.Where(e => e.Level > Microsoft.Extensions.Logging.LogLevel.Debug).Select(e => e.Message));
        Assert.True(_logs.Count(5) == 1, "the failure is logged once: " + log);
        Assert.True(_logs.Count(3) <= 1, "streaming is logged for the first attempt at most, not for each that fails: " + log);
        Assert.True(_logs.Count(8) <= 1, "the circuit opening is logged once: " + log);
        var still = _logs.Of(13)[0];
        Assert.True((long)still.Values["Count"]! >= 1, still.Message);
        Assert.Contains("not FLV or MPEG-TS", still.Message, StringComparison.Ordinal);
        var levels = _logs.Entries.Where(e => e.Level > Microsoft.Extensions.Logging.LogLevel.Debug).ToList();
        Assert.True(levels.Count < _host.Feeds.Count, $"{levels.Count} lines for {_host.Feeds.Count} attempts: " + log);
    }

    [Fact]
    public async Task Retry_Unauthorized_BacksOffForMaxRetryDelay()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Status(401));
        var options = Fast("/live.flv", upstream.At("/live.flv"));
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _logs.Count(6) >= 1);
        Assert.Equal(options.MaxRetryDelay, (TimeSpan)_logs.Of(6)[0].Values["Delay"]!);
        Assert.Contains("HTTP 401", manager.Status("/live.flv").LastError);
    }

    [Fact]
    public async Task FeedAsync_HostRefuses_BacksOffWithoutOpeningCircuit()
    {
        _host.Result = RelayFeedResult.Refused;
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        var options = Fast("/live.flv", upstream.At("/live.flv")) with { MaxRetryDelay = TimeSpan.FromMilliseconds(50), CircuitBreakerThreshold = 2 };
        await using var manager = Manager(_host, _logs, null, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Feeds.Count >= 4);
        Assert.Equal(0, _logs.Count(8));
        Assert.Contains("another source", manager.Status("/live.flv").LastError);
    }

    [Fact]
    public async Task StartAsync_UrlWithUserInfo_SendsBasicAuthAndHidesPassword()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        var url = new UriBuilder(upstream.At("/live.flv")) { UserName = "relay", Password = "s3cret" }.Uri;
        await using var manager = Manager(_host, _logs, null, Fast("/live.flv", url));

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Bytes > 0);
        Assert.Equal("Basic " + Convert.ToBase64String("relay:s3cret"u8.ToArray()), upstream.AuthorizationHeaders.First());
        Assert.DoesNotContain("s3cret", manager.Status("/live.flv").Upstream);
        Assert.DoesNotContain(_logs.Entries, e => e.Message.Contains("s3cret", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DisposeAsync_WhileStreaming_ClosesUpstreamConnectionsAndStops()
    {
        await using var upstream = await TestUpstream.StartAsync(TestUpstream.Stream());
        var manager = Manager(_host, _logs, null, Fast("/a.flv", upstream.At("/a.flv")), Fast("/b.flv", upstream.At("/b.flv")));
        await manager.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => upstream.Active == 2 && _host.Bytes > 0);

        await manager.DisposeAsync();

        Assert.All(_host.Feeds, f => Assert.NotNull(f.End));
        await Eventually.TrueAsync(() => upstream.Active == 0, because: "upstream connections closed");
        Assert.All(manager.GetStatuses(), s => Assert.Equal(RelayState.Stopped, s.State));
        var requests = upstream.Requests;
        await Task.Delay(200);
        Assert.Equal(requests, upstream.Requests);
    }

    [Fact]
    public void Constructor_InvalidOptions_ListsEveryProblem()
    {
        var error = Assert.Throws<ArgumentException>(() => Manager(
            _host,
            _logs,
            new MasterOptions { Url = new Uri("ftp://master/") },
            new RelayOptions { Mount = "live.flv" },
            new RelayOptions { Mount = "/x.flv", Upstreams = [new Uri("ftp://host/x")], IdleReadTimeout = TimeSpan.Zero }));

        Assert.Contains("relay live.flv: mount must start with '/'", error.Message);
        Assert.Contains("relay live.flv: give at least one upstream URL", error.Message);
        Assert.Contains("relay /x.flv: upstream 'ftp://host/x'", error.Message);
        Assert.Contains("relay /x.flv: idle-read-timeout must be positive", error.Message);
        Assert.Contains("master: url", error.Message);
    }
}
