using System.Diagnostics;
using System.Net;
using System.Text;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>Slow peers, silent peers and hostile bytes: each gets a clean close and harms nobody else.</summary>
public sealed class RobustnessTests
{
    private const string Config = """
        server:
          source-password: change-me
          source-timeout: 2s
          listener-send-buffer: 16KiB
        mounts:
          - path: /live.flv
            format: flv
            max-lag: 1s
            evict-lag: 3s
            buffer: 10s
          - path: /live.ts
            format: mpegts
          - path: /other.flv
            format: flv
        """;

    [Fact]
    public async Task ListenerThatStopsReading_IsEvicted_WhileAnotherKeepsTheLiveRate()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        var mount = server.Registry.Find("/live.flv")!;

        // The stalled listener: a tiny receive window and no reads at all.
        await using var stalled = await RawHttp.ConnectAsync(server.Port, receiveBuffer: 4096);
        await stalled.SendAsync("GET /live.flv HTTP/1.1\r\nHost: x\r\n\r\n");
        // The healthy listener reads everything, in real time.
        using var client = new HttpClient();
        using var response = await client.GetAsync(server.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var buffer = new byte[65536];
        long received = 0;
        var clock = Stopwatch.StartNew();
        var bytesInAtStart = mount.Stats.BytesIn;
        while (clock.Elapsed < TimeSpan.FromSeconds(9))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            var read = await body.ReadAsync(buffer, cts.Token);
            Assert.True(read > 0, "the healthy listener was cut off");
            received += read;
        }
        var sourceBytes = mount.Stats.BytesIn - bytesInAtStart;

