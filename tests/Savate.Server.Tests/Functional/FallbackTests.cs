using System.Text.Json;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>One listener connection across live → file → live → file: never closed, never broken.</summary>
public sealed class FallbackTests
{
    private const string Config = """
        server:
          source-password: change-me
        mounts:
          - path: /live.flv
            format: flv
            grace: 500ms
            fallback:
              - file: samples/offline.flv
          - path: /live.ts
            format: mpegts
            grace: 500ms
            fallback:
              - file: samples/offline.ts
          - path: /main.flv
            format: flv
            grace: 500ms
            fallback:
              - mount: /backup.flv
              - file: samples/offline.flv
          - path: /backup.flv
            format: flv
          - path: /held.flv
            format: flv
            grace: 3s
            fallback:
              - file: samples/offline.flv
        """;

    private static RunningProcess Push(TestServer server, string path, int width = 320, int height = 240) =>
        path.EndsWith(".ts", StringComparison.Ordinal)
            ? Ffmpeg.PushTsPut(server.SourceUrl(path))
            : Ffmpeg.PushFlvChunkedPost(server.SourceUrl(path), Ffmpeg.LiveInput(width, height));

    [Theory]
    [InlineData("/live.flv")]
    [InlineData("/live.ts")]
    public async Task OneListener_LiveFileLiveFile_DecodesWithoutErrors_TimestampsNonDecreasing(string path)
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find(path)!;
        Assert.StartsWith("fallback file", mount.Playing);

        // The listener joins while the offline file plays, and stays for the whole sequence.
        var listen = Ffmpeg.DecodeAndListPacketsAsync(server.Url(path).ToString(), seconds: 19);
        await Task.Delay(2500);
        for (var round = 0; round < 2; round++)
        {
            using (var push = Push(server, path))
            {
                await Wait.UntilAsync(() => mount.Playing == "live", TimeSpan.FromSeconds(10), "the live source to take over");
                await Task.Delay(3500);
                await push.StopAsync();
            }
            await Wait.UntilAsync(() => mount.Playing.StartsWith("fallback file", StringComparison.Ordinal), TimeSpan.FromSeconds(5), "the fallback after the grace period");
            await Task.Delay(2000);
        }
        var (decode, dts) = await listen;

        Assert.True(decode.ExitCode == 0, decode.ToString());
        Assert.True(string.IsNullOrWhiteSpace(decode.Errors), "decoder errors: " + decode.Errors);
        Assert.True(decode.VideoFrames >= 19 * 25 * 0.8, decode.ToString());
        Assert.True(decode.FramesPerStream.GetValueOrDefault(1) > 0, decode.ToString());
        foreach (var (stream, values) in dts)
        {
            for (var i = 1; i < values.Count; i++)
            {
                Assert.True(values[i] >= values[i - 1], $"stream {stream}: packet {i} DTS {values[i]} after {values[i - 1]}");
            }
        }
        Assert.True(mount.Switches >= 4, $"{mount.Switches} switches");
        Assert.Equal(0, mount.Stats.Evictions);
    }

    [Fact]
    public async Task FallbackToBackupMountWithAnotherResolution_SwitchesCleanly()
    {
        await using var server = await TestServer.StartAsync(Config);
        var main = server.Registry.Find("/main.flv")!;
        using var backup = Push(server, "/backup.flv", 480, 272);
        await Wait.UntilAsync(() => main.Playing == "fallback /backup.flv", TimeSpan.FromSeconds(10), "the backup mount to play on /main.flv");
        using var live = Push(server, "/main.flv", 320, 240);
        await Wait.UntilAsync(() => main.Playing == "live", TimeSpan.FromSeconds(10), "the live source");
        await LiveFanOutTests.WaitForMediaAsync(server, "/main.flv", mediaMs: 1000);

        var listen = Ffmpeg.DecodeAndListPacketsAsync(server.Url("/main.flv").ToString(), seconds: 6);
        await Task.Delay(2000);
        await live.StopAsync();
        await Wait.UntilAsync(() => main.Playing == "fallback /backup.flv", TimeSpan.FromSeconds(5), "the backup mount after grace");
        Assert.Equal((480, 272), await Ffmpeg.ProbeVideoSizeAsync(server.Url("/main.flv").ToString()));
        var (decode, dts) = await listen;

        Assert.True(decode.ExitCode == 0 && string.IsNullOrWhiteSpace(decode.Errors), decode.ToString());
        Assert.True(decode.VideoFrames >= 100, decode.ToString());
        Assert.All(dts.Values, values => Assert.Equal(values.Order(), values));
    }

    [Fact]
    public async Task SourceReconnectingWithinGrace_ResumesWithoutFallbackInBetween()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/held.flv")!;
        using (var first = Push(server, "/held.flv"))
        {
            await Wait.UntilAsync(() => mount.Playing == "live", TimeSpan.FromSeconds(10), "the first source");
            await LiveFanOutTests.WaitForMediaAsync(server, "/held.flv", mediaMs: 1500);
            await first.StopAsync();
        }
        await Wait.UntilAsync(() => mount.Source is null, TimeSpan.FromSeconds(5), "the first source to end");
        var fallbacksBefore = server.Logs.Entries.Count(e => e.EventId == 130 && e.Message.Contains("/held.flv") && e.Message.Contains("fallback"));

        using var second = Push(server, "/held.flv");
        await Wait.UntilAsync(() => mount.Playing == "live", TimeSpan.FromSeconds(10), "the second source");
        await Task.Delay(3500);

        var fallbacksAfter = server.Logs.Entries.Count(e => e.EventId == 130 && e.Message.Contains("/held.flv") && e.Message.Contains("fallback"));
        Assert.Equal(fallbacksBefore, fallbacksAfter);
        Assert.Equal("live", mount.Playing);
    }

    [Fact]
    public async Task StatusJson_SaysWhatPlaysAndCountsSwitches()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();

        var json = JsonDocument.Parse(await client.GetStringAsync(server.Url("/status.json")));

        var live = json.RootElement.GetProperty("mounts").EnumerateArray().Single(m => m.GetProperty("path").GetString() == "/live.flv");
        Assert.Equal("fallback file samples/offline.flv", live.GetProperty("playing").GetString());
        Assert.Equal("fallback", live.GetProperty("state").GetString());
        Assert.Equal(0, live.GetProperty("switches").GetInt64());
    }
}
