using System.Net;
using Microsoft.Playwright;
using Savate.Server.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// The status page in a real browser: Debian's headless Chromium driven by Playwright (never a downloaded
/// browser). The page lists the mounts, plays one with mpegts.js, and shows hostile names as text.
/// </summary>
public sealed class StatusPageTests(ITestOutputHelper output)
{
    private const string Chromium = "/usr/bin/chromium";

    private const string Config = """
        server:
          source-password: change-me
        mounts:
          - path: /page.flv
            format: flv
            title: Page test
          - path: /page.ts
            format: mpegts
          - path: "/<script>window.pwned=1</script>.flv"
            format: flv
            title: "<img src=x onerror=\"window.pwned=2\">"
        """;

    private static async Task<IBrowser> LaunchAsync(IPlaywright playwright) =>
        await playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
        {
            ExecutablePath = Chromium,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run"],
        });

    [Fact]
    public async Task StatusPage_InChromium_ListsMountsAndPlaysAStreamForFiveSeconds()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/page.flv")!;
        using var source = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/page.flv"));
        await Wait.UntilAsync(() => mount.Headers is not null, TimeSpan.FromSeconds(20), "the source's first keyframe");

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new ViewportSize { Width = 1280, Height = 900 } });
        var problems = new List<string>();
        page.PageError += (_, error) => problems.Add("page error: " + error);
        page.Console += (_, message) =>
        {
            output.WriteLine($"console {message.Type}: {message.Text}");
        };
        var external = new List<string>();
        page.Request += (_, request) =>
        {
            if (!request.Url.StartsWith(server.BaseUri.GetLeftPart(UriPartial.Authority), StringComparison.Ordinal) && !request.Url.StartsWith("blob:", StringComparison.Ordinal))
            {
                external.Add(request.Url);
            }
        };

        var response = await page.GotoAsync(server.BaseUri.ToString());
        Assert.Equal((int)HttpStatusCode.OK, response!.Status);
        Assert.StartsWith("text/html", response.Headers["content-type"]);
        await page.WaitForSelectorAsync("tr[data-mount='/page.flv'] .state.live", new PageWaitForSelectorOptions { Timeout = 30_000 });
        var mounts = await page.EvalOnSelectorAllAsync<string[]>("#mounts tbody tr", "rows => rows.map(r => r.dataset.mount)");
        Assert.Equal(new[] { "/<script>window.pwned=1</script>.flv", "/page.flv", "/page.ts" }, mounts.OrderBy(m => m, StringComparer.Ordinal).ToArray());
        Assert.Contains("Page test", await page.InnerTextAsync("tr[data-mount='/page.flv']"));
        Assert.Contains("off", await page.InnerTextAsync("tr[data-mount='/page.ts'] .state"));

        await page.ClickAsync("tr[data-mount='/page.flv'] button.play");
        const string Video = ".player[data-mount='/page.flv'] video";
        await page.WaitForFunctionAsync($"() => {{ const v = document.querySelector(\"{Video}\"); return v && v.currentTime > 0; }}",
            null, new PageWaitForFunctionOptions { Timeout = 30_000 });
        var start = await page.EvalOnSelectorAsync<double>(Video, "v => v.currentTime");
        await page.WaitForFunctionAsync($"() => document.querySelector(\"{Video}\").currentTime >= {start.ToString(System.Globalization.CultureInfo.InvariantCulture)} + 5",
            null, new PageWaitForFunctionOptions { Timeout = 60_000, PollingInterval = 250 });

        var videoError = await page.EvalOnSelectorAsync<string?>(Video, "v => v.error ? String(v.error.code) : null");
        var playerError = await page.GetAttributeAsync(".player[data-mount='/page.flv']", "data-error");
        Assert.Null(videoError);
        Assert.Null(playerError);
        Assert.Contains("ffplay http://127.0.0.1:", await page.InputValueAsync(".player[data-mount='/page.flv'] input[aria-label='ffplay command']"));
        Assert.Equal(1, mount.ListenerCount);

        var artifacts = Path.Combine(AppContext.BaseDirectory, "artifacts");
        Directory.CreateDirectory(artifacts);
        var screenshot = Path.Combine(artifacts, "status-page.png");
        await page.ScreenshotAsync(new PageScreenshotOptions { Path = screenshot, FullPage = true });
        output.WriteLine("screenshot: " + screenshot);
        Assert.True(new FileInfo(screenshot).Length > 10_000);
        Assert.Empty(problems);
        Assert.Empty(external);
    }

    [Fact]
    public async Task StatusPage_HostileMountNameAndTitle_AreShownAsText()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await browser.NewPageAsync();
        await page.GotoAsync(server.BaseUri.ToString());
        const string Row = "tr[data-mount='/<script>window.pwned=1</script>.flv']";
        await page.WaitForSelectorAsync(Row, new PageWaitForSelectorOptions { Timeout = 30_000 });

        var text = await page.InnerTextAsync(Row);
        Assert.Contains("/<script>window.pwned=1</script>.flv", text);
        Assert.Contains("<img src=x onerror=\"window.pwned=2\">", text);
        Assert.Equal(0, await page.Locator("#mounts script, #mounts img").CountAsync());
        Assert.Equal("undefined", await page.EvaluateAsync<string>("() => typeof window.pwned"));
    }

    [Fact]
    public async Task StatusPage_ServesItsScriptsItself()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();
        var html = await client.GetStringAsync(server.BaseUri);
        Assert.Contains("<script src=\"/status/mpegts.js\"></script>", html);
        Assert.DoesNotContain("https://", html);
        var player = await client.GetAsync(server.Url("/status/mpegts.js"));
        Assert.Equal(HttpStatusCode.OK, player.StatusCode);
        Assert.StartsWith("text/javascript", player.Content.Headers.ContentType!.ToString());
        Assert.True((await player.Content.ReadAsByteArrayAsync()).Length > 100_000);
        Assert.Contains("Apache License", await client.GetStringAsync(server.Url("/status/mpegts.js.LICENSE")));
    }
}
