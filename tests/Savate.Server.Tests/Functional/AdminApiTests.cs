using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.DependencyInjection;
using Savate.Server.Configuration;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>The admin API with real clients: curl and ffmpeg listeners, ffmpeg sources, HTTP Basic.</summary>
public sealed class AdminApiTests
{
    private const string Config = """
        server:
          source-password: change-me
          admin-password: admin-secret
        mounts:
          - path: /a.flv
            format: flv
            grace: 500ms
          - path: /b.flv
            format: flv
          - path: /a.ts
            format: mpegts
          - path: /b.ts
            format: mpegts
          - path: /fb.flv
            format: flv
            grace: 500ms
            fallback:
              - file: samples/offline.flv
        """;

    private static HttpClient Client(TestServer server, string? password = "admin-secret")
    {
        var client = new HttpClient { BaseAddress = server.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        if (password is not null)
        {
            client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:" + password)));
        }
        return client;
    }

    private static RunningProcess Curl(TestServer server, string path) =>
        RunningProcess.Start("curl", ["-sS", "-N", "-o", "/dev/null", server.Url(path).ToString()]);

    [Fact]
    public async Task Admin_WithoutOrWithWrongCredentials_Returns401WithChallenge()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var anonymous = Client(server, password: null);
        using var wrong = Client(server, password: "nope");

        var response = await anonymous.GetAsync("/admin/mounts");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.StartsWith("Basic", response.Headers.WwwAuthenticate.ToString());
        Assert.Equal(HttpStatusCode.Unauthorized, (await wrong.PostAsync("/admin/kill-source?mount=/a.flv", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Unauthorized, (await anonymous.GetAsync("/admin/listclients.json?mount=/a.flv")).StatusCode);
    }

    [Fact]
    public async Task Admin_NoAdminPassword_Returns404()
    {
        await using var server = await TestServer.StartAsync("mounts:\n  - path: /a.flv\n");
        using var client = Client(server);
        Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync("/admin/mounts")).StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/admin/reload", null)).StatusCode);
    }

    [Theory]
    [InlineData("/admin/kick?mount=/a.flv&id=1")]
    [InlineData("/admin/kill-source?mount=/a.flv")]
    [InlineData("/admin/move?mount=/a.flv&destination=/b.flv")]
    [InlineData("/admin/reload")]
    [InlineData("/admin/killclient?mount=/a.flv&id=1")]
    [InlineData("/admin/killsource?mount=/a.flv")]
    [InlineData("/admin/moveclients?mount=/a.flv&destination=/b.flv")]
    public async Task ChangingCommand_Get_Returns405WithAllow(string url)
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = Client(server);
        var response = await client.GetAsync(url);
        Assert.Equal(HttpStatusCode.MethodNotAllowed, response.StatusCode);
        Assert.Equal("POST, DELETE", response.Content.Headers.Allow.Count > 0 ? string.Join(", ", response.Content.Headers.Allow) : string.Join(", ", response.Headers.GetValues("Allow")));
    }

    [Fact]
    public async Task Mounts_ListsEveryMountAsStatusJson()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = Client(server);
        using var json = JsonDocument.Parse(await client.GetStringAsync("/admin/mounts"));
        var paths = json.RootElement.EnumerateArray().Select(m => m.GetProperty("path").GetString()!).ToArray();
        Assert.Equal(new[] { "/a.flv", "/a.ts", "/b.flv", "/b.ts", "/fb.flv" }, paths);
        Assert.Equal("fallback", json.RootElement[4].GetProperty("state").GetString());

