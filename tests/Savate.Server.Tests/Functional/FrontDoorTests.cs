using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// The front door (Http/FrontDoor.cs): listeners are served at accept time on the bare socket, everything
/// else reaches Kestrel untouched. Raw sockets, because the edges are about what arrives when.
/// </summary>
public sealed class FrontDoorTests
{
    private static readonly string s_auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("source:change-me"));

    [Fact]
    public async Task Get_HeadArrivingInPieces_IsStillServed()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        await using var raw = await RawHttp.ConnectAsync(server.Port);

        // The first packet is not a whole head: the front door hands the connection to Kestrel, whose
        // connection middleware reads the rest and serves the listener all the same.
        await raw.SendAsync("GET /live.flv HTTP/1.1\r\nHost: loc");
        await Task.Delay(300);
        await raw.SendAsync("alhost\r\n\r\n");
        var (head, body) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(5));
        var more = await raw.ReadAsync(3 - body.Length, TimeSpan.FromSeconds(5));

        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Contains("\r\nConnection: close", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("FLV"u8.ToArray(), body.Concat(more).Take(3).ToArray());
    }

    [Fact]
    public async Task Get_WithBytesAfterTheHead_StreamsAndIgnoresThem()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        await using var raw = await RawHttp.ConnectAsync(server.Port);

        // Only the head is consumed; whatever follows is read and dropped, and the stream goes on.
        await raw.SendAsync("GET /live.flv HTTP/1.0\r\n\r\nGET /other HTTP/1.0\r\n\r\n");
        var (head, body) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(5));
        await raw.SendAsync(new byte[64 * 1024]);
        var more = await raw.ReadAsync(64 * 1024, TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Equal("FLV"u8.ToArray(), body.Concat(more).Take(3).ToArray());
        Assert.True(body.Length + more.Length >= 64 * 1024, $"only {body.Length + more.Length} bytes of stream");
        Assert.Equal(1, server.Registry.Find("/live.flv")!.ListenerCount);
    }

    [Fact]
    public async Task ListenerLeavingWhileItWaitsForAKeyframe_IsRemovedAtOnce()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        var mount = server.Registry.Find("/live.flv")!;
        // A source that sent its FLV header and nothing else: listeners are admitted and wait for a keyframe.
        await using var source = await RawHttp.ConnectAsync(server.Port);
        await source.SendAsync($"PUT /live.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {s_auth}\r\nContent-Type: video/x-flv\r\n\r\n");
        var (sourceHead, _) = await source.ReadHeadAsync(TimeSpan.FromSeconds(5));
        await source.SendAsync("FLV\x01\x05\0\0\0\x09\0\0\0\0"u8.ToArray());
        await Wait.UntilAsync(() => mount.Source is not null, TimeSpan.FromSeconds(5), "the source");

        var listener = await RawHttp.ConnectAsync(server.Port);
        await listener.SendAsync("GET /live.flv HTTP/1.1\r\nHost: x\r\n\r\n");
        var (head, _) = await listener.ReadHeadAsync(TimeSpan.FromSeconds(5));
        Assert.Equal(1, mount.ListenerCount);
        var clock = Stopwatch.StartNew();
        await listener.DisposeAsync();

        // Not at the next send (there is none) nor at the 30 s join timeout: the FIN is noticed.
        await Wait.UntilAsync(() => mount.ListenerCount == 0, TimeSpan.FromSeconds(5), "the listener to be removed");
        Assert.StartsWith("HTTP/1.1 200", sourceHead);
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.InRange(clock.Elapsed.TotalSeconds, 0, 2);
        Assert.Equal(0, server.Registry.ListenerCount);
    }

    [Fact]
    public async Task ClientThatConnectsAndSaysNothing_IsClosed_AndOthersAreServedMeanwhile()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        await using var silent = await RawHttp.ConnectAsync(server.Port);
        var clock = Stopwatch.StartNew();

        // While one client says nothing, the next connection is triaged and answered at once.
        await using (var other = await RawHttp.ConnectAsync(server.Port))
        {
            await other.SendAsync("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n");
            var (otherHead, _) = await other.ReadHeadAsync(TimeSpan.FromSeconds(5));
            Assert.StartsWith("HTTP/1.1 404", otherHead);
        }
        var closed = await silent.WaitClosedAsync(TimeSpan.FromSeconds(20));

        Assert.True(closed, "the silent client was never closed");
        Assert.InRange(clock.Elapsed.TotalSeconds, 8, 15);
    }

    [Fact]
    public async Task ManyListenersJoiningAtOnce_AllGetTheStream()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);

        var clients = await Task.WhenAll(Enumerable.Range(0, 200).Select(async _ =>
        {
            var raw = await RawHttp.ConnectAsync(server.Port);
            await raw.SendAsync("GET /live.flv HTTP/1.0\r\n\r\n");
            return raw;
        }));
        try
        {
            var heads = await Task.WhenAll(clients.Select(async c =>
            {
                var (head, body) = await c.ReadHeadAsync(TimeSpan.FromSeconds(10));
                var more = await c.ReadAsync(Math.Max(0, 13 - body.Length), TimeSpan.FromSeconds(10));
                return (head, start: body.Concat(more).Take(3).ToArray());
            }));

            Assert.All(heads, h => Assert.StartsWith("HTTP/1.1 200", h.head));
            Assert.All(heads, h => Assert.Equal("FLV"u8.ToArray(), h.start));
            Assert.Equal(200, server.Registry.Find("/live.flv")!.ListenerCount);
        }
        finally
        {
            foreach (var client in clients)
            {
                await client.DisposeAsync();
            }
        }
    }
}
