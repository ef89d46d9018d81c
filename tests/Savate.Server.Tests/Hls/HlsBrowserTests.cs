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

    // The samples' first keyframe is shown 80 ms after it is decoded (B-frames: DTS 0, PTS 0.080). hls.js 1.7.4
    // anchors the first fragment it loads at min(first audio PTS, first video DTS), so its video is buffered from
    // that composition offset on, whatever the audio does: at startup the playhead (0) sits in that hole, and
    // unless Chromium starts playing first (it plays through a start gap under 1 s), hls.js seeks over it with a
    // non-fatal bufferSeekOverHole. A source without B-frames has no such hole (the pushed-mount tests below).
    private const double KeyframeCompositionOffset = 0.1;

    /// <summary>
    /// An FLV mount, remuxed: each segment's audio starts with its video (audio from before a keyframe's PTS goes to
    /// the segment before it). Any error event fails the test, except the seek over the first keyframe's composition
    /// offset at time 0 (at most 100 ms, see <see cref="KeyframeCompositionOffset"/>).
    /// </summary>
    [Fact]
    public async Task HlsJs_FlvMount_PlaysTenSecondsWithoutErrorsOtherThanTheKeyframeOffset()
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        await PlayAsync(server, "/demo.flv", allowedStartGap: KeyframeCompositionOffset);
    }

    /// <summary>
    /// A TS mount: its muxer interleaves audio late and packs several frames per PES, so the segmenter routes each PES
    /// by its PTS and splits the one spanning a cut. Any error event fails the test (no aborted load, no hole in the
    /// audio), except the seek over the first keyframe's composition offset at time 0 (at most 100 ms).
    /// </summary>
    [Fact]
    public async Task HlsJs_TsMount_PlaysTenSecondsWithoutErrorsOtherThanTheKeyframeOffset()
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        await PlayAsync(server, "/demo.ts", allowedStartGap: KeyframeCompositionOffset);
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
        await PlayAsync(server, path, allowedStartGap: 0, size: [320, 240]);
        await push.StopAsync();
    }

    private async Task PlayAsync(TestServer server, string path, double allowedStartGap, int[]? size = null)
    {
        await HlsTests.WaitForSegmentsAsync(server, path, 1);
        var (playwright, browser, page) = await OpenAsync();
        using var _ = playwright;
        await using var __ = browser;

        Assert.True(await page.EvaluateAsync<bool>("() => Hls.isSupported()"), "hls.js: no MSE with H.264/AAC in this Chromium");
        await page.EvaluateAsync(@"([url, startGap]) => {
            window.hlsErrors = [];
            window.hlsAllowed = [];
            const video = document.createElement('video');
            video.muted = true;
            document.body.appendChild(video);
            const hls = new Hls();
            hls.on(Hls.Events.ERROR, (event, data) => {
                // 'fragment loaded with buffer holes, seeking from A to B': B is the hole's end + skipBufferHolePadding (0.1 s).
                const seek = /seeking from ([0-9.]+) to ([0-9.]+)/.exec(data.reason || '');
                if (!data.fatal && data.details === 'bufferSeekOverHole' && seek && +seek[1] < 0.05 && +seek[2] - 0.1 - +seek[1] <= startGap + 0.001) {
                    window.hlsAllowed.push(data.reason);
                    return;
                }
                const ranges = [];
                for (let i = 0; i < video.buffered.length; i++) ranges.push(`${video.buffered.start(i).toFixed(3)}-${video.buffered.end(i).toFixed(3)}`);
                window.hlsErrors.push(`${data.type} ${data.details} fatal=${data.fatal} at ${video.currentTime.toFixed(3)} buffered ${ranges.join(',')} ${data.frag ? 'frag ' + data.frag.sn : ''} ${data.reason || ''}`);
            });
            hls.loadSource(url);
            hls.attachMedia(video);
            hls.on(Hls.Events.MANIFEST_PARSED, () => video.play());
            window.video = video;
        }", new object[] { server.Url($"{path}/master.m3u8").ToString(), allowedStartGap });

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

        var allowed = await page.EvaluateAsync<string[]>("() => window.hlsAllowed");
        output.WriteLine($"{path}: played {played:0.0} s; allowed events: {(allowed.Length == 0 ? "none" : string.Join("; ", allowed))}");
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
