using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>Master ← slave ← slave on loopback, with ffmpeg pushing to the master and listening at the leaf.</summary>
public sealed class RelayTests
{
    private static string MasterConfig => """
        server:
          source-password: change-me
          relay-password: relay-secret
        mounts:
          - path: /live.flv
            format: flv
        """;

    private static string SlaveConfig(int masterPort, string masterPassword) => $$"""
        server:
          source-password: change-me
          relay-password: slave-secret
          mount-defaults:
            grace: 30s
        master:
          url: http://127.0.0.1:{{masterPort}}
          username: relay
          password: {{masterPassword}}
          poll-interval: 1s
          on-demand: true
        """;

    [Fact]
    public async Task ChainOfThree_LeafListenerSurvivesMasterRestart_AndDecodesCleanly()
    {
        var masterPort = TestServer.FreePort();
        var master = await TestServer.StartAsync(MasterConfig, masterPort);
        await using var slave = await TestServer.StartAsync(SlaveConfig(masterPort, "relay-secret"));
        await using var leaf = await TestServer.StartAsync(SlaveConfig(slave.Port, "slave-secret"));
        var push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/live.flv"));
        try
        {
            await Wait.UntilAsync(() => leaf.Registry.Find("/live.flv") is not null, TimeSpan.FromSeconds(15), "the leaf to discover /live.flv through the slave");
            // On demand: nothing is pulled before a listener arrives.
            Assert.Equal(0, master.Registry.Find("/live.flv")!.ListenerCount);

            // Long enough for 150 frames with a few seconds lost to the outage and the resume.
            var listen = Ffmpeg.DecodeAndListPacketsAsync(leaf.Url("/live.flv").ToString(), seconds: 18);
            await Wait.UntilAsync(() => leaf.Registry.Find("/live.flv")!.Ring.NewestKeyframe >= 0, TimeSpan.FromSeconds(15), "media at the leaf");
            Assert.Equal(1, master.Registry.Find("/live.flv")!.ListenerCount);
            await Task.Delay(3000);

            // Kill the master (and its encoder) for a few seconds, then bring both back.
            push.Dispose();
            await master.DisposeAsync();
            await Task.Delay(3000);
            master = await TestServer.StartAsync(MasterConfig, masterPort);
            push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/live.flv"));
            var restarted = DateTime.UtcNow;
            var leafMount = leaf.Registry.Find("/live.flv")!;
            var before = leafMount.Ring.HeadTime;
            await Wait.UntilAsync(() => leafMount.Ring.HeadTime > before + 500, TimeSpan.FromSeconds(15), "the stream to resume at the leaf");
            var resumedAfter = DateTime.UtcNow - restarted;

            var (decode, dts) = await listen;
            // The master's encoder starting, the slave's backoff and reconnect, then the leaf's: about 2 s on a quiet
            // machine, 5 s seen on a loaded CI run. What matters is that the leaf's listener is still there when it does.
            Assert.True(resumedAfter < TimeSpan.FromSeconds(10), $"resumed after {resumedAfter.TotalSeconds:F1} s");
            Assert.True(decode.ExitCode == 0, decode.ToString());
            Assert.True(string.IsNullOrWhiteSpace(decode.Errors), "decoder errors: " + decode.Errors);
            Assert.True(decode.VideoFrames >= 150, decode.ToString());
            Assert.All(dts.Values, values => Assert.Equal(values.Order(), values));
            Assert.Equal(0, leafMount.Stats.Evictions);
        }
        finally
        {
            push.Dispose();
            await master.DisposeAsync();
        }
    }

    [Fact]
    public async Task OnDemandRelay_PullsOnlyWithListeners_AndStopsAfterIdleTimeout()
    {
        await using var master = await TestServer.StartAsync(MasterConfig);
        await using var slave = await TestServer.StartAsync($$"""
            server:
              source-password: change-me
            relays:
              - mount: /relayed.flv
                upstreams: ["http://127.0.0.1:1/unreachable.flv", "http://127.0.0.1:{{master.Port}}/live.flv"]
                on-demand: true
                idle-timeout: 1s
            """);
        using var push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(master, "/live.flv", mediaMs: 1000);
        var upstream = master.Registry.Find("/live.flv")!;
        await Task.Delay(1500);
        Assert.Equal(0, upstream.ListenerCount);

        // The first upstream refuses connections: the relay fails over to the second.
        var result = await Ffmpeg.DecodeAsync(slave.Url("/relayed.flv").ToString(), seconds: 3);
        Assert.True(result.ExitCode == 0 && string.IsNullOrWhiteSpace(result.Errors), result.ToString());
        Assert.True(result.VideoFrames >= 60, result.ToString());

        await Wait.UntilAsync(() => upstream.ListenerCount == 0, TimeSpan.FromSeconds(6), "the relay to let go of the master after idle-timeout");

        using var client = new HttpClient();
        var status = System.Text.Json.JsonDocument.Parse(await client.GetStringAsync(slave.Url("/status.json")));
        var relay = status.RootElement.GetProperty("relays").EnumerateArray().Single();
        Assert.Equal("/relayed.flv", relay.GetProperty("mount").GetString());
        Assert.Equal("idle", relay.GetProperty("state").GetString());
        Assert.True(relay.GetProperty("connects").GetInt64() >= 1);
        Assert.True(status.RootElement.GetProperty("mounts").EnumerateArray().Single(m => m.GetProperty("path").GetString() == "/relayed.flv").GetProperty("relayed").GetBoolean());
    }

    [Fact]
    public async Task Discovery_MountAddedOnMaster_AppearsOnSlaveWithinPollInterval()
    {
        await using var master = await TestServer.StartAsync(MasterConfig);
        await using var slave = await TestServer.StartAsync(SlaveConfig(master.Port, "relay-secret"));
        Assert.Null(slave.Registry.Find("/new.flv"));

        using var push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/new.flv"));
        await Wait.UntilAsync(() => master.Registry.Find("/new.flv") is { Source: not null }, TimeSpan.FromSeconds(10), "the dynamic mount on the master");
        var added = DateTime.UtcNow;
        await Wait.UntilAsync(() => slave.Registry.Find("/new.flv") is not null, TimeSpan.FromSeconds(5), "the slave to discover /new.flv");

        Assert.True(DateTime.UtcNow - added < TimeSpan.FromSeconds(2.5));
    }

    [Fact]
    public async Task StreamList_RequiresRelayPassword_AndListsPlayableMounts()
    {
        await using var master = await TestServer.StartAsync(MasterConfig);
        using var push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(master, "/live.flv", mediaMs: 200);
        using var client = new HttpClient();

        using var anonymous = await client.GetAsync(master.Url("/admin/streamlist.txt"));
        using var request = new HttpRequestMessage(HttpMethod.Get, master.Url("/admin/streamlist.txt"));
        request.Headers.Authorization = new("Basic", Convert.ToBase64String("relay:relay-secret"u8.ToArray()));
        using var authorized = await client.SendAsync(request);

        Assert.Equal(System.Net.HttpStatusCode.Unauthorized, anonymous.StatusCode);
        Assert.Equal("/live.flv\n", await authorized.Content.ReadAsStringAsync());
    }
}
