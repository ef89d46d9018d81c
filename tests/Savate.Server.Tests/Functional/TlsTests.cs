using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using Savate.Server.Configuration;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>https:// listen URLs (Hosting/ListenEndpoints.cs, Http/TlsCertificates.cs) with real clients: ffmpeg, HttpClient over HTTP/2, SslStream.</summary>
public sealed class TlsTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("savate-tls-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string CertificatePath => Path.Combine(_dir, "cert.pem");

    private string KeyPath => Path.Combine(_dir, "key.pem");

    private string ConfigPath => Path.Combine(_dir, "savate.yaml");

    private string Yaml(string extraServer = "", string certificate = "cert.pem", string key = "key.pem") => $"""
        server:
          listen: ["http://127.0.0.1:0", "https://127.0.0.1:0"]
          tls-certificate: {certificate}
          tls-key: {key}
          source-password: change-me
          source-timeout: 3s
          watch-config: false
        {extraServer}
        mounts:
          - path: /live.flv
            format: flv
          - path: /slow.flv
            format: flv
            max-lag: 1s
            evict-lag: 3s
            buffer: 10s
        """;

    private async Task<TestServer> StartAsync(string yaml)
    {
        File.WriteAllText(ConfigPath, yaml);
        return await TestServer.StartOnListenUrlsAsync(ConfigLoader.Load(ConfigPath), ConfigPath);
    }

    [Fact]
    public async Task Https_FfmpegDecodesTheStream()
    {
        TestCertificates.Write(CertificatePath, KeyPath);
        await using var server = await StartAsync(Yaml());
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);

        // ffmpeg's tls_verify is off by default: the self-signed certificate is taken.
        var result = await Ffmpeg.DecodeAsync(server.HttpsUrl("/live.flv").ToString(), seconds: 3);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(string.IsNullOrWhiteSpace(result.Errors), "decoder errors: " + result.Errors);
        Assert.True(result.VideoFrames >= 30, result.ToString());
    }

    [Fact]
    public async Task Http2OverTls_StatusJson_IsServedOverHttp2()
    {
        TestCertificates.Write(CertificatePath, KeyPath);
        await using var server = await StartAsync(Yaml());
        using var client = TestCertificates.InsecureClient(HttpVersion.Version20);

        using var response = await client.GetAsync(server.HttpsUrl("/status.json"));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Contains("/live.flv", await response.Content.ReadAsStringAsync());
    }

    [Fact]
    public async Task StreamOverHttp2_IsServedFromAKeyframe()
    {
        TestCertificates.Write(CertificatePath, KeyPath);
        await using var server = await StartAsync(Yaml());
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        using var client = TestCertificates.InsecureClient(HttpVersion.Version20);

        using var response = await client.GetAsync(server.HttpsUrl("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var bytes = await ReadAtLeastAsync(body, 64 * 1024, TimeSpan.FromSeconds(10));

        Assert.Equal(HttpVersion.Version20, response.Version);
        Assert.Equal("video/x-flv", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("FLV"u8.ToArray(), bytes.AsSpan(0, 3).ToArray());
        Assert.Equal(1, server.Registry.Find("/live.flv")!.ListenerCount);
    }

    [Fact]
    public async Task CertificateSwappedOnDisk_StreamingListenerKeepsStreaming_NewConnectionSeesTheNewOne()
    {
        var first = TestCertificates.Write(CertificatePath, KeyPath, "first");
        await using var server = await StartAsync(Yaml());
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        Assert.Equal(first, await TestCertificates.ThumbprintAsync(server.HttpsUri!));
        using var client = TestCertificates.InsecureClient();
        using var response = await client.GetAsync(server.HttpsUrl("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        await ReadAtLeastAsync(body, 16 * 1024, TimeSpan.FromSeconds(10));

        var second = TestCertificates.Write(CertificatePath, KeyPath, "second");
        var seen = first;
        await Wait.UntilAsync(() =>
        {
            seen = TestCertificates.ThumbprintAsync(server.HttpsUri!).GetAwaiter().GetResult();
            return seen == second;
        }, TimeSpan.FromSeconds(10), "a new handshake to present the new certificate");
        // The listener opened under the first certificate streams on.
        var after = await ReadAtLeastAsync(body, 64 * 1024, TimeSpan.FromSeconds(10));

        Assert.NotEqual(first, second);
        Assert.True(after.Length >= 64 * 1024);
        Assert.Equal(1, server.Registry.Find("/live.flv")!.ListenerCount);
        Assert.Equal(1, server.Logs.Count(45));
    }

    [Fact]
    public async Task BrokenCertificateOnDisk_KeepsServingTheOldOne_AndLogsOnce()
    {
        var good = TestCertificates.Write(CertificatePath, KeyPath);
        await using var server = await StartAsync(Yaml());

        TestCertificates.WriteAtomically(CertificatePath, "-----BEGIN CERTIFICATE-----\nbroken\n-----END CERTIFICATE-----\n");
        await Wait.UntilAsync(() =>
        {
            Assert.Equal(good, TestCertificates.ThumbprintAsync(server.HttpsUri!).GetAwaiter().GetResult());
            return server.Logs.Count(46) > 0;
        }, TimeSpan.FromSeconds(10), "the failed reload to be logged");
        // Handshakes go on with the old certificate, and the same broken file is not logged again.
        for (var i = 0; i < 3; i++)
        {
            await Task.Delay(1100);
            Assert.Equal(good, await TestCertificates.ThumbprintAsync(server.HttpsUri!));
        }

        Assert.Equal(1, server.Logs.Count(46));
    }

    [Fact]
    public async Task ConfigReload_NamingOtherFiles_ServesTheirCertificate()
    {
        var first = TestCertificates.Write(CertificatePath, KeyPath, "first");
        var second = TestCertificates.Write(Path.Combine(_dir, "other-cert.pem"), Path.Combine(_dir, "other-key.pem"), "second");
        await using var server = await StartAsync(Yaml());
        Assert.Equal(first, await TestCertificates.ThumbprintAsync(server.HttpsUri!));

        File.WriteAllText(ConfigPath, Yaml(certificate: "other-cert.pem", key: "other-key.pem"));
        var result = await server.Reloader.ReloadAsync("test");

        Assert.True(result.Success, string.Join("; ", result.Errors));
        await Wait.UntilAsync(() => TestCertificates.ThumbprintAsync(server.HttpsUri!).GetAwaiter().GetResult() == second,
            TimeSpan.FromSeconds(10), "the reloaded config's certificate");
    }

    [Fact]
    public async Task ConfigReload_WithABrokenKey_IsRefused_AndTheCertificateStays()
    {
        var first = TestCertificates.Write(CertificatePath, KeyPath);
        await using var server = await StartAsync(Yaml());
        File.WriteAllText(Path.Combine(_dir, "bad-key.pem"), "not a key");

        File.WriteAllText(ConfigPath, Yaml(key: "bad-key.pem"));
        var result = await server.Reloader.ReloadAsync("test");

        Assert.False(result.Success);
        Assert.Contains(result.Errors, e => e.Contains("tls-key", StringComparison.Ordinal) && e.Contains("bad-key.pem", StringComparison.Ordinal));
        Assert.Equal(first, await TestCertificates.ThumbprintAsync(server.HttpsUri!));
    }

    [Fact]
    public async Task TlsListenerThatStopsReading_IsEvicted_WhileAnotherStreams()
    {
        TestCertificates.Write(CertificatePath, KeyPath);
        await using var server = await StartAsync(Yaml("  listener-send-buffer: 16KiB"));
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/slow.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/slow.flv", mediaMs: 1000);
        var mount = server.Registry.Find("/slow.flv")!;

        // The stalled listener: TLS over a tiny receive window, a request, then no reads at all.
        using var tcp = new TcpClient { ReceiveBufferSize = 4096 };
        await tcp.ConnectAsync(IPAddress.Loopback, server.HttpsUri!.Port);
        await using var stalled = new SslStream(tcp.GetStream(), leaveInnerStreamOpen: false, (_, _, _, _) => true);
        await stalled.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" });
        await stalled.WriteAsync(Encoding.ASCII.GetBytes("GET /slow.flv HTTP/1.1\r\nHost: x\r\n\r\n"));
        // The healthy one reads everything.
        using var client = TestCertificates.InsecureClient();
        using var response = await client.GetAsync(server.HttpsUrl("/slow.flv"), HttpCompletionOption.ResponseHeadersRead);
        await using var body = await response.Content.ReadAsStreamAsync();
        var clock = Stopwatch.StartNew();
        var buffer = new byte[65536];
        while (mount.Stats.Evictions == 0 && clock.Elapsed < TimeSpan.FromSeconds(30))
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(3));
            Assert.True(await body.ReadAsync(buffer, cts.Token) > 0, "the healthy listener was cut off");
        }

        Assert.Equal(1, mount.Stats.Evictions);
        // The healthy listener goes on after the eviction.
        await ReadAtLeastAsync(body, 32 * 1024, TimeSpan.FromSeconds(10));
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(5), "the evicted listener to be gone");
    }

    internal static async Task<byte[]> ReadAtLeastAsync(Stream body, int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new byte[count];
        await body.ReadExactlyAsync(buffer, cts.Token);
        return buffer;
    }
}
