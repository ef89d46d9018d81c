using System.Net;
using System.Text;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// server.max-connections-per-address and server.max-new-connections-per-address (Http/AddressLimits.cs) on every way in:
/// the front door's raw listeners, raw and Kestrel sources, Kestrel requests over TLS. Every test runs from 127.0.0.1.
/// </summary>
public sealed class AddressLimitsTests : IDisposable
{
    private static readonly string s_auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("source:change-me"));

    private readonly string _dir = Directory.CreateTempSubdirectory("savate-limits-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private string ConfigPath => Path.Combine(_dir, "savate.yaml");

    private static string Yaml(string limits, string listen = "") => $"""
        server:
          source-password: change-me
          source-timeout: 5s
          watch-config: false
        {listen}
        {limits}
        mounts:
          - path: /live.flv
            format: flv
          - path: /other.flv
            format: flv
        """;

    /// <summary>A source that sent its FLV header and stays connected (it holds one connection of its address).</summary>
    private static async Task<RawHttp> HoldingSourceAsync(TestServer server, string path = "/live.flv")
    {
        var source = await RawHttp.ConnectAsync(server.Port);
        await source.SendAsync($"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {s_auth}\r\nContent-Type: video/x-flv\r\n\r\n");
        var (head, _) = await source.ReadHeadAsync(TimeSpan.FromSeconds(5));
        Assert.StartsWith("HTTP/1.1 200", head);
        await source.SendAsync("FLV\x01\x05\0\0\0\x09\0\0\0\0"u8.ToArray());
        await Wait.UntilAsync(() => server.Registry.Find(path)!.Source is not null, TimeSpan.FromSeconds(5), "the source");
        return source;
    }

    private static async Task<(RawHttp Connection, string Head)> ListenAsync(TestServer server, string path = "/live.flv")
    {
        var listener = await RawHttp.ConnectAsync(server.Port);
        await listener.SendAsync($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        var (head, _) = await listener.ReadHeadAsync(TimeSpan.FromSeconds(5));
        return (listener, head);
    }

    [Fact]
    public async Task MaxConnectionsPerAddress_NextListenerGets429_WhileTheOthersStream()
    {
        TestCertificates.Write(Path.Combine(_dir, "cert.pem"), Path.Combine(_dir, "key.pem"));
        File.WriteAllText(ConfigPath, Yaml("  max-connections-per-address: 3\n  tls-certificate: cert.pem\n  tls-key: key.pem",
            listen: "  listen: [\"http://127.0.0.1:0\", \"https://127.0.0.1:0\"]"));
        await using var server = await TestServer.StartOnListenUrlsAsync(ConfigLoader.Load(ConfigPath), ConfigPath);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 1000);
        var mount = server.Registry.Find("/live.flv")!;
        // The source, a raw listener (front door) and a TLS listener (Kestrel): three connections from 127.0.0.1.
        var (raw, rawHead) = await ListenAsync(server);
        await using var rawListener = raw;
        using var client = TestCertificates.InsecureClient();
        using var tls = await client.GetAsync(server.HttpsUrl("/live.flv"), HttpCompletionOption.ResponseHeadersRead);
        await using var tlsBody = await tls.Content.ReadAsStreamAsync();

        var (refusedRaw, refusedRawHead) = await ListenAsync(server);
        await using var _ = refusedRaw;
        using var refusedTls = await client.GetAsync(server.HttpsUrl("/live.flv"), HttpCompletionOption.ResponseHeadersRead);

        Assert.StartsWith("HTTP/1.1 200", rawHead);
        Assert.Equal(HttpStatusCode.OK, tls.StatusCode);
        Assert.StartsWith("HTTP/1.1 429", refusedRawHead);
        Assert.Contains("\r\nRetry-After: 1\r\n", refusedRawHead, StringComparison.Ordinal);
        Assert.Equal((HttpStatusCode)429, refusedTls.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), refusedTls.Headers.RetryAfter?.Delta);
        // The two admitted listeners stream on.
        Assert.True((await raw.ReadAsync(64 * 1024, TimeSpan.FromSeconds(10))).Length >= 64 * 1024);
        Assert.Equal(64 * 1024, (await TlsTests.ReadAtLeastAsync(tlsBody, 64 * 1024, TimeSpan.FromSeconds(10))).Length);
        Assert.Equal(2, mount.ListenerCount);
        Assert.Equal(2, server.GetService<AddressLimits>().RefusedConcurrent);
        // One log line for both (per address and cap, per 10 s).
        Assert.Equal(1, server.Logs.Count(43));

        // A listener leaving makes room for the next.
        await rawListener.DisposeAsync();
        await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(5), "the raw listener to leave");
        var (again, againHead) = await ListenAsync(server);
        await using var __ = again;
        Assert.StartsWith("HTTP/1.1 200", againHead);
    }

    [Fact]
    public async Task MaxNewConnectionsPerAddress_ABurstIsRefusedWith429()
    {
        await using var server = await TestServer.StartAsync(Yaml("  max-new-connections-per-address: 5"));

        // No source: an admitted listener gets 503 (no source), a refused one 429, before anything else.
        var heads = await Task.WhenAll(Enumerable.Range(0, 40).Select(async _ =>
        {
            var (connection, head) = await ListenAsync(server);
            await connection.DisposeAsync();
            return head;
        }));
        // Kestrel's requests too.
        using var client = new HttpClient();
        var statuses = await Task.WhenAll(Enumerable.Range(0, 20).Select(async _ =>
        {
            using var response = await client.GetAsync(server.Url("/status.json"));
            return response.StatusCode;
        }));

        Assert.Contains(heads, h => h.StartsWith("HTTP/1.1 429", StringComparison.Ordinal));
        Assert.All(heads.Where(h => h.StartsWith("HTTP/1.1 429", StringComparison.Ordinal)), h => Assert.Contains("\r\nRetry-After: 1\r\n", h, StringComparison.Ordinal));
        // The bucket starts full: its five go through.
        Assert.True(heads.Count(h => h.StartsWith("HTTP/1.1 503", StringComparison.Ordinal)) >= 5, string.Join(" | ", heads.Select(h => h.Split('\r')[0])));
        Assert.Contains((HttpStatusCode)429, statuses);
        Assert.True(server.GetService<AddressLimits>().RefusedRate > 0);
    }

    [Fact]
    public async Task SourceOverTheCap_Gets403_ListenerGets429()
    {
        await using var server = await TestServer.StartAsync(Yaml("  max-connections-per-address: 1"));
        await using var first = await HoldingSourceAsync(server);

        // Kestrel's path: a sized PUT.
        using var client = new HttpClient();
        using var request = LiveFanOutTests.SourceRequest(server, "/other.flv", File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv")), "video/x-flv");
        using var kestrel = await client.SendAsync(request);
        // The raw path: Icecast's SOURCE.
        await using var raw = await RawHttp.ConnectAsync(server.Port);
        await raw.SendAsync($"SOURCE /other.flv HTTP/1.0\r\nAuthorization: Basic {s_auth}\r\nContent-Type: video/x-flv\r\n\r\n");
        var (rawHead, _) = await raw.ReadHeadAsync(TimeSpan.FromSeconds(5));
        var (listener, listenerHead) = await ListenAsync(server);
        await using var ___ = listener;

        Assert.Equal(HttpStatusCode.Forbidden, kestrel.StatusCode);
        Assert.StartsWith("HTTP/1.0 403", rawHead);
        Assert.StartsWith("HTTP/1.1 429", listenerHead);
        Assert.Null(server.Registry.Find("/other.flv")!.Source);
        Assert.NotNull(server.Registry.Find("/live.flv")!.Source);
    }

    [Fact]
    public async Task Reload_ChangesTheCaps()
    {
        File.WriteAllText(ConfigPath, Yaml(""));
        await using var server = await TestServer.StartFromFileAsync(ConfigPath);
        await using var source = await HoldingSourceAsync(server);
        var (l1, h1) = await ListenAsync(server);
        await using var _ = l1;

        File.WriteAllText(ConfigPath, Yaml("  max-connections-per-address: 2"));
        var tightened = await server.Reloader.ReloadAsync("test");
        var (l2, h2) = await ListenAsync(server);
        await using var __ = l2;
        File.WriteAllText(ConfigPath, Yaml("  max-connections-per-address: 0"));
        var lifted = await server.Reloader.ReloadAsync("test");
        var (l3, h3) = await ListenAsync(server);
        await using var ___ = l3;

        Assert.True(tightened.Success, string.Join("; ", tightened.Errors));
        Assert.Contains("server: max-connections-per-address 0 -> 2", tightened.Changes);
        Assert.True(lifted.Success, string.Join("; ", lifted.Errors));
        Assert.StartsWith("HTTP/1.1 200", h1);
        Assert.StartsWith("HTTP/1.1 429", h2);
        Assert.StartsWith("HTTP/1.1 200", h3);
    }
}
