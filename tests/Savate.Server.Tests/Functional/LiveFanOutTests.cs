using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using Savate.Server.Streaming;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>Real encoders push, real decoders listen, against the real server on loopback.</summary>
public sealed class LiveFanOutTests
{
    internal const string Config = """
        server:
          source-password: change-me
          source-timeout: 3s
        mounts:
          - path: /live.flv
            format: flv
          - path: /live.ts
            format: mpegts
          - path: /other.flv
          - path: /auto
        """;

    internal static async Task WaitForMediaAsync(TestServer server, string path, long mediaMs = 2500, int timeoutSeconds = 20)
    {
        var mount = server.Registry.Find(path)!;
        var first = long.MinValue;
        await Wait.UntilAsync(() =>
        {
            if (mount.Ring.NewestKeyframe < 0 || mount.Ring.HeadTime == long.MinValue)
            {
                return false;
            }
            var tail = mount.Ring.StartTimeOf(mount.Ring.Tail);
            if (first == long.MinValue && tail is { } t)
            {
                first = t;
            }
            return mount.Ring.HeadTime - first >= mediaMs;
        }, TimeSpan.FromSeconds(timeoutSeconds), $"{mediaMs} ms of media on {path}");
    }

    private static void AssertCleanDecode(DecodeResult result, int minVideoFrames)
    {
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(string.IsNullOrWhiteSpace(result.Errors), "decoder errors: " + result.Errors);
        Assert.True(result.VideoFrames >= minVideoFrames, result.ToString());
        Assert.True(result.FramesPerStream.GetValueOrDefault(1) > 0, "no audio frames: " + result);
    }

    [Fact]
    public async Task FlvChunkedPost_ListenerJoinsMidStream_DecodesWithoutErrors()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv");

