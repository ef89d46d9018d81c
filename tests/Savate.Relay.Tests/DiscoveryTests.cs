using System.Text;
using Microsoft.AspNetCore.Http;
using Savate.Relay.Discovery;
using Savate.Relay.Tests.Infrastructure;
using static Savate.Relay.Tests.RelayTestHelpers;

namespace Savate.Relay.Tests;

public sealed class DiscoveryTests
{
    private readonly FakeRelayHost _host = new();
    private readonly LogCapture _logs = new();
    private volatile string _streamList = "/a.flv\n/b.ts\n";

    [Fact]
    public async Task Poll_StreamListWithBasicAuth_DiscoversNewAndRetiresVanishedMounts()
    {
        await using var master = await TestUpstream.StartAsync(ServeMaster("relay", "hackme"));
        var options = new MasterOptions { Url = master.Url, Password = "hackme", PollInterval = TimeSpan.FromMilliseconds(100) };
        await using var manager = Manager(_host, _logs, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Discovered.Count == 2);
        Assert.Equal(["/a.flv", "/b.ts"], _host.Discovered.Order());
        var statuses = manager.GetStatuses();
        Assert.Equal(["/a.flv", "/b.ts"], statuses.Select(s => s.Mount));
        Assert.Equal(new Uri(master.Url, "/b.ts").ToString(), statuses[1].Upstream);
        Assert.All(statuses, s => Assert.Equal(RelayState.Idle, s.State));
        Assert.All(statuses, s => Assert.True(s.OnDemand));

        _streamList = "/b.ts\r\n/c.flv\r\n";

        await Eventually.TrueAsync(() => _host.Retired.Count == 1 && _host.Discovered.Count == 3);
        Assert.Equal("/a.flv", Assert.Single(_host.Retired));
        Assert.Equal(["/b.ts", "/c.flv"], manager.GetStatuses().Select(s => s.Mount));
        Assert.All(master.AuthorizationHeaders, h => Assert.Equal(Basic("relay", "hackme"), h));
    }

    [Fact]
    public async Task Poll_DiscoveredMountWithListener_RelaysFromMasterWithCredentials()
    {
        await using var master = await TestUpstream.StartAsync(ServeMaster("relay", "hackme"));
        _host.SetListeners("/a.flv", 1);
        var options = new MasterOptions { Url = master.Url, Password = "hackme", PollInterval = TimeSpan.FromMilliseconds(100) };
        await using var manager = Manager(_host, _logs, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Bytes > 0);
        var feed = Assert.Single(_host.Feeds);
        Assert.Equal("/a.flv", feed.Mount);
        Assert.Equal(RelayState.Streaming, manager.Status("/a.flv").State);
        Assert.Equal(RelayState.Idle, manager.Status("/b.ts").State);
    }

    [Fact]
    public async Task Poll_WithPublicUrl_AnnouncesTheSlaveAndTheMountsItRelays()
    {
        var announcements = new System.Collections.Concurrent.ConcurrentQueue<SlaveAnnouncement?>();
        var serve = ServeMaster("relay", "hackme");
        await using var master = await TestUpstream.StartAsync(context =>
        {
            if (context.Request.Path == "/admin/streamlist.txt")
            {
                var headers = context.Request.Headers;
                announcements.Enqueue(SlaveAnnouncement.Parse(name => headers.TryGetValue(name, out var v) ? v.ToString() : null));
            }
            return serve(context);
        });
        _host.SetListeners("/a.flv", 3);
        var options = new MasterOptions { Url = master.Url, Password = "hackme", PollInterval = TimeSpan.FromMilliseconds(100), PublicUrl = new Uri("http://slave-1.example:8000/") };
        await using var manager = Manager(_host, _logs, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => announcements.Any(a => a?.Mounts.Count == 2));
        var first = announcements.First();
        Assert.NotNull(first);
        Assert.Equal(new Uri("http://slave-1.example:8000"), first.PublicUrl);
        Assert.Empty(first.Mounts);
        Assert.Equal(TimeSpan.FromMilliseconds(100), first.PollInterval);
        var later = announcements.Last(a => a?.Mounts.Count == 2)!;
        Assert.Equal((3, (int?)null), later.Mounts["/a.flv"]);
        Assert.Equal((0, (int?)null), later.Mounts["/b.ts"]);
    }

