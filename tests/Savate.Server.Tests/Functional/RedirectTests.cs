using System.Net;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// A master sends new listeners to a slave with room (<c>server.redirect</c>), which the slave's polls announce
/// (<c>master.public-url</c>): real servers on loopback, ffmpeg pushing to the master and decoding through the 302.
/// </summary>
public sealed class RedirectTests
{
    private static string MasterConfig(string redirect) => $$"""
        server:
          source-password: change-me
          relay-password: relay-secret
          max-listeners: 2
          redirect: {{redirect}}
        mounts:
          - path: /live.flv
            format: flv
        """;

    private static string SlaveConfig(int masterPort, int slavePort) => $$"""
        server:
          source-password: change-me
        master:
          url: http://127.0.0.1:{{masterPort}}
          public-url: http://127.0.0.1:{{slavePort}}
          password: relay-secret
          poll-interval: 500ms
          on-demand: true
        """;

    [Fact]
    public async Task WhenFull_ThirdListenerIsRedirectedToTheSlave_AndDecodes_UntilTheSlaveStops()
    {
        await using var master = await TestServer.StartAsync(MasterConfig("when-full"));
        var slavePort = TestServer.FreePort();
        TestServer? slave = await TestServer.StartAsync(SlaveConfig(master.Port, slavePort), slavePort);
        using var push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/live.flv"));
        var curls = new List<RunningProcess>();
        try
        {
            await LiveFanOutTests.WaitForMediaAsync(master, "/live.flv", mediaMs: 1000);
            await WaitForSlaveAsync(master, slavePort);
            var mount = master.Registry.Find("/live.flv")!;

            // Room here: served here.
            using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };
            for (var i = 0; i < 2; i++)
            {
                curls.Add(RunningProcess.Start("curl", ["-sS", "-N", "-o", "/dev/null", master.Url("/live.flv").ToString()]));
            }
            await Wait.UntilAsync(() => mount.ListenerCount == 2, TimeSpan.FromSeconds(10), "two listeners on the master");

            // Full: the third goes to the slave, path and query kept.
            using (var response = await client.GetAsync(master.Url("/live.flv?token=abc&x=1"), HttpCompletionOption.ResponseHeadersRead))
            {
                Assert.Equal(HttpStatusCode.Found, response.StatusCode);
                Assert.Equal($"http://127.0.0.1:{slavePort}/live.flv?token=abc&x=1", response.Headers.Location?.ToString());
            }

            // ffmpeg follows the redirect and decodes from the slave, whose relay pulls the master once (never redirected nor capped).
            var decode = await Ffmpeg.DecodeAsync(master.Url("/live.flv?player=ffmpeg").ToString(), seconds: 4);
            Assert.True(decode.ExitCode == 0, decode.ToString());
            Assert.True(string.IsNullOrWhiteSpace(decode.Errors), "decoder errors: " + decode.Errors);
            Assert.True(decode.VideoFrames >= 60, decode.ToString());
            Assert.True(slave.Registry.Find("/live.flv")!.Stats.ListenerConnections >= 1);
            Assert.True(mount.Stats.ListenerConnections <= 2 + 1, "the master served two listeners and the slave's one pull");
            Assert.True(master.Registry.Refusals.Redirects >= 2);

            // The slave stops: after three of its poll intervals the master no longer sends anyone there.
            await slave.DisposeAsync();
            slave = null;
            await Wait.UntilAsync(() => master.Registry.Slaves.Snapshot().Count == 0, TimeSpan.FromSeconds(5), "the master to forget the slave");
            await Wait.UntilAsync(() => mount.ListenerCount == 2, TimeSpan.FromSeconds(10), "the slave's pull to leave");
            using var refused = await client.GetAsync(master.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
            Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        }
        finally
        {
            foreach (var curl in curls)
            {
                curl.Dispose();
            }
            if (slave is not null)
            {
                await slave.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task Always_SendsNewListenersToTheSlave_ButNotTheSlavesOwnPull()
    {
        await using var master = await TestServer.StartAsync(MasterConfig("always"));
        var slavePort = TestServer.FreePort();
        await using var slave = await TestServer.StartAsync(SlaveConfig(master.Port, slavePort), slavePort);
        using var push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(master, "/live.flv", mediaMs: 1000);
        await WaitForSlaveAsync(master, slavePort);

        using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };
        using (var response = await client.GetAsync(master.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.Found, response.StatusCode);
            Assert.Equal($"http://127.0.0.1:{slavePort}/live.flv", response.Headers.Location?.ToString());
        }
        // HLS playlists too.
        using (var playlist = await client.GetAsync(master.Url("/live.flv/index.m3u8?k=v")))
        {
            Assert.Equal(HttpStatusCode.Found, playlist.StatusCode);
            Assert.Equal($"http://127.0.0.1:{slavePort}/live.flv/index.m3u8?k=v", playlist.Headers.Location?.ToString());
        }

        // Two players through the master: both on the slave, which pulls the mount from the master once.
        var decodes = await Task.WhenAll(
            Ffmpeg.DecodeAsync(master.Url("/live.flv").ToString(), seconds: 3),
            Ffmpeg.DecodeAsync(master.Url("/live.flv?second").ToString(), seconds: 3));
        foreach (var decode in decodes)
        {
            Assert.True(decode.ExitCode == 0 && string.IsNullOrWhiteSpace(decode.Errors), decode.ToString());
            Assert.True(decode.VideoFrames >= 45, decode.ToString());
        }
        Assert.Equal(2, slave.Registry.Find("/live.flv")!.Stats.ListenerConnections);
        // The only listener the master served is the slave's relay.
        Assert.Equal(1, master.Registry.Find("/live.flv")!.Stats.ListenerConnections);
    }

    [Fact]
    public async Task Never_FullMasterAnswers503_EvenWithASlave_UntilAReloadSaysWhenFull()
    {
        var dir = Directory.CreateTempSubdirectory("savate-redirect-");
        var configPath = Path.Combine(dir.FullName, "savate.yaml");
        await File.WriteAllTextAsync(configPath, MasterConfig("never"));
        await using var master = await TestServer.StartFromFileAsync(configPath);
        var slavePort = TestServer.FreePort();
        await using var slave = await TestServer.StartAsync(SlaveConfig(master.Port, slavePort), slavePort);
        using var push = Ffmpeg.PushFlvChunkedPost(master.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(master, "/live.flv", mediaMs: 1000);
        await WaitForSlaveAsync(master, slavePort);
        var mount = master.Registry.Find("/live.flv")!;
        var curls = Enumerable.Range(0, 2).Select(_ => RunningProcess.Start("curl", ["-sS", "-N", "-o", "/dev/null", master.Url("/live.flv").ToString()])).ToList();
        try
        {
            await Wait.UntilAsync(() => mount.ListenerCount == 2, TimeSpan.FromSeconds(10), "two listeners on the master");
            using var client = new HttpClient(new HttpClientHandler { AllowAutoRedirect = false }) { Timeout = TimeSpan.FromSeconds(10) };
            using (var response = await client.GetAsync(master.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead))
            {
                Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
            }
            Assert.Equal(0, master.Registry.Refusals.Redirects);

            // The mode applies from the next listener after a reload.
            await File.WriteAllTextAsync(configPath, MasterConfig("when-full"));
            var reload = await master.Reloader.ReloadAsync("test");
            Assert.True(reload.Success, string.Join("\n", reload.Errors));
            Assert.Contains("server: redirect never -> when-full", reload.Changes);
            using (var redirected = await client.GetAsync(master.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead))
            {
                Assert.Equal(HttpStatusCode.Found, redirected.StatusCode);
                Assert.Equal($"http://127.0.0.1:{slavePort}/live.flv", redirected.Headers.Location?.ToString());
            }
        }
        finally
        {
            foreach (var curl in curls)
            {
                curl.Dispose();
            }
            dir.Delete(recursive: true);
        }
    }

    /// <summary>Until the slave has announced itself relaying /live.flv (its second poll: the first discovers the mount).</summary>
    private static Task WaitForSlaveAsync(TestServer master, int slavePort) =>
        Wait.UntilAsync(() => master.Registry.Slaves.Snapshot().Any(s => s.Url == $"http://127.0.0.1:{slavePort}" && s.Mounts.Contains("/live.flv")),
            TimeSpan.FromSeconds(10), "the slave to announce itself with /live.flv");
}
