using System.Diagnostics;
using System.Net;
using System.Net.Http.Headers;
using System.Text;
using Savate.Relay;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>Config reloads against the real server: what changes, changes in place; what is removed, goes cleanly.</summary>
public sealed class ReloadTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("savate-reload-").FullName;

    private string ConfigPath => Path.Combine(_dir, "savate.yaml");

    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "samples", name);

    private void Write(string yaml) => File.WriteAllText(ConfigPath, yaml);

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>Step <paramref name="i"/> of the twenty: each changes something else.</summary>
    private static string Step(int i)
    {
        var fallback = (i % 4) switch
        {
            1 => $"\n    fallback:\n      - file: {Sample("offline.flv")}",
            2 => $"\n    fallback:\n      - mount: /backup.flv\n      - file: {Sample("offline.flv")}",
            3 => "\n    fallback:\n      - mount: /backup.flv",
            _ => "",
        };
        return $"""
            server:
              source-password: change-me
              watch-config: false
            mounts:
              - path: /live.flv
                format: flv
                source-password: {(i == 0 ? "change-me" : $"rotated-{i}")}
                max-lag: {3 + (i % 3)}s{fallback}
              - path: /backup.flv
                format: flv
              - path: /other-{i}.flv
            """;
    }

    [Fact]
    public async Task Reload_TwentyTimesWhileListening_ListenerDecodesWithoutErrors_TimestampsNonDecreasing()
    {
        Write(Step(0));
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        var mount = server.Registry.Find("/live.flv")!;
        await Wait.UntilAsync(() => mount.Ring.NewestKeyframe >= 0, TimeSpan.FromSeconds(20), "the live source's first keyframe");
        var source = mount.Source;
        Assert.NotNull(source);

        var listen = Ffmpeg.DecodeAndListPacketsAsync(server.Url("/live.flv").ToString(), seconds: 14);
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(15), "the listener");
        for (var i = 1; i <= 20; i++)
        {
            Write(Step(i));
            var result = await server.Reloader.ReloadAsync("test");
            Assert.True(result.Success, string.Join("\n", result.Errors));
            Assert.Contains(result.Changes, c => c.StartsWith("mount /live.flv changed: source-password changed", StringComparison.Ordinal));
            Assert.Contains($"mount /other-{i}.flv added", result.Changes);
            Assert.Contains($"mount /other-{i - 1}.flv removed", result.Changes);
            Assert.Same(mount, server.Registry.Find("/live.flv"));
            await Task.Delay(400);
        }

        // The live source kept streaming through every password rotation, and the listener is still there.
        Assert.Same(source, mount.Source);
        Assert.Equal(1, mount.ListenerCount);
        Assert.Equal(TimeSpan.FromSeconds(5), mount.Config.MaxLag);
        Assert.Null(server.Registry.Find("/other-19.flv"));

        var (decode, dts) = await listen;
        Assert.True(decode.ExitCode == 0, decode.ToString());
        Assert.True(string.IsNullOrWhiteSpace(decode.Errors), "decoder errors: " + decode.Errors);
        Assert.True(decode.VideoFrames >= 14 * 25 * 0.8, decode.ToString());
        foreach (var (stream, values) in dts)
        {
            for (var i = 1; i < values.Count; i++)
            {
                Assert.True(values[i] >= values[i - 1], $"stream {stream}: packet {i} DTS {values[i]} after {values[i - 1]}");
            }
        }
        Assert.Equal("live", mount.Playing);
    }

    private static string Chain(params string[] entries) => $"""
        server:
          source-password: change-me
          watch-config: false
        mounts:
          - path: /live.flv
            format: flv
            grace: 500ms
            fallback:
        {string.Concat(entries.Select(e => $"      - {e}\n"))}  - path: /backup.flv
            format: flv
        """;

    [Fact]
    public async Task Reload_FallbackAddedWhileInFallback_UsedAtOnce_RemovingThePlayingOneMovesOn()
    {
        var file = $"file: {Sample("offline.flv")}";
        Write(Chain(file));
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);
        var mount = server.Registry.Find("/live.flv")!;
        Assert.StartsWith("fallback file", mount.Playing);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/backup.flv"));
        var backup = server.Registry.Find("/backup.flv")!;
        await Wait.UntilAsync(() => backup.Ring.NewestKeyframe >= 0, TimeSpan.FromSeconds(20), "the backup source");

        var listen = Ffmpeg.DecodeAndListPacketsAsync(server.Url("/live.flv").ToString(), seconds: 12);
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(15), "the listener");
        await Task.Delay(2500);

        Write(Chain("mount: /backup.flv", file));
        var added = await server.Reloader.ReloadAsync("test");
        Assert.True(added.Success, string.Join("\n", added.Errors));
        await Wait.UntilAsync(() => mount.Playing == "fallback /backup.flv", TimeSpan.FromSeconds(3), "the added fallback to play at once");
        await Task.Delay(3000);

        Write(Chain(file));
        var removed = await server.Reloader.ReloadAsync("test");
        Assert.True(removed.Success, string.Join("\n", removed.Errors));
        await Wait.UntilAsync(() => mount.Playing.StartsWith("fallback file", StringComparison.Ordinal), TimeSpan.FromSeconds(3), "the next entry after the removed one");

        var (decode, dts) = await listen;
        Assert.True(decode.ExitCode == 0, decode.ToString());
        Assert.True(string.IsNullOrWhiteSpace(decode.Errors), "decoder errors: " + decode.Errors);
        Assert.True(decode.VideoFrames >= 12 * 25 * 0.7, decode.ToString());
        foreach (var (stream, values) in dts)
        {
            for (var i = 1; i < values.Count; i++)
            {
                Assert.True(values[i] >= values[i - 1], $"stream {stream}: packet {i} DTS {values[i]} after {values[i - 1]}");
            }
        }
        // The removed entry's feed (a listener on /backup.flv) was stopped.
        await Wait.UntilAsync(() => backup.ListenerCount == 0, TimeSpan.FromSeconds(5), "the removed fallback's feed to stop");
    }

    private const string Valid = """
        server:
          source-password: change-me
          watch-config: false
        mounts:
          - path: /live.flv
        """;

    private const string Broken = """
        server:
          source-password: change-me
          watch-config: false
          flush-interval: 5s
        mounts:
          - path: /live.flv
            max-lag: 20s
            burts: 2s
        """;

    private static readonly string[] s_brokenErrors =
    [
        "server: flush-interval: 5s must be between 1ms and 1s (e.g. 40ms)",
        "mounts[0] (/live.flv): unknown key 'burts' (did you mean 'burst'?)",
        "mounts[0] (/live.flv): max-lag: 20s must be less than evict-lag (15s): a lagging listener is skipped ahead before it is evicted",
    ];

    [Fact]
    public async Task Reload_BrokenFile_ChangesNothing_LogsEveryErrorOnce_CheckExits1()
    {
        Write(Valid);
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);
        var before = server.Registry.Config;

        Write(Broken);
        var result = await server.Reloader.ReloadAsync("test");
        Assert.False(result.Success);
        Assert.Empty(result.Changes);
        Assert.Equal(s_brokenErrors.Order(), result.Errors.Order());
        Assert.Same(before, server.Registry.Config);
        Assert.Equal(TimeSpan.FromSeconds(5), server.Registry.Find("/live.flv")!.Config.MaxLag);

        // The same broken file again (an editor saving twice): reported once.
        var again = await server.Reloader.ReloadAsync("test");
        Assert.False(again.Success);
        Assert.Equal(s_brokenErrors.Length, server.Logs.Count(303));
        Assert.Equal(1, server.Logs.Count(304));
        foreach (var error in s_brokenErrors)
        {
            Assert.Contains(server.Logs.Entries, e => e.EventId == 303 && e.Message.EndsWith(error, StringComparison.Ordinal));
        }

        // The server runs on: a listener still gets its answer.
        using var client = new HttpClient();
        using var response = await client.GetAsync(server.Url("/status.json"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);

        var check = await RunCheckAsync(ConfigPath);
        Assert.Equal(1, check.ExitCode);
        foreach (var error in s_brokenErrors)
        {
            Assert.Contains(error, check.Stderr, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task Check_ShippedConfig_Exits0()
    {
        var root = AppContext.BaseDirectory;
        while (!File.Exists(Path.Combine(root, "Savate.sln")))
        {
            root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("repository root not found");
        }
        var check = await RunCheckAsync(Path.Combine(root, "savate.yaml"));
        Assert.True(check.ExitCode == 0, check.Stderr);
        Assert.Contains("OK", check.Stdout, StringComparison.Ordinal);
    }

    private static Task<(int ExitCode, string Stdout, string Stderr)> RunCheckAsync(string configPath) =>
        RunningProcess.RunAsync("dotnet", [Path.Combine(AppContext.BaseDirectory, "Savate.Server.dll"), "--check", "--config", configPath], TimeSpan.FromSeconds(60));

    [Fact]
    public async Task Reload_RemovingThePlayingMount_EndsItsListenersCleanly_DropsItsSource()
    {
        Write(Valid + "\n  - path: /gone.flv\n    format: flv\n");
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/gone.flv"));
        var mount = server.Registry.Find("/gone.flv")!;
        await Wait.UntilAsync(() => mount.Ring.NewestKeyframe >= 0, TimeSpan.FromSeconds(20), "the source's first keyframe");
        var listen = Ffmpeg.DecodeAsync(server.Url("/gone.flv").ToString(), seconds: 60, timeout: TimeSpan.FromSeconds(90));
        using var client = new HttpClient();
        var raw = ReadToEndAsync(client, server.Url("/gone.flv"));
        await Wait.UntilAsync(() => mount.ListenerCount == 2, TimeSpan.FromSeconds(15), "the listeners");
        await Task.Delay(2000);

        Write(Valid);
        var result = await server.Reloader.ReloadAsync("test");
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(["mount /gone.flv removed"], result.Changes);
        var removedAt = Stopwatch.StartNew();

        Assert.Null(server.Registry.Find("/gone.flv"));
        var decode = await listen;
        Assert.True(removedAt.Elapsed < TimeSpan.FromSeconds(20), $"the listener ended {removedAt.Elapsed} after the removal");
        Assert.True(decode.ExitCode == 0, decode.ToString());
        // ffmpeg's HTTP reader calls any close-delimited body of unknown length "premature"; nothing else may be said.
        var errors = decode.Errors.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Where(l => !l.Contains("Stream ends prematurely", StringComparison.Ordinal) && !l.EndsWith("Input/output error", StringComparison.Ordinal)
                && !l.StartsWith("Last message repeated", StringComparison.Ordinal));
        Assert.Empty(errors);
        Assert.True(decode.VideoFrames > 25, decode.ToString());

        // The connection ends with a FIN after a whole tag: the body is the FLV header and complete tags, nothing cut.
        var body = await raw;
        Assert.True(body.Length > 13 && body.AsSpan(0, 3).SequenceEqual("FLV"u8), $"{body.Length} bytes");
        var offset = 13;
        while (offset < body.Length)
        {
            Assert.True(offset + 11 <= body.Length, $"a tag header cut at {offset} of {body.Length}");
            var size = (body[offset + 1] << 16) | (body[offset + 2] << 8) | body[offset + 3];
            offset += 11 + size + 4;
        }
        Assert.Equal(body.Length, offset);
        await Wait.UntilAsync(() => push.HasExited, TimeSpan.FromSeconds(20), "the dropped encoder to see its connection closed");
        Assert.Equal(1, server.Logs.Count(123));
        Assert.NotNull(server.Registry.Find("/live.flv"));
    }

    private static async Task<byte[]> ReadToEndAsync(HttpClient client, Uri url)
    {
        using var response = await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        await using var stream = await response.Content.ReadAsStreamAsync();
        using var body = new MemoryStream();
        // Throws on a reset; returns at the FIN.
        await stream.CopyToAsync(body);
        return body.ToArray();
    }

    [Fact]
    public async Task Reload_AddedMount_TakesASourceAtOnce()
    {
        Write(Valid.Replace("watch-config: false", "watch-config: false\n  dynamic-mounts: false", StringComparison.Ordinal));
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);
        using var client = new HttpClient();
        using (var refused = await PutAsync(client, server, "/new.flv", "new-secret"))
        {
            Assert.Equal(HttpStatusCode.NotFound, refused.StatusCode);
        }

        Write(Valid.Replace("watch-config: false", "watch-config: false\n  dynamic-mounts: false", StringComparison.Ordinal)
            + "\n  - path: /new.flv\n    source-password: new-secret\n");
        var result = await server.Reloader.ReloadAsync("test");
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Equal(["mount /new.flv added"], result.Changes);

        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/new.flv", "new-secret"));
        var mount = server.Registry.Find("/new.flv")!;
        await Wait.UntilAsync(() => mount.Ring.NewestKeyframe >= 0, TimeSpan.FromSeconds(20), "the new mount's first keyframe");
        var decode = await Ffmpeg.DecodeAsync(server.Url("/new.flv").ToString(), seconds: 3);
        Assert.True(decode.ExitCode == 0 && string.IsNullOrWhiteSpace(decode.Errors), decode.ToString());
        Assert.True(decode.VideoFrames > 25, decode.ToString());
    }

    private static async Task<HttpResponseMessage> PutAsync(HttpClient client, TestServer server, string path, string password)
    {
        using var request = new HttpRequestMessage(HttpMethod.Put, server.Url(path)) { Content = new ByteArrayContent("FLV"u8.ToArray()) };
        request.Content.Headers.ContentType = new MediaTypeHeaderValue("video/x-flv");
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.ASCII.GetBytes($"source:{password}")));
        return await client.SendAsync(request);
    }

    [Fact]
    public async Task Reload_ServerSettings_ApplyLive_ListenersKept()
    {
        Write(Valid);
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        var mount = server.Registry.Find("/live.flv")!;
        await Wait.UntilAsync(() => mount.Ring.NewestKeyframe >= 0, TimeSpan.FromSeconds(20), "the first keyframe");
        var listen = Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 6);
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(15), "the listener");

        Write(Valid.Replace("watch-config: false", "watch-config: false\n  max-listeners: 1\n  flush-interval: 20ms\n  listen: http://127.0.0.1:1", StringComparison.Ordinal));
        var result = await server.Reloader.ReloadAsync("test");
        Assert.True(result.Success, string.Join("\n", result.Errors));
        Assert.Contains("server: max-listeners 10000 -> 1", result.Changes);
        Assert.Contains("server: flush-interval 40ms -> 20ms", result.Changes);
        Assert.Contains(result.Changes, c => c.StartsWith("server: listen ", StringComparison.Ordinal) && c.EndsWith("needs a restart (not applied)", StringComparison.Ordinal));
        Assert.Equal(TimeSpan.FromMilliseconds(20), mount.Server.FlushInterval);

        // The server is full now: a second listener is refused, the first one stays.
        using var client = new HttpClient();
        using var full = await client.GetAsync(server.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, full.StatusCode);
        var decode = await listen;
        Assert.True(decode.ExitCode == 0 && string.IsNullOrWhiteSpace(decode.Errors), decode.ToString());
        Assert.True(decode.VideoFrames >= 6 * 25 * 0.8, decode.ToString());
    }

    [Fact]
    public async Task FileChange_And_Sighup_TriggerAReload()
    {
        Write(Valid.Replace("watch-config: false", "watch-config: true", StringComparison.Ordinal));
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);

        Write(Valid.Replace("watch-config: false", "watch-config: true", StringComparison.Ordinal) + "\n  - path: /watched.flv\n");
        await Wait.UntilAsync(() => server.Logs.Entries.Any(e => e.EventId == 300 && e.Message.Contains("(file change): mount /watched.flv added", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(15), "the file watch to add /watched.flv");
        Assert.NotNull(server.Registry.Find("/watched.flv"));

        // With the watch off, only SIGHUP reloads.
        Write(Valid + "\n  - path: /signalled.flv\n");
        await Wait.UntilAsync(() => server.Registry.Find("/signalled.flv") is not null, TimeSpan.FromSeconds(15), "the file watch to apply watch-config: false");
        Write(Valid + "\n  - path: /signalled.flv\n  - path: /hup.flv\n");
        await Task.Delay(ConfigWatcherDebounce * 4);
        Assert.Null(server.Registry.Find("/hup.flv"));
        using (var kill = Process.Start("kill", ["-HUP", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)]))
        {
            await kill.WaitForExitAsync();
        }
        await Wait.UntilAsync(() => server.Logs.Entries.Any(e => e.EventId == 300 && e.Message.Contains("(SIGHUP): mount /hup.flv added", StringComparison.Ordinal)),
            TimeSpan.FromSeconds(15), "SIGHUP to add /hup.flv");
        Assert.NotNull(server.Registry.Find("/hup.flv"));
    }

    private static readonly TimeSpan ConfigWatcherDebounce = Hosting.ConfigWatcher.DebounceDelay;

    [Fact]
    public async Task Reload_RelayUpstreamsChanged_KeepsAConnectionStillListed_RepointsOneRemoved()
    {
        const string Upstream = """
            server:
              source-password: change-me
            mounts:
              - path: /live.flv
                format: flv
            """;
        await using var a = await TestServer.StartAsync(Upstream);
        await using var b = await TestServer.StartAsync(Upstream);
        using var pushA = Ffmpeg.PushFlvChunkedPost(a.SourceUrl("/live.flv"));
        using var pushB = Ffmpeg.PushFlvChunkedPost(b.SourceUrl("/live.flv"));
        // Upstreams live before the relay starts: three quick 503s from an upstream whose encoder is still starting
        // (2 s and more on a loaded machine) make the relay skip it for 30 s, longer than the waits below.
        await LiveFanOutTests.WaitForMediaAsync(a, "/live.flv", mediaMs: 200);
        await LiveFanOutTests.WaitForMediaAsync(b, "/live.flv", mediaMs: 200);
        string Relay(params TestServer[] upstreams) => $"""
            server:
              watch-config: false
            relays:
              - mount: /live.flv
                on-demand: false
                upstreams: [{string.Join(", ", upstreams.Select(u => u.Url("/live.flv").ToString()))}]
            """;
        Write(Relay(a));
        await using var relay = await TestServer.StartFromFileAsync(ConfigPath);
        RelayStatus Status() => Assert.Single(relay.Relays.Statuses);
        await Wait.UntilAsync(() => Status().State == RelayState.Streaming && relay.Registry.Find("/live.flv")!.Ring.NewestKeyframe >= 0,
            TimeSpan.FromSeconds(20), "the relay to stream from a");
        var listen = Ffmpeg.DecodeAsync(relay.Url("/live.flv").ToString(), seconds: 10);
        await Wait.UntilAsync(() => relay.Registry.Find("/live.flv")!.ListenerCount == 1, TimeSpan.FromSeconds(15), "the listener");

        // b added after a: the connection to a is still listed, so it stays.
        Write(Relay(a, b));
        var kept = await relay.Reloader.ReloadAsync("test");
        Assert.True(kept.Success, string.Join("\n", kept.Errors));
        Assert.Single(kept.Changes, c => c.StartsWith("relay /live.flv changed: upstreams", StringComparison.Ordinal));
        await Task.Delay(1500);
        Assert.Equal(1, Status().Connects);
        Assert.Equal(a.Url("/live.flv").ToString(), Status().Upstream);

        // a removed: the relay reconnects, to b.
        Write(Relay(b));
        var moved = await relay.Reloader.ReloadAsync("test");
        Assert.True(moved.Success, string.Join("\n", moved.Errors));
        Assert.Contains("relay /live.flv reconnects: its upstream was removed", moved.Changes);
        await Wait.UntilAsync(() => Status() is { State: RelayState.Streaming, Connects: 2 } s && s.Upstream == b.Url("/live.flv").ToString(),
            TimeSpan.FromSeconds(20), "the relay to stream from b");

        var decode = await listen;
        Assert.True(decode.ExitCode == 0, decode.ToString());
        Assert.True(decode.VideoFrames >= 10 * 25 * 0.6, decode.ToString());
    }
}
