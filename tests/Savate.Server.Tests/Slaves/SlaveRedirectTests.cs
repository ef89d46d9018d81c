using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging.Abstractions;
using Savate.Relay;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Streaming;
using Xunit;

namespace Savate.Server.Tests.Slaves;

/// <summary>The redirect decision on Kestrel's listener path (<see cref="ListenerHandler"/>: TLS and socket-less transports).</summary>
public sealed class SlaveRedirectTests
{
    private static MountRegistry Registry(string redirect)
    {
        var config = ConfigLoader.Parse($"""
            server:
              relay-password: relay-secret
              redirect: {redirect}
            mounts:
              - path: /live.flv
                format: flv
            """, ".");
        var registry = new MountRegistry(config, TimeProvider.System, NullLoggerFactory.Instance);
        registry.Slaves.Announce(new SlaveAnnouncement(new Uri("http://slave-1.example:8000"), 0, 100, TimeSpan.FromSeconds(10),
            new Dictionary<string, (int, int?)> { ["/live.flv"] = (0, null) }));
        return registry;
    }

    private static DefaultHttpContext Get(string query, string? authorization = null)
    {
        var context = new DefaultHttpContext();
        context.Request.Method = "GET";
        context.Request.Path = "/live.flv";
        context.Request.QueryString = new QueryString(query);
        if (authorization is not null)
        {
            context.Request.Headers.Authorization = authorization;
        }
        context.Response.Body = new MemoryStream();
        return context;
    }

    // No listener-auth on these mounts: the access control is never asked.
    private static readonly Savate.Server.Auth.AccessControl NoAuth = new(TimeProvider.System, Microsoft.Extensions.Logging.Abstractions.NullLogger<Savate.Server.Auth.AccessControl>.Instance);

    [Fact]
    public async Task HandleAsync_Always_RedirectsWithPathAndQuery()
    {
        using var registry = Registry("always");
        var context = Get("?token=abc");

        await ListenerHandler.HandleAsync(context, registry, registry.Find("/live.flv")!, NoAuth, "/live.flv");

        Assert.Equal(302, context.Response.StatusCode);
        Assert.Equal("http://slave-1.example:8000/live.flv?token=abc", context.Response.Headers.Location.ToString());
        Assert.Equal(1, registry.Refusals.Redirects);
    }

    [Fact]
    public async Task HandleAsync_RelayCredentials_AreNeverRedirected()
    {
        using var registry = Registry("always");
        var context = Get("", "Basic " + Convert.ToBase64String("relay:relay-secret"u8.ToArray()));

        await ListenerHandler.HandleAsync(context, registry, registry.Find("/live.flv")!, NoAuth, "/live.flv");

        // Not redirected: admitted or refused here (no source yet: 503).
        Assert.Equal(503, context.Response.StatusCode);
        Assert.Equal(0, registry.Refusals.Redirects);
    }

    [Fact]
    public async Task HandleAsync_WhenFullWithRoom_IsServedHere()
    {
        using var registry = Registry("when-full");
        var context = Get("");

        await ListenerHandler.HandleAsync(context, registry, registry.Find("/live.flv")!, NoAuth, "/live.flv");

        Assert.Equal(503, context.Response.StatusCode);
        Assert.Equal(1, registry.Refusals.Count(Metrics.RefusalReason.NoSource));
        Assert.Equal(0, registry.Refusals.Redirects);
    }
}