        var result = await Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 3);

        AssertCleanDecode(result, minVideoFrames: 60);
        Assert.Equal("", push.Stderr.Trim());
    }

    [Fact]
    public async Task TsPut_ListenerJoinsMidStream_DecodesWithoutErrors()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushTsPut(server.SourceUrl("/live.ts"));
        await WaitForMediaAsync(server, "/live.ts");

        var result = await Ffmpeg.DecodeAsync(server.Url("/live.ts").ToString(), seconds: 3);

        AssertCleanDecode(result, minVideoFrames: 60);
    }

    [Fact]
    public async Task TsIcecastPutWithoutLength_IsReadUntilClose_AndDecodes()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.Start([.. Ffmpeg.LiveInput(), "-f", "mpegts", "-content_type", "video/mp2t",
            $"icecast://source:change-me@127.0.0.1:{server.Port}/live.ts"]);
        await WaitForMediaAsync(server, "/live.ts");

        var result = await Ffmpeg.DecodeAsync(server.Url("/live.ts").ToString(), seconds: 3);

        AssertCleanDecode(result, minVideoFrames: 60);
    }

    [Fact]
    public async Task LegacyIcecastSourceMethod_IsAccepted_AndDecodes()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.Start([.. Ffmpeg.LiveInput(), "-f", "flv", "-content_type", "video/x-flv", "-legacy_icecast", "1",
            $"icecast://source:change-me@127.0.0.1:{server.Port}/live.flv"]);
        await WaitForMediaAsync(server, "/live.flv");

        var result = await Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 3);

        AssertCleanDecode(result, minVideoFrames: 60);
    }

    [Fact]
    public async Task FlvSourceWithoutContentType_IsSniffed_OnAutoMount()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/auto"));
        await WaitForMediaAsync(server, "/auto");

        using var client = new HttpClient();
        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, server.Url("/auto")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("video/x-flv", response.Content.Headers.ContentType?.MediaType);
        var result = await Ffmpeg.DecodeAsync(server.Url("/auto").ToString(), seconds: 2);
        AssertCleanDecode(result, minVideoFrames: 40);
    }

    [Fact]
    public async Task Head_OnLiveMount_ReturnsListenerHeadersWithoutBody()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv", mediaMs: 500);
        using var client = new HttpClient();

        using var response = await client.SendAsync(new HttpRequestMessage(HttpMethod.Head, server.Url("/live.flv")));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("video/x-flv", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.CacheControl?.NoCache);
        Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
        Assert.Null(response.Content.Headers.ContentLength);
    }

    [Fact]
    public async Task Get_UnknownMount_Returns404AtOnce()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

        using var response = await client.GetAsync(server.Url("/nope.flv"));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Get_DeclaredMountWithoutSource_AnswersAtOnce()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };

        using var response = await client.GetAsync(server.Url("/live.flv"));

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.NotNull(response.Headers.RetryAfter);
    }

    [Fact]
    public async Task Put_WithoutCredentials_Returns401WithBasicChallenge()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();
        using var content = new ByteArrayContent(File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv")));
        content.Headers.ContentType = new MediaTypeHeaderValue("video/x-flv");

        using var response = await client.PutAsync(server.Url("/live.flv"), content);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        Assert.Equal("Basic", response.Headers.WwwAuthenticate.Single().Scheme);
    }

    [Fact]
    public async Task Put_WrongPassword_Returns401()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();
        using var request = new HttpRequestMessage(HttpMethod.Put, server.Url("/live.flv"));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("source:wrong")));
        request.Content = new ByteArrayContent([1, 2, 3]);

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Put_UnknownMountWithDynamicMountsOff_Returns404()
    {
        await using var server = await TestServer.StartAsync(Config.Replace("  source-timeout: 3s", "  source-timeout: 3s\n  dynamic-mounts: false"));
        using var client = new HttpClient();
        using var request = SourceRequest(server, "/new.flv", File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv")), "video/x-flv");

        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
    }

    [Fact]
    public async Task Put_UnknownMount_CreatesDynamicMountWithServerPassword()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/dynamic/cam1.flv"));
        await Wait.UntilAsync(() => server.Registry.Find("/dynamic/cam1.flv") is not null, TimeSpan.FromSeconds(10), "the dynamic mount");
        await WaitForMediaAsync(server, "/dynamic/cam1.flv");

        var result = await Ffmpeg.DecodeAsync(server.Url("/dynamic/cam1.flv").ToString(), seconds: 2);

        AssertCleanDecode(result, minVideoFrames: 40);
    }

    [Fact]
    public async Task SecondSource_Returns409_AndFirstKeepsStreaming()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        var mount = server.Registry.Find("/live.flv")!;
        var first = mount.Source;
        using var client = new HttpClient();

        using var response = await client.SendAsync(SourceRequest(server, "/live.flv", File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv")), "video/x-flv"));

        Assert.Equal(HttpStatusCode.Conflict, response.StatusCode);
        Assert.Same(first, mount.Source);
        var result = await Ffmpeg.DecodeAsync(server.Url("/live.flv").ToString(), seconds: 2);
        AssertCleanDecode(result, minVideoFrames: 40);
    }

    [Fact]
    public async Task Put_GarbageWithoutContentType_Returns415()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();
        var garbage = new byte[4096];
        new Random(7).NextBytes(garbage);
        garbage[0] = 0x00;

        using var response = await client.SendAsync(SourceRequest(server, "/auto", garbage, contentType: null));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Null(server.Registry.Find("/auto")!.Source);
    }

    [Fact]
    public async Task Put_FlvContentTypeOnTsMount_Returns415()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();

        using var response = await client.SendAsync(SourceRequest(server, "/live.ts", [0x46, 0x4C, 0x56, 1, 5, 0, 0, 0, 9], "video/x-flv"));

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
    }

    [Fact]
    public async Task Http10Listener_GetsCloseDelimitedFlvBody()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        await using var raw = await RawHttp.ConnectAsync(server.Port);

        await raw.SendAsync("GET /live.flv HTTP/1.0\r\nHost: localhost\r\n\r\n");
        var (head, body) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(5));
        var more = await raw.ReadAsync(3 - body.Length, TimeSpan.FromSeconds(5));

        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.DoesNotContain("Transfer-Encoding", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Content-Length", head, StringComparison.OrdinalIgnoreCase);
        Assert.Equal("FLV"u8.ToArray(), body.Concat(more).Take(3).ToArray());
    }

    [Fact]
    public async Task Http11Listener_GetsConnectionCloseAndCloseDelimitedFlvBody()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        await using var raw = await RawHttp.ConnectAsync(server.Port);

        await raw.SendAsync("GET /live.flv HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var (head, body) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(5));
        var more = await raw.ReadAsync(13 - body.Length, TimeSpan.FromSeconds(5));

        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Contains("\r\nConnection: close", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nContent-Type: video/x-flv", head, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("\r\nCache-Control: no-cache, no-store", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Transfer-Encoding", head, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("Content-Length", head, StringComparison.OrdinalIgnoreCase);
        // The body is the stream itself, no chunk-size line: the FLV signature, version 1, then the header size.
        var start = body.Concat(more).Take(13).ToArray();
        Assert.Equal("FLV"u8.ToArray(), start.Take(3).ToArray());
        Assert.Equal(1, start[3]);
        Assert.Equal(new byte[] { 0, 0, 0, 9 }, start.Skip(5).Take(4).ToArray());
    }

    [Fact]
    public async Task HeadOnMount_GetsHeadersOnlyAndClose()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv", mediaMs: 500);
        await using var raw = await RawHttp.ConnectAsync(server.Port);

        await raw.SendAsync("HEAD /live.flv HTTP/1.1\r\nHost: localhost\r\n\r\n");
        var (head, body) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(5));

        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Contains("\r\nConnection: close", head, StringComparison.OrdinalIgnoreCase);
        Assert.Empty(body);
        Assert.True(await raw.WaitClosedAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Listener_OverMaxListeners_Gets503()
    {
        await using var server = await TestServer.StartAsync(Config.Replace("  - path: /live.flv\n", "  - path: /live.flv\n    max-listeners: 1\n"));
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv", mediaMs: 500);
        using var client = new HttpClient();
        using var first = await client.GetAsync(server.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
        await Wait.UntilAsync(() => server.Registry.Find("/live.flv")!.ListenerCount == 1, TimeSpan.FromSeconds(5), "the first listener");

        using var second = await client.GetAsync(server.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        Assert.Equal(HttpStatusCode.ServiceUnavailable, second.StatusCode);
    }

    [Fact]
    public async Task StatusJson_ReportsSourceCodecsListenersAndBytes()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await WaitForMediaAsync(server, "/live.flv", mediaMs: 2500);
        using var client = new HttpClient();
        using var listener = await client.GetAsync(server.Url("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
        await using var stream = await listener.Content.ReadAsStreamAsync();
        var buffer = new byte[65536];
        await stream.ReadAtLeastAsync(buffer, 1000);

        var json = JsonDocument.Parse(await client.GetStringAsync(server.Url("/status.json")));

        var mounts = json.RootElement.GetProperty("mounts");
        Assert.Equal(JsonValueKind.Array, mounts.ValueKind);
        var live = mounts.EnumerateArray().Single(m => m.GetProperty("path").GetString() == "/live.flv");
        Assert.True(live.GetProperty("source_connected").GetBoolean());
        Assert.Equal("flv", live.GetProperty("format").GetString());
        Assert.Equal(new[] { "h264", "aac" }, live.GetProperty("codecs").EnumerateArray().Select(c => c.GetString() ?? "").ToArray());
        Assert.Equal(1, live.GetProperty("listeners").GetInt32());
        Assert.True(live.GetProperty("bytes_in").GetInt64() > 10_000);
        Assert.True(live.GetProperty("bytes_out").GetInt64() >= 1000);
        Assert.True(live.GetProperty("input_bitrate").GetInt64() > 50_000);
        Assert.Equal(1000, live.GetProperty("keyframe_interval_ms").GetInt64(), tolerance: 100);
        Assert.Equal(JsonValueKind.Array, mounts.EnumerateArray().Single(m => m.GetProperty("path").GetString() == "/live.ts").GetProperty("codecs").ValueKind);
    }

    internal static HttpRequestMessage SourceRequest(TestServer server, string path, byte[] body, string? contentType)
    {
        var request = new HttpRequestMessage(HttpMethod.Put, server.Url(path));
        request.Headers.Authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("source:change-me")));
        request.Content = new ByteArrayContent(body);
        if (contentType is not null)
        {
            request.Content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
        }
        return request;
    }
}