    [Fact]
    public async Task Poll_WithoutPublicUrl_AnnouncesNothing()
    {
        var announced = 0;
        var serve = ServeMaster("relay", "hackme");
        await using var master = await TestUpstream.StartAsync(context =>
        {
            if (context.Request.Headers.ContainsKey(SlaveAnnouncement.PublicUrlHeader))
            {
                Interlocked.Increment(ref announced);
            }
            return serve(context);
        });
        var options = new MasterOptions { Url = master.Url, Password = "hackme", PollInterval = TimeSpan.FromMilliseconds(50) };
        await using var manager = Manager(_host, _logs, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => master.Requests >= 3);
        Assert.Equal(0, Volatile.Read(ref announced));
    }

    [Fact]
    public async Task Poll_WrongPassword_DiscoversNothingAndLogsFailureOnce()
    {
        await using var master = await TestUpstream.StartAsync(ServeMaster("relay", "hackme"));
        var options = new MasterOptions { Url = master.Url, Password = "wrong", PollInterval = TimeSpan.FromMilliseconds(50) };
        await using var manager = Manager(_host, _logs, options);

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => master.Requests >= 4);
        Assert.Empty(_host.Discovered);
        Assert.Equal(1, _logs.Count(22));
        Assert.Contains("401", _logs.Of(22)[0].Message);
    }

    [Fact]
    public async Task Poll_MasterTemporarilyDown_KeepsMountsAndRecovers()
    {
        await using var master = await TestUpstream.StartAsync(ServeMaster("relay", "hackme"));
        var options = new MasterOptions { Url = master.Url, Password = "hackme", PollInterval = TimeSpan.FromMilliseconds(50) };
        await using var manager = Manager(_host, _logs, options);
        await manager.StartAsync(CancellationToken.None);
        await Eventually.TrueAsync(() => _host.Discovered.Count == 2);

        var handler = master.Handler;
        master.Handler = TestUpstream.Status(503);
        var failedAt = master.Requests;
        await Eventually.TrueAsync(() => master.Requests >= failedAt + 3);
        Assert.Empty(_host.Retired);
        Assert.Equal(2, manager.GetStatuses().Count);

        master.Handler = handler;
        await Eventually.TrueAsync(() => _logs.Count(23) == 1);
        Assert.Equal(1, _logs.Count(22));
        Assert.Equal(2, _host.Discovered.Count);
    }

    [Fact]
    public async Task Poll_MountAlsoConfiguredStatically_StaticRelayWins()
    {
        await using var master = await TestUpstream.StartAsync(ServeMaster("relay", "hackme"));
        var options = new MasterOptions { Url = master.Url, Password = "hackme", PollInterval = TimeSpan.FromMilliseconds(50) };
        var other = new Uri("http://127.0.0.1:1/other.flv");
        await using var manager = Manager(_host, _logs, options, Fast("/a.flv", other) with { OnDemand = true });

        await manager.StartAsync(CancellationToken.None);

        await Eventually.TrueAsync(() => _host.Discovered.Count == 1);
        Assert.Equal("/b.ts", Assert.Single(_host.Discovered));
        Assert.Equal(other.ToString(), manager.Status("/a.flv").Upstream);
    }

    [Theory]
    [InlineData("/live.flv", true)]
    [InlineData("  /live.ts  ", true)]
    [InlineData("/radio/stream.mp3", true)]
    [InlineData("live.flv", false)]
    [InlineData("/", false)]
    [InlineData("/../etc/passwd", false)]
    [InlineData("/a b", false)]
    [InlineData("/a?x=1", false)]
    [InlineData("/admin/stats", false)]
    [InlineData("<html>", false)]
    public void TryParseMount_Line_AcceptsOnlyMountPaths(string line, bool expected)
    {
        Assert.Equal(expected, MasterPoller.TryParseMount(line, out _));
    }

    private static string Basic(string user, string password) =>
        "Basic " + Convert.ToBase64String(Encoding.UTF8.GetBytes($"{user}:{password}"));

    /// <summary>A master: streamlist.txt behind Basic auth, every listed mount streams.</summary>
    private Func<HttpContext, Task> ServeMaster(string user, string password)
    {
        var stream = TestUpstream.Stream();
        return async context =>
        {
            if (context.Request.Headers.Authorization.ToString() != Basic(user, password))
            {
                context.Response.StatusCode = 401;
                return;
            }

            if (context.Request.Path == "/admin/streamlist.txt")
            {
                context.Response.ContentType = "text/plain";
                await context.Response.WriteAsync(_streamList);
                return;
            }

            await stream(context);
        };
    }
}
