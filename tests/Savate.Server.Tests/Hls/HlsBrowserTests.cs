using System.Text.Json;
using Microsoft.Playwright;
using Savate.Server.Hls;
using Savate.Server.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Savate.Server.Tests.Hls;

/// <summary>
/// The playlists in a real browser: hls.js (vendored, Hls/vendor) plays them in Debian's headless Chromium, and
/// hls-parser in strict mode reads them. The page is about:blank, so every request is cross-origin (CORS is tested too).
/// </summary>
public sealed class HlsBrowserTests(ITestOutputHelper output)
{
    private static readonly string[] s_chromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run", "--autoplay-policy=no-user-gesture-required",
    ];

    private static string Vendor(string file) => Path.Combine(AppContext.BaseDirectory, "Hls", "vendor", file);

    private static async Task<(IPlaywright Playwright, IBrowser Browser, IPage Page)> OpenAsync()
    {
        var playwright = await Playwright.CreateAsync();
        var browser = await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = "/usr/bin/chromium",
            Headless = true,
            Args = s_chromiumArgs,
        });
        var page = await browser.NewPageAsync();
        await page.SetContentAsync("<!doctype html><html><body></body></html>");
        await page.AddScriptTagAsync(new PageAddScriptTagOptions { Path = Vendor("hls.min.js") });
        await page.AddScriptTagAsync(new PageAddScriptTagOptions { Path = Vendor("hls-parser.min.js") });
        return (playwright, browser, page);
    }

    /// <summary>
    /// An FLV mount, remuxed: each segment's audio starts with its video (audio from before a keyframe's PTS goes to
    /// the segment before it). The sample has B-frames: its keyframes are shown 80 ms after they are decoded, and
    /// hls.js lines a segment up with its decode time, so a player starting at a segment's very beginning sits in a
    /// hole of two frames and seeks over it (bufferSeekOverHole, about half the runs before the playlist said where
    /// to start). The playlist's EXT-X-START puts the start a quarter second inside the segment: any error event
    /// fails the test.
    /// </summary>
    [Fact]
    public async Task HlsJs_FlvMount_PlaysTenSecondsWithoutAnyErrorEvent()
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        await PlayAsync(server, "/demo.flv");
    }

    /// <summary>
    /// A TS mount (B-frames too): its muxer interleaves audio late and packs several frames per PES, so the segmenter
    /// routes each PES by its PTS and splits the one spanning a cut. Any error event fails the test (no aborted load,
    /// no hole in the audio, no seek over the keyframe's composition offset).
    /// </summary>
    [Fact]
    public async Task HlsJs_TsMount_PlaysTenSecondsWithoutAnyErrorEvent()
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        await PlayAsync(server, "/demo.ts");
    }

    /// <summary>
    /// Mounts ffmpeg pushes (no B-frames; its TS muxer interleaves audio late, several frames per PES): hls.js plays
    /// them with no error event at all, bufferSeekOverHole and aborted included.
    /// </summary>
    [Theory]
    [InlineData("/push.flv")]
    [InlineData("/push.ts")]
    public async Task HlsJs_FfmpegPushedMount_PlaysTenSecondsWithoutAnyErrorEvent(string path)
    {
        await using var server = await TestServer.StartAsync("""
            server:
              source-password: change-me
            mounts:
              - path: /push.flv
                format: flv
              - path: /push.ts
                format: mpegts
            """);
        var mount = server.Registry.Find(path)!;
        using var push = path.EndsWith(".ts", StringComparison.Ordinal) ? Ffmpeg.PushTsPut(server.SourceUrl(path)) : Ffmpeg.PushFlvChunkedPost(server.SourceUrl(path));
        await Wait.UntilAsync(() => mount.Playing == "live", TimeSpan.FromSeconds(15), "the source to connect");
        await PlayAsync(server, path, size: [320, 240]);
        await push.StopAsync();
    }

    private async Task PlayAsync(TestServer server, string path, int[]? size = null)
    {
        // Three segments, as a player joining a running stream finds: EXT-X-START is then three segments from the live
        // edge. Started with the first and only segment, the player is at the edge and each next segment lands just
        // as its buffer runs out: Chromium 156 (Debian, December 2026) waits and hls.js reports bufferStalledError at
        // the first boundaries, where older builds had started a little later and had the slack.
        await HlsTests.WaitForSegmentsAsync(server, path, 3);
        var (playwright, browser, page) = await OpenAsync();
        using var _ = playwright;
        await using var __ = browser;

        Assert.True(await page.EvaluateAsync<bool>("() => Hls.isSupported()"), "hls.js: no MSE with H.264/AAC in this Chromium");
        await page.EvaluateAsync(@"url => {
            window.hlsErrors = [];
            const video = document.createElement('video');
            video.muted = true;
            document.body.appendChild(video);
            const hls = new Hls();
            hls.on(Hls.Events.ERROR, (event, data) => {
                const ranges = [];
                for (let i = 0; i < video.buffered.length; i++) ranges.push(`${video.buffered.start(i).toFixed(3)}-${video.buffered.end(i).toFixed(3)}`);
                window.hlsErrors.push(`${data.type} ${data.details} fatal=${data.fatal} at ${video.currentTime.toFixed(3)} buffered ${ranges.join(',')} ${data.frag ? 'frag ' + data.frag.sn : ''} ${data.reason || ''}`);
            });
            hls.loadSource(url);
            hls.attachMedia(video);
            hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
            window.video = video;
        }", server.Url($"{path}/master.m3u8").ToString());

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        double played;
        string[] errors;
        do
        {
            await Task.Delay(500);
            played = await page.EvaluateAsync<double>("() => window.video.currentTime");
            errors = await page.EvaluateAsync<string[]>("() => window.hlsErrors");
        }
        while (played < 10 && errors.Length == 0 && DateTime.UtcNow < deadline);

        output.WriteLine($"{path}: played {played:0.0} s; error events: {errors.Length}");
        Assert.True(errors.Length == 0, "hls.js errors: " + string.Join("; ", errors));
        Assert.True(played >= 10, $"played {played:0.0} s in 90 s");
        Assert.Equal(size ?? [640, 360], await page.EvaluateAsync<int[]>("() => [window.video.videoWidth, window.video.videoHeight]"));
    }

    [Fact]
    public async Task Playlists_PassHlsParserStrictMode_IncludingDiscontinuities()
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        await HlsTests.WaitForSegmentsAsync(server, "/demo.ts", 2);
        var (playwright, browser, page) = await OpenAsync();
        using var _ = playwright;
        await using var __ = browser;

        // A playlist that has seen discontinuities leave its window, as the store renders it.
        var store = new HlsPlaylist("0123abcd", window: 3, maxBytes: 1 << 20);
        store.FixTargetDuration(2);
        store.Codecs = new HlsCodecs("avc1.4d401e", "mp4a.40.2", 640, 360);
        for (var i = 0; i < 8; i++)
        {
            store.Add(new byte[188], i * 2000, 2000, discontinuity: i % 3 == 1, startsWithKeyframe: true);
        }
        var texts = new[]
        {
            await new HttpClient().GetStringAsync(server.Url("/demo.ts/index.m3u8")),
            await new HttpClient().GetStringAsync(server.Url("/demo.ts/master.m3u8")),
            await new HttpClient().GetStringAsync(server.Url("/demo.flv/index.m3u8")),
            store.RenderMediaPlaylist()!,
            store.RenderMultivariantPlaylist("index.m3u8")!,
        };
        Assert.Contains("#EXT-X-DISCONTINUITY\n", texts[3]);
        Assert.Contains("#EXT-X-DISCONTINUITY-SEQUENCE:2\n", texts[3]);

        foreach (var text in texts)
        {
            var result = await page.EvaluateAsync<string>(@"text => {
                HLS.setOptions({ strictMode: true });
                try {
                    const playlist = HLS.parse(text);
                    return JSON.stringify({ ok: true, master: playlist.isMasterPlaylist, segments: (playlist.segments || []).length,
                        target: playlist.targetDuration, variants: (playlist.variants || []).map(v => [v.codecs, v.resolution]) });
                } catch (e) {
                    return JSON.stringify({ ok: false, error: String(e) });
                }
            }", text);
            using var json = JsonDocument.Parse(result);
            Assert.True(json.RootElement.GetProperty("ok").GetBoolean(), $"hls-parser (strict) refused:\n{text}\n{result}");
            if (json.RootElement.GetProperty("master").GetBoolean())
            {
                Assert.Contains("avc1.4d401e,mp4a.40.2", result);
            }
            else
            {
                Assert.True(json.RootElement.GetProperty("segments").GetInt32() > 0, result);
            }
        }
    }
}