        using var icecast = JsonDocument.Parse(await client.GetStringAsync("/admin/listmounts.json"));
        Assert.Equal(5, icecast.RootElement.GetArrayLength());
        var xml = await client.GetStringAsync("/admin/listmounts");
        Assert.Contains("<source mount=\"/fb.flv\">", xml);
    }

    [Fact]
    public async Task Kick_CurlListener_ClosesItsConnection()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var source = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/a.flv"));
        var mount = server.Registry.Find("/a.flv")!;
        await Wait.UntilAsync(() => mount.Headers is not null, TimeSpan.FromSeconds(20), "the source's first keyframe");
        using var curl = Curl(server, "/a.flv");
        using var other = Curl(server, "/a.flv");
        await Wait.UntilAsync(() => mount.SnapshotListeners().Count(l => l.BytesSent > 0) == 2, TimeSpan.FromSeconds(20), "two listeners receiving");
        using var client = Client(server);

        using var list = JsonDocument.Parse(await client.GetStringAsync("/admin/listeners?mount=/a.flv"));
        Assert.Equal(2, list.RootElement.GetArrayLength());
        var first = list.RootElement[0];
        foreach (var field in new[] { "id", "address", "user_agent", "connected_at", "bytes_sent", "lag_ms", "skips" })
        {
            Assert.True(first.TryGetProperty(field, out _), $"listeners entry has no {field}: {first}");
        }
        Assert.StartsWith("curl/", first.GetProperty("user_agent").GetString());
        Assert.StartsWith("127.0.0.1:", first.GetProperty("address").GetString());
        var id = first.GetProperty("id").GetInt64();

        var kick = await client.PostAsync($"/admin/kick?mount=/a.flv&id={id}", null);
        Assert.Equal(HttpStatusCode.OK, kick.StatusCode);
        await Wait.UntilAsync(() => curl.HasExited || other.HasExited, TimeSpan.FromSeconds(10), "the kicked curl to see its connection closed");
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(10), "the kicked listener to leave");
        Assert.False(curl.HasExited && other.HasExited, "only the kicked listener is closed");
        Assert.DoesNotContain(mount.SnapshotListeners(), l => l.Id == id);

        // Icecast's name for the same, on the other listener; an unknown id is a 404.
        var remaining = mount.SnapshotListeners().Single().Id;
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync($"/admin/kick?mount=/a.flv&id={id}", null)).StatusCode);
        var iceKick = await client.PostAsync($"/admin/killclient?mount=/a.flv&id={remaining}", null);
        Assert.Equal(HttpStatusCode.OK, iceKick.StatusCode);
        Assert.Contains("<return>1</return>", await iceKick.Content.ReadAsStringAsync());
        await Wait.UntilAsync(() => curl.HasExited && other.HasExited, TimeSpan.FromSeconds(10), "both curls closed");
    }

    [Fact]
    public async Task KillSource_MountWithFallback_FallsBackAndKeepsListener()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/fb.flv")!;
        using var source = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/fb.flv"));
        await Wait.UntilAsync(() => mount.Playing == "live", TimeSpan.FromSeconds(20), "the live source to play");
        using var curl = Curl(server, "/fb.flv");
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(10), "the listener");
        using var client = Client(server);

        var response = await client.PostAsync("/admin/kill-source?mount=/fb.flv", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await Wait.UntilAsync(() => mount.Playing.StartsWith("fallback file", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the fallback after the kill");
        Assert.Null(mount.Source);
        await Task.Delay(500);
        Assert.False(curl.HasExited, "the listener stays through the fallback");
        Assert.Equal(1, mount.ListenerCount);
        // Killing again: there is no source to kill.
        Assert.Equal(HttpStatusCode.NotFound, (await client.DeleteAsync("/admin/killsource?mount=/fb.flv")).StatusCode);
    }

    [Theory]
    [InlineData("flv")]
    [InlineData("ts")]
    public async Task Move_FfmpegListener_DecodesAcrossTheMoveWithNonDecreasingTimestamps(string extension)
    {
        await using var server = await TestServer.StartAsync(Config);
        var a = server.Registry.Find("/a." + extension)!;
        var b = server.Registry.Find("/b." + extension)!;
        using var sourceA = extension == "ts" ? Ffmpeg.PushTsPut(server.SourceUrl(a.Path)) : Ffmpeg.PushFlvChunkedPost(server.SourceUrl(a.Path));
        using var sourceB = extension == "ts" ? Ffmpeg.PushTsPut(server.SourceUrl(b.Path)) : Ffmpeg.PushFlvChunkedPost(server.SourceUrl(b.Path));
        await Wait.UntilAsync(() => a.Headers is not null && b.Headers is not null, TimeSpan.FromSeconds(20), "both sources' first keyframes");

        var listen = Ffmpeg.DecodeAndListPacketsAsync(server.Url(a.Path).ToString(), seconds: 10);
        await Wait.UntilAsync(() => a.SnapshotListeners().Any(l => l.BytesSent > 0), TimeSpan.FromSeconds(20), "the listener on " + a.Path);
        var id = a.SnapshotListeners().Single().Id;
        await Task.Delay(3000);
        using var client = Client(server);
        var response = await client.PostAsync($"/admin/move?mount={a.Path}&destination={b.Path}", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("1 listeners moved", await response.Content.ReadAsStringAsync());
        await Wait.UntilAsync(() => a.ListenerCount == 0, TimeSpan.FromSeconds(10), "the listener to leave " + a.Path);
        using (var moved = JsonDocument.Parse(await client.GetStringAsync("/admin/listeners?mount=" + b.Path)))
        {
            Assert.Equal(1, moved.RootElement.GetArrayLength());
            Assert.Equal(id, moved.RootElement[0].GetProperty("id").GetInt64());
            Assert.StartsWith("Lavf", moved.RootElement[0].GetProperty("user_agent").GetString());
        }
        using (var left = JsonDocument.Parse(await client.GetStringAsync("/admin/listeners?mount=" + a.Path)))
        {
            Assert.Equal(0, left.RootElement.GetArrayLength());
        }

        var (decode, dts) = await listen;
        Assert.True(decode.ExitCode == 0, decode.ToString());
        Assert.True(string.IsNullOrWhiteSpace(decode.Errors), "decoder errors: " + decode.Errors);
        Assert.True(decode.VideoFrames >= 10 * 25 * 0.8, decode.ToString());
        foreach (var (stream, values) in dts)
        {
            for (var i = 1; i < values.Count; i++)
            {
                Assert.True(values[i] >= values[i - 1], $"stream {stream}: packet {i} DTS {values[i]} after {values[i - 1]}");
            }
        }
    }

    [Fact]
    public async Task Move_UnknownDestinationOrNoSource_IsRefused()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = Client(server);
        Assert.Equal(HttpStatusCode.NotFound, (await client.PostAsync("/admin/move?mount=/a.flv&destination=/nope.flv", null)).StatusCode);
        Assert.Equal(HttpStatusCode.Conflict, (await client.PostAsync("/admin/moveclients?mount=/a.flv&destination=/b.flv", null)).StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, (await client.PostAsync("/admin/move?mount=/a.flv", null)).StatusCode);
    }

    [Fact]
    public async Task Reload_RealConfigFile_AddsTheNewMountAtOnce()
    {
        // Next to the test binaries, where samples/ is: the fallback file is resolved against the config file's folder.
        var path = Path.Combine(AppContext.BaseDirectory, $"admin-reload-{Guid.NewGuid():N}.yaml");
        try
        {
            File.WriteAllText(path, Config.Replace("source-password: change-me", "source-password: change-me\n  watch-config: false", StringComparison.Ordinal));
            await using var server = await TestServer.StartFromFileAsync(path);
            using var client = Client(server);
            Assert.Null(server.Registry.Find("/c.flv"));

            File.WriteAllText(path, Config.Replace("source-password: change-me", "source-password: change-me\n  watch-config: false", StringComparison.Ordinal)
                + "\n  - path: /c.flv\n    format: flv\n");
            var response = await client.PostAsync("/admin/reload", null);

            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            using var json = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            Assert.True(json.RootElement.GetProperty("success").GetBoolean());
            Assert.NotNull(server.Registry.Find("/c.flv"));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Reload_WithReloader_CallsItAndReportsTheResult()
    {
        var reloader = new FakeReloader();
        await using var server = await TestServer.StartAsync(Config, configure: builder => builder.Services.AddSingleton<IConfigReloader>(reloader));
        using var client = Client(server);

        var ok = await client.PostAsync("/admin/reload", null);
        Assert.Equal(HttpStatusCode.OK, ok.StatusCode);
        using (var json = JsonDocument.Parse(await ok.Content.ReadAsStringAsync()))
        {
            Assert.True(json.RootElement.GetProperty("success").GetBoolean());
            Assert.Equal("mount /c.flv added", json.RootElement.GetProperty("changes")[0].GetString());
        }
        Assert.Equal(new[] { "admin API" }, reloader.Triggers);

        reloader.Fail = true;
        var rejected = await client.PostAsync("/admin/reload", null);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, rejected.StatusCode);
        Assert.Contains("mounts[0] (/a.flv): max-lag: bad", await rejected.Content.ReadAsStringAsync());
    }

    private sealed class FakeReloader : IConfigReloader
    {
        public List<string> Triggers { get; } = [];

        public bool Fail { get; set; }

        public Task<ConfigReloadResult> ReloadAsync(string trigger, CancellationToken cancellationToken = default)
        {
            Triggers.Add(trigger);
            return Task.FromResult(Fail
                ? new ConfigReloadResult(false, ["mounts[0] (/a.flv): max-lag: bad"], [])
                : new ConfigReloadResult(true, [], ["mount /c.flv added"]));
        }
    }
}
