using System.Diagnostics;
using System.Net;
using System.Text;
using Savate.Server.Tests.Fakes;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>Sources that are refused, and sources that leave early (issue 12, points 3 to 6).</summary>
public sealed class SourceRefusalTests
{
    private const string Config = """
        server:
          source-password: change-me
          source-timeout: 10s
        mounts:
          - path: /live.flv
            format: flv
          - path: /auto
        """;

    private const int RefusedEvent = 140;
    private const int RefusedAgainEvent = 141;
    private const int SourceEndedEvent = 101;

    private static string Basic(string password) => Convert.ToBase64String(Encoding.ASCII.GetBytes($"source:{password}"));

    [Fact]
    public async Task ChunkedSource_WrongPassword_FfmpegExitsWithinSecondsAndTheLogNamesTheRefusal()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv", password: "wrong"));

        // ffmpeg's http:// muxer streams without reading the answer: only a closed connection stops it.
        await Wait.UntilAsync(() => push.HasExited, TimeSpan.FromSeconds(15), "ffmpeg to give up on the refused source");

        Assert.NotEqual(0, push.ExitCode);
        var refusal = Assert.Single(server.Logs.Entries, e => e.EventId == RefusedEvent);
        Assert.Contains("/live.flv", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("127.0.0.1", refusal.Message, StringComparison.Ordinal);
        Assert.Contains("401", refusal.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ChunkedSource_BusyMount_FfmpegExitsWithinSecondsAndTheFirstKeepsStreaming()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var first = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        var mount = server.Registry.Find("/live.flv")!;
        var session = mount.Source;

        using var second = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await Wait.UntilAsync(() => second.HasExited, TimeSpan.FromSeconds(15), "ffmpeg to give up on the busy mount");

        Assert.NotEqual(0, second.ExitCode);
        Assert.False(first.HasExited);
        Assert.Same(session, mount.Source);
        var refusals = server.Logs.Entries.Where(e => e.EventId == RefusedEvent).Select(e => e.Message).ToList();
        Assert.True(refusals.Count == 1, string.Join(" | ", refusals));
        var refusal = refusals[0];
        Assert.Contains("409", refusal, StringComparison.Ordinal);
        Assert.Contains("/live.flv", refusal, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RefusedSource_CurlChunkedUpload_ReadsTheAnswerBeforeTheClose()
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var client = await RawHttp.ConnectAsync(server.Port);
        await client.SendAsync($"PUT /live.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Basic("wrong")}\r\nTransfer-Encoding: chunked\r\nContent-Type: video/x-flv\r\n\r\n");
        // The body keeps coming, as from an encoder that does not read, at an encoder's pace (16 KiB every 10 ms, about
        // 13 Mbit/s). Unpaced, loopback fills the server's 256 KiB drain in a few ms, and the reset that follows can
        // reach this client before its own read of the answer is scheduled (seen once in three loaded runs).
        var chunk = Encoding.ASCII.GetBytes("4000\r\n" + new string('x', 0x4000) + "\r\n");
        using var sending = new CancellationTokenSource();
        var writer = Task.Run(async () =>
        {
            try
            {
                while (!sending.IsCancellationRequested)
                {
                    await client.SendAsync(chunk);
                    await Task.Delay(10);
                }
            }
            catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
            {
                // Closed by the server: what the encoder must see.
            }
        });

        var (head, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 401", head, StringComparison.Ordinal);
        Assert.Contains("Connection: close", head, StringComparison.OrdinalIgnoreCase);
        // The writes fail soon: the connection is closed, not drained for seconds.
        var ended = await Task.WhenAny(writer, Task.Delay(TimeSpan.FromSeconds(10)));
        await sending.CancelAsync();
        Assert.Same(writer, ended);
    }

    [Fact]
    public async Task RefusedSource_RetryingEverySecond_LoggedOncePerAddressMountAndStatus()
    {
        await using var server = await TestServer.StartAsync(Config);
        for (var i = 0; i < 5; i++)
        {
            await using var client = await RawHttp.ConnectAsync(server.Port);
            await client.SendAsync($"SOURCE /live.flv ICE/1.0\r\nAuthorization: Basic {Basic("wrong")}\r\nContent-Type: video/x-flv\r\n\r\n");
            var (head, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));
            Assert.Contains(" 401 ", head, StringComparison.Ordinal);
        }
        await using (var other = await RawHttp.ConnectAsync(server.Port))
        {
            await other.SendAsync($"PUT /nowhere.flv HTTP/1.1\r\nAuthorization: Basic {Basic("change-me")}\r\nContent-Type: audio/mpeg\r\n\r\n");
            await other.ReadHeadAsync(TimeSpan.FromSeconds(10));
        }

        var refusals = server.Logs.Entries.Where(e => e.EventId is RefusedEvent or RefusedAgainEvent).ToList();
        Assert.Equal(2, refusals.Count);
        Assert.Contains(refusals, e => e.Message.Contains("/live.flv", StringComparison.Ordinal) && e.Message.Contains("401", StringComparison.Ordinal));
        Assert.Contains(refusals, e => e.Message.Contains("/nowhere.flv", StringComparison.Ordinal) && e.Message.Contains("415", StringComparison.Ordinal));
    }

    [Fact]
    public async Task GarbageSource_OnNewDynamicPath_LeavesNoMountBehindEvenForAMoment()
    {
        await using var server = await TestServer.StartAsync(Config);
        const string Path = "/dynamic/garbage.flv";
        var seen = 0;
        using var watching = new CancellationTokenSource();
        var watcher = Task.Run(async () =>
        {
            while (!watching.IsCancellationRequested)
            {
                if (server.Registry.Find(Path) is not null || server.Registry.Mounts.Any(m => m.Path == Path))
                {
                    Interlocked.Increment(ref seen);
                }
                await Task.Yield();
            }
        });

        // An Icecast-style PUT (no length): the format is told from the first bytes, which come later.
        await using var source = await RawHttp.ConnectAsync(server.Port);
        await source.SendAsync($"PUT {Path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Basic("change-me")}\r\n\r\n");
        await Task.Delay(300);
        using var http = new HttpClient();
        using (var during = await http.GetAsync(server.Url(Path), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.NotFound, during.StatusCode);
        }
        await source.SendAsync(new byte[4096]);
        var (head, _) = await source.ReadHeadAsync(TimeSpan.FromSeconds(10));
        Assert.Contains(" 415 ", head, StringComparison.Ordinal);
        using (var after = await http.GetAsync(server.Url(Path), HttpCompletionOption.ResponseHeadersRead))
        {
            Assert.Equal(HttpStatusCode.NotFound, after.StatusCode);
        }
        await watching.CancelAsync();
        await watcher;

        Assert.Equal(0, Volatile.Read(ref seen));
        Assert.Null(server.Registry.Find(Path));
        Assert.DoesNotContain(server.Logs.Entries, e => e.EventId == 120);
        var status = await http.GetStringAsync(server.Url("/status.json"));
        Assert.DoesNotContain(Path, status, StringComparison.Ordinal);

        // An accepted source on the same path does create it.
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl(Path));
        await Wait.UntilAsync(() => server.Registry.Find(Path) is not null, TimeSpan.FromSeconds(20), "the dynamic mount of an accepted source");
        Assert.Single(server.Logs.Entries, e => e.EventId == 120);
    }

    [Theory]
    [InlineData("SOURCE /auto ICE/1.0", "audio/mpeg")]
    [InlineData("SOURCE /auto HTTP/1.0", "application/ogg")]
    [InlineData("PUT /auto HTTP/1.1", "video/webm")]
    [InlineData("PUT /auto HTTP/1.1\r\nTransfer-Encoding: chunked", "audio/aac")]
    [InlineData("PUT /new/cam.flv HTTP/1.1", "audio/mpeg")]
    public async Task Source_KnownForeignContentType_Gets415WithinASecond(string requestLine, string contentType)
    {
        await using var server = await TestServer.StartAsync(Config);
        // The first request of a fresh server pays for compiling its path: not what is measured here.
        await using (var warmUp = await RawHttp.ConnectAsync(server.Port))
        {
            await warmUp.SendAsync($"{requestLine}\r\nHost: x\r\nAuthorization: Basic {Basic("wrong")}\r\nContent-Type: {contentType}\r\n\r\n");
            await warmUp.ReadHeadAsync(TimeSpan.FromSeconds(10));
        }
        await using var client = await RawHttp.ConnectAsync(server.Port);
        var clock = Stopwatch.StartNew();

        // A libshout client sends its body only after the answer: nothing follows the head.
        await client.SendAsync($"{requestLine}\r\nHost: x\r\nAuthorization: Basic {Basic("change-me")}\r\nContent-Type: {contentType}\r\n\r\n");
        var (head, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));

        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(1), $"answered after {clock.Elapsed.TotalMilliseconds:0} ms");
        Assert.Contains(" 415 ", head, StringComparison.Ordinal);
        Assert.Null(server.Registry.Find("/new/cam.flv"));
        Assert.Contains(server.Logs.Entries, e => e.EventId == RefusedEvent && e.Message.Contains(contentType, StringComparison.Ordinal));
    }

    [Fact]
    public async Task IcecastPut_FlvWithoutContentTypeOption_IsSniffedAndPlays()
    {
        // Without -content_type, ffmpeg's icecast:// says audio/mpeg; it asks for 100-continue, so its first bytes decide.
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.Start([.. Ffmpeg.LiveInput(), "-f", "flv", $"icecast://source:change-me@127.0.0.1:{server.Port}/auto"]);

        await LiveFanOutTests.WaitForMediaAsync(server, "/auto", mediaMs: 1000);

        Assert.Equal(Savate.Server.Configuration.MountFormat.Flv, server.Registry.Find("/auto")!.Format);
        Assert.DoesNotContain(server.Logs.Entries, e => e.EventId == RefusedEvent);
    }

    [Fact]
    public async Task SizedPut_ConnectionClosedBeforeItsLength_PublishesWhatCameAndSaysItWasShort()
    {
        var config = "server:\n  source-password: change-me\nmounts:\n  - path: /short.flv\n";
        await using var server = await TestServer.StartAsync(config);
        var body = FlvSynth.Concat([FlvSynth.Header(), FlvSynth.Metadata(), FlvSynth.AvcConfig(0), FlvSynth.AacConfig(0),
            FlvSynth.Keyframe(0, size: 4000), FlvSynth.Inter(40, size: 1000)]);

        await using (var client = await RawHttp.ConnectAsync(server.Port))
        {
            // 1000 bytes promised that never come.
            byte[] request = [.. Encoding.ASCII.GetBytes($"PUT /short.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Basic("change-me")}\r\n"
                + $"Content-Type: video/x-flv\r\nContent-Length: {body.Length + 1000}\r\n\r\n"), .. body];
            await client.SendAsync(request);
            var (answer, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
        }
        await Wait.UntilAsync(() => server.Logs.Count(SourceEndedEvent) == 1, TimeSpan.FromSeconds(10), "the source's end");

        Assert.Contains("connection closed by the client 1000 bytes before the end of its body", server.Logs.Of(SourceEndedEvent).Single().Message, StringComparison.Ordinal);
        Assert.Equal(body.Length, server.Registry.Find("/short.flv")!.Stats.BytesIn);
    }

    [Fact]
    public async Task SizedPutStorm_ClientsCloseAfterTheResponseHead_EveryBodyPublishedAndNoConnectionEndsAbnormally()
    {
        const int Mounts = 10;
        const int Rounds = 30;
        var config = "server:\n  source-password: change-me\n  source-timeout: 10s\nmounts:\n"
            + string.Concat(Enumerable.Range(0, Mounts).Select(i => $"  - path: /storm{i}.flv\n"));
        await using var server = await TestServer.StartAsync(config);
        // Big enough to take several reads, so that the client's close arrives while the body is being read.
        var body = FlvSynth.Concat([FlvSynth.Header(), FlvSynth.Metadata(), FlvSynth.AvcConfig(0), FlvSynth.AacConfig(0),
            .. Enumerable.Range(0, 10).SelectMany(g => Enumerable.Range(0, 12).Select(f => f == 0
                ? FlvSynth.Keyframe((uint)(g * 480), size: 8000)
                : FlvSynth.Inter((uint)(g * 480 + f * 40), size: 1500)))]);
        var head = Encoding.ASCII.GetBytes($"Host: x\r\nAuthorization: Basic {Basic("change-me")}\r\nContent-Type: video/x-flv\r\nContent-Length: {body.Length}\r\n\r\n");

        await Task.WhenAll(Enumerable.Range(0, Mounts).Select(m => Task.Run(async () =>
        {
            var path = $"/storm{m}.flv";
            var mount = server.Registry.Find(path)!;
            for (var round = 0; round < Rounds; round++)
            {
                // One source at a time per mount: the next waits for the last to be released (else 409).
                await Wait.UntilAsync(() => mount.Source is null, TimeSpan.FromSeconds(30), $"{path} free for round {round}");
                await using var client = await RawHttp.ConnectAsync(server.Port);
                byte[] request = [.. Encoding.ASCII.GetBytes($"PUT {path} HTTP/1.1\r\n"), .. head, .. body];
                await client.SendAsync(request);
                var (answer, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(30));
                Assert.StartsWith("HTTP/1.1 200", answer, StringComparison.Ordinal);
                // Gone right after the head.
            }
        })));
        await Wait.UntilAsync(() => server.Logs.Count(SourceEndedEvent) >= Mounts * Rounds, TimeSpan.FromSeconds(60), "every source's end");

        var entries = server.Logs.Entries;
        var abnormal = entries.Where(e => e.Level >= Microsoft.Extensions.Logging.LogLevel.Error
            || e.Message.Contains("abnormally", StringComparison.OrdinalIgnoreCase)
            || e.Message.Contains("already in progress", StringComparison.OrdinalIgnoreCase)).ToList();
        Assert.True(abnormal.Count == 0, string.Join(Environment.NewLine, abnormal.Select(e => e.Message)));
        var ends = entries.Where(e => e.EventId == SourceEndedEvent).Select(e => e.Message).ToList();
        Assert.Equal(Mounts * Rounds, ends.Count);
        Assert.DoesNotContain(ends, e => e.Contains("server stopping", StringComparison.Ordinal));
        // Every body arrived whole before the client left: each is read to its end and published.
        Assert.All(ends, e => Assert.Contains($"end of stream ({body.Length} bytes", e, StringComparison.Ordinal));
        for (var m = 0; m < Mounts; m++)
        {
            var mount = server.Registry.Find($"/storm{m}.flv")!;
            Assert.Equal((long)Rounds * body.Length, mount.Stats.BytesIn);
            Assert.True(mount.Ring.Head >= Rounds * 10, $"/storm{m}.flv published {mount.Ring.Head} slices");
        }
    }
}