        Assert.Equal(1, mount.Stats.Evictions);
        Assert.Equal(1, server.Logs.Count(110));
        Assert.Equal(1, mount.ListenerCount);
        // The healthy listener kept pace with the source over the same 9 s (one flush interval of slack).
        Assert.True(received >= sourceBytes * 0.9, $"healthy listener got {received} bytes while the source sent {sourceBytes}");
        // The stalled socket was closed by the server (reading now drains what was queued, then sees the close).
        Assert.True(await stalled.WaitClosedAsync(TimeSpan.FromSeconds(3)));
    }

    [Fact]
    public async Task GarbageSource_IsDroppedWithOneLogLine_AndAnotherMountIsUnaffected()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        var decode = Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 4);

        // A valid FLV header, then noise.
        var garbage = new byte[256 * 1024];
        new Random(42).NextBytes(garbage);
        "FLV\x01\x05\0\0\0\x09\0\0\0\0"u8.ToArray().CopyTo(garbage, 0);
        using var client = new HttpClient();
        using var request = LiveFanOutTests.SourceRequest(server, "/other.flv", garbage, "video/x-flv");
        try
        {
            using var response = await client.SendAsync(request);
        }
        catch (HttpRequestException)
        {
            // The server aborts the connection of a source that sends garbage: that is the point.
        }

        await Wait.UntilAsync(() => server.Registry.Find("/other.flv")!.Source is null, TimeSpan.FromSeconds(5), "the garbage source to be dropped");
        var result = await decode;
        // On a failure, what the server said about the other mount (a listener ended early, a source dropped).
        var live = string.Join("\n", server.Logs.Entries.Where(e => e.Message.Contains("/live.flv")).Select(e => $"{e.EventId} {e.Message}"));
        Assert.True(result.ExitCode == 0 && string.IsNullOrWhiteSpace(result.Errors), $"{result}\n{live}");
        Assert.True(result.VideoFrames >= 80, $"{result}\n{live}");
        Assert.Single(server.Logs.Entries, e => e.EventId == 102 && e.Message.Contains("/other.flv") && e.Message.Contains("invalid FLV"));
    }

    [Fact]
    public async Task TsSourceWithGarbageMidStream_Resyncs_AndListenerDecodes()
    {
        await using var server = await TestServer.StartAsync(Config);
        var sample = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.ts"));
        // Half the sample, 1000 bytes of noise, then the sample from a packet boundary.
        var half = sample.Length / 2 / 188 * 188;
        var noise = new byte[1000];
        new Random(1).NextBytes(noise);
        for (var i = 0; i < noise.Length; i++)
        {
            noise[i] = noise[i] == 0x47 ? (byte)0 : noise[i];
        }
        var body = sample.AsSpan(0, half).ToArray().Concat(noise).Concat(sample.AsSpan(half).ToArray()).ToArray();
        await using var raw = await RawHttp.ConnectAsync(server.Port);
        await raw.SendAsync($"PUT /live.ts HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Convert.ToBase64String(Encoding.ASCII.GetBytes("source:change-me"))}\r\nContent-Type: video/mp2t\r\nContent-Length: {body.Length}\r\n\r\n");
        await raw.SendAsync(body);
        await Wait.UntilAsync(() => server.Logs.Count(103) > 0, TimeSpan.FromSeconds(10), "the resync log line");

        var mount = server.Registry.Find("/live.ts")!;
        Assert.True(mount.Stats.BytesIn >= body.Length - 1000);
        Assert.True(mount.Ring.NewestKeyframe >= 0);
    }

    [Fact]
    public async Task SilentSource_IsDroppedAfterSourceTimeout()
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var raw = await RawHttp.ConnectAsync(server.Port);
        var clock = Stopwatch.StartNew();

        await raw.SendAsync($"PUT /live.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {Convert.ToBase64String(Encoding.ASCII.GetBytes("source:change-me"))}\r\nContent-Type: video/x-flv\r\n\r\n");
        var (head, _) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(5));
        await raw.SendAsync("FLV\x01\x05\0\0\0\x09\0\0\0\0"u8.ToArray());
        var closed = await raw.WaitClosedAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.True(closed, "the silent source was not dropped");
        Assert.InRange(clock.Elapsed.TotalSeconds, 1.5, 6);
        // The connection closes as the session ends; the mount is released just after.
        await Wait.UntilAsync(() => server.Registry.Find("/live.flv")!.Source is null, TimeSpan.FromSeconds(2), "the mount to be released");
        Assert.Contains(server.Logs.Entries, e => e.EventId == 102 && e.Message.Contains("no data for 2 s"));
    }

    [Fact]
    public async Task EncoderRestartWithNewResolution_LaterJoinerGetsTheNewSequenceHeaders()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/live.flv")!;
        using (var first = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"), Ffmpeg.LiveInput(320, 240)))
        {
            await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
            Assert.Equal((320, 240), await Ffmpeg.ProbeVideoSizeAsync(server.Url("/live.flv").ToString()));
            await first.StopAsync();
        }
        await Wait.UntilAsync(() => mount.Source is null, TimeSpan.FromSeconds(5), "the first source to end");
        var keyframesBefore = mount.Ring.NewestKeyframe;

        using var second = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"), Ffmpeg.LiveInput(480, 272));
        await Wait.UntilAsync(() => mount.Source is not null && mount.Ring.NewestKeyframe > keyframesBefore + 1, TimeSpan.FromSeconds(10), "the second source's keyframes");

        Assert.Equal((480, 272), await Ffmpeg.ProbeVideoSizeAsync(server.Url("/live.flv").ToString()));
        var result = await Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 2);
        Assert.True(result.ExitCode == 0 && string.IsNullOrWhiteSpace(result.Errors), result.ToString());
    }

    [Fact]
    public async Task ListenerConnectedAcrossEncoderRestart_StaysConnected_AndDecodesBothResolutions()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/live.flv")!;
        var first = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"), Ffmpeg.LiveInput(320, 240));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        var decode = Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 5);
        await Task.Delay(1500);
        await first.StopAsync();
        first.Dispose();
        using var second = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"), Ffmpeg.LiveInput(480, 272));

        var result = await decode;

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(result.VideoFrames >= 100, result.ToString());
        Assert.Equal(1, mount.Stats.SourceConnections - 1);
    }
}
