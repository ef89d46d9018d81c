using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Savate.Server.Tests.Fakes;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// What one source can do to the server (issue 9, points 4, 6 and 7): trickle, go silent after its header, send a bad
/// chunked body or junk TS, create mounts without end, hold huge partial tags. Each is bounded, logged once, and the
/// listeners of the mount (and of another mount) keep playing.
/// </summary>
public sealed class SourceLimitsTests
{
    private const string Config = """
        server:
          source-password: change-me
          source-timeout: 2s
          source-min-rate: 1KiB
          max-dynamic-mounts: 2
          max-tag-size: 2MiB
          partial-input-budget: 3MiB
        mounts:
          - path: /fb.flv
            format: flv
            grace: 500ms
            fallback:
              - file: samples/offline.flv
          - path: /control.flv
            format: flv
            fallback:
              - file: samples/offline.flv
          - path: /junk.ts
            format: mpegts
        """;

    // For the tests whose sources send once and then hold what they sent: silence must not drop them first.
    private static readonly string PatientConfig = Config.Replace("source-timeout: 2s", "source-timeout: 60s", StringComparison.Ordinal);

    internal static readonly string Auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("source:change-me"));

    /// <summary>An Icecast-style PUT with no length (the raw path); returns the connection once the server answered 200.</summary>
    internal static async Task<RawHttp> OpenRawSourceAsync(int port, string path, string contentType = "video/x-flv")
    {
        var raw = await RawHttp.ConnectAsync(port);
        await raw.SendAsync($"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Auth}\r\nContent-Type: {contentType}\r\n\r\n");
        var (head, _) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(10));
        Assert.StartsWith("HTTP/1.1 200", head);
        return raw;
    }

    [Fact]
    public async Task TricklingSource_FallbackKeepsPlaying_AndTricklerIsDropped()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/fb.flv")!;
        Assert.StartsWith("fallback file", mount.Playing);
        var decode = Ffmpeg.DecodeAsync(server.Url("/fb.flv").ToString(), seconds: 8);
        var control = Ffmpeg.DecodeAsync(server.Url("/control.flv").ToString(), seconds: 8);

        // 1 byte a second: a valid FLV header, then the start of a tag.
        await using var trickler = await OpenRawSourceAsync(server.Port, "/fb.flv");
        var bytes = FlvSynth.Concat(FlvSynth.Header(), FlvSynth.Keyframe(0, size: 64));
        var clock = Stopwatch.StartNew();
        var sent = 0;
        var dropped = false;
        while (!dropped && clock.Elapsed < TimeSpan.FromSeconds(15))
        {
            Assert.StartsWith("fallback file", mount.Playing);
            try
            {
                await trickler.Socket.SendAsync(bytes.AsMemory(sent % bytes.Length, 1), SocketFlags.None);
                sent++;
            }
            catch (SocketException)
            {
                dropped = true;
                break;
            }
            dropped = mount.Source is null && sent > 0;
            await Task.Delay(1000);
        }

        Assert.True(await trickler.WaitClosedAsync(TimeSpan.FromSeconds(10)), "the trickling source was not closed");
        await Wait.UntilAsync(() => mount.Source is null, TimeSpan.FromSeconds(5), "the trickler to be released");
        Assert.Contains(server.Logs.Entries, e => e.EventId == 102 && e.Message.Contains("below source-min-rate"));
        Assert.StartsWith("fallback file", mount.Playing);
        AssertCleanDecode(await decode, minVideoFrames: 150);
        AssertCleanDecode(await control, minVideoFrames: 150);
    }

    [Fact]
    public async Task HeaderThenSilence_FallbackKeepsPlaying_AndSourceIsDropped()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/fb.flv")!;
        var decode = Ffmpeg.DecodeAsync(server.Url("/fb.flv").ToString(), seconds: 6);

        await using var silent = await OpenRawSourceAsync(server.Port, "/fb.flv");
        await silent.SendAsync(FlvSynth.Concat(FlvSynth.Header(), FlvSynth.Metadata(), FlvSynth.AvcConfig(0)));
        await Wait.UntilAsync(() => mount.Source is not null, TimeSpan.FromSeconds(5), "the source to be admitted");

        Assert.True(await silent.WaitClosedAsync(TimeSpan.FromSeconds(10)), "the silent source was not closed");
        Assert.StartsWith("fallback file", mount.Playing);
        Assert.Equal(0, mount.Switches);
        AssertCleanDecode(await decode, minVideoFrames: 110);
    }

    [Fact]
    public async Task BadChunkFraming_LogsOneLine_AndNoStack()
    {
        await using var server = await TestServer.StartAsync(Config);
        foreach (var body in new[] { "zz\r\nFLV\r\n", "d\r\nFLV\x01\x05\0\0\0\x09\0\0\0\0\r\nnot-a-size\r\n" })
        {
            await using var raw = await RawHttp.ConnectAsync(server.Port);
            await raw.SendAsync($"POST /other.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Auth}\r\nContent-Type: video/x-flv\r\nTransfer-Encoding: chunked\r\n\r\n");
            await raw.SendAsync(Encoding.Latin1.GetBytes(body));
            Assert.True(await raw.WaitClosedAsync(TimeSpan.FromSeconds(10)), "the connection stayed open");
        }

        await Wait.UntilAsync(() => server.Registry.Find("/other.flv") is null or { Source: null }, TimeSpan.FromSeconds(5), "the sources to be released");
        var entries = server.Logs.Entries;
        Assert.DoesNotContain(entries, e => e.Message.Contains("unhandled exception", StringComparison.OrdinalIgnoreCase));
        Assert.DoesNotContain(entries, e => e.Message.Contains("   at ", StringComparison.Ordinal));
        Assert.InRange(entries.Count(e => e.Message.Contains("/other.flv") && e.EventId is 101 or 102), 1, 2);
    }

    [Fact]
    public async Task JunkTsSource_ResyncWarningsAreRateLimited()
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var junk = await OpenRawSourceAsync(server.Port, "/junk.ts", "video/mp2t");
        // Real packets with 50 bytes of noise after every 20: each write needs several resyncs.
        var sample = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.ts"));
        var noise = new byte[50];
        var random = new Random(7);
        var clock = Stopwatch.StartNew();
        var writes = 0;
        var offset = 0;
        while (clock.Elapsed < TimeSpan.FromSeconds(3))
        {
            if (offset + 20 * 188 > sample.Length)
            {
                offset = 0;
            }
            random.NextBytes(noise);
            for (var i = 0; i < noise.Length; i++)
            {
                noise[i] = noise[i] == 0x47 ? (byte)0 : noise[i];
            }
            await junk.SendAsync(sample.AsMemory(offset, 20 * 188));
            await junk.SendAsync(noise);
            offset += 20 * 188;
            writes++;
            await Task.Delay(5);
        }

        await Wait.UntilAsync(() => server.Logs.Count(103) > 0, TimeSpan.FromSeconds(5), "the first resync line");
        Assert.True(writes > 50, $"only {writes} writes");
        // Hundreds of reads each needed a resync: one line in the 10 s window.
        Assert.Equal(1, server.Logs.Count(103));
    }

    [Fact]
    public async Task DynamicMounts_OverMaxDynamicMounts_AreRefusedWith503()
    {
        await using var server = await TestServer.StartAsync(PatientConfig);
        await using var first = await OpenRawSourceAsync(server.Port, "/dyn1.flv");
        await using var second = await OpenRawSourceAsync(server.Port, "/dyn2.flv");

        await using var third = await RawHttp.ConnectAsync(server.Port);
        await third.SendAsync($"PUT /dyn3.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Auth}\r\nContent-Type: video/x-flv\r\n\r\n");
        var (head, body) = await third.ReadHeadAsync(TimeSpan.FromSeconds(10));
        var rest = await third.ReadAsync(4096, TimeSpan.FromSeconds(2));
        var text = Encoding.ASCII.GetString([.. body, .. rest]);

        Assert.StartsWith("HTTP/1.1 503", head);
        Assert.Contains("max-dynamic-mounts", text);
        Assert.Null(server.Registry.Find("/dyn3.flv"));
        Assert.NotNull(server.Registry.Find("/dyn1.flv"));
    }

    [Fact]
    public async Task TagOverMaxTagSize_DropsTheSourceWithOneLine()
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var raw = await OpenRawSourceAsync(server.Port, "/fb.flv");
        // A video tag header declaring 3 MiB (max-tag-size is 2 MiB), and its first bytes.
        var tag = new byte[11 + 1000];
        tag[0] = 9;
        tag[1] = 0x30;
        tag[2] = 0;
        tag[3] = 0;
        tag[11] = 0x17;
        await raw.SendAsync(FlvSynth.Concat(FlvSynth.Header(), tag));

        Assert.True(await raw.WaitClosedAsync(TimeSpan.FromSeconds(10)));
        await Wait.UntilAsync(() => server.Registry.Find("/fb.flv")!.Source is null, TimeSpan.FromSeconds(5), "the source to be released");
        Assert.Single(server.Logs.Entries, e => e.EventId == 102 && e.Message.Contains("TagTooLarge"));
    }

    [Fact]
    public async Task LargeTagUnderMaxTagSize_IsPublished()
    {
        await using var server = await TestServer.StartAsync(PatientConfig);
        var mount = server.Registry.Find("/fb.flv")!;
        await using var raw = await OpenRawSourceAsync(server.Port, "/fb.flv");
        // A 1.5 MiB keyframe (more than a socket read or a pipe segment), then an inter frame that ends the slice.
        await raw.SendAsync(FlvSynth.Concat(FlvSynth.Header(), FlvSynth.AvcConfig(0), FlvSynth.Keyframe(0, size: 1536 * 1024), FlvSynth.Inter(40)));

        await Wait.UntilAsync(() => mount.Playing == "live" && mount.Ring.NewestKeyframe >= 0, TimeSpan.FromSeconds(10), "the large keyframe to go live");
        // The source reports what it holds just after the read that completed the tag.
        await Wait.UntilAsync(() => server.Registry.SourceGuard.Budget.Total == 0, TimeSpan.FromSeconds(5), "the partial tag to leave the budget");
        Assert.NotNull(mount.Source);
    }

    [Fact]
    public async Task PartialInputOverBudget_DropsTheSourceHoldingTheMost()
    {
        await using var server = await TestServer.StartAsync(PatientConfig);
        // Each source: a header, then 900 KiB of a tag that declares 2 MiB - 1. Three fit in the 3 MiB budget.
        var tagHead = new byte[] { 9, 0x1F, 0xFF, 0xFF, 0, 0, 0, 0, 0, 0, 0, 0x17 };
        string[] paths = ["/fb.flv", "/control.flv", "/dyn0.flv"];
        var sources = new List<RawHttp>();
        try
        {
            for (var i = 0; i < 3; i++)
            {
                var source = await OpenRawSourceAsync(server.Port, paths[i]);
                sources.Add(source);
                await source.SendAsync(FlvSynth.Concat(FlvSynth.Header(), tagHead, new byte[900 * 1024]));
            }
            var guard = server.Registry.SourceGuard;
            await Wait.UntilAsync(() => guard.Budget.Total >= 3 * 900 * 1024, TimeSpan.FromSeconds(10), "three sources to hold their partial tags");

            // The fourth goes over: the source holding the most (one of the first three) is dropped.
            await using var fourth = await OpenRawSourceAsync(server.Port, "/dyn1.flv");
            await fourth.SendAsync(FlvSynth.Concat(FlvSynth.Header(), tagHead, new byte[400 * 1024]));

            await Wait.UntilAsync(() => server.Logs.Entries.Any(e => e.EventId == 102 && e.Message.Contains("partial-input-budget")), TimeSpan.FromSeconds(10), "a source dropped by the budget");
            var closed = 0;
            foreach (var source in sources)
            {
                closed += await source.WaitClosedAsync(TimeSpan.FromMilliseconds(500)) ? 1 : 0;
            }
            Assert.Equal(1, closed);
            Assert.False(await fourth.WaitClosedAsync(TimeSpan.FromMilliseconds(500)));
            Assert.InRange(guard.Budget.Total, 1, guard.Budget.Limit);
        }
        finally
        {
            foreach (var source in sources)
            {
                await source.DisposeAsync();
            }
        }
    }

    internal static void AssertCleanDecode(DecodeResult result, int minVideoFrames)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(string.IsNullOrWhiteSpace(result.Errors), "decoder errors: " + result.Errors);
        Assert.True(result.VideoFrames >= minVideoFrames, result.ToString());
    }
}
