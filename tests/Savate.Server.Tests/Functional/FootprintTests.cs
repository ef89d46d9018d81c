using System.Diagnostics;
using System.Net.Sockets;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>What the real server, in its own process, holds at rest beyond its own work.</summary>
public sealed class FootprintTests
{
    [Fact]
    public async Task ServerWithoutTlsSignedUrlsPasswordHashesOrRelays_NeverLoadsOpenSslOrAnHttpClient()
    {
        // OpenSSL (libcrypto, libssl and the runtime's shim and crypto assembly) is about 5.6 MB of a process's memory.
        // A server like the shipped savate.yaml (looping fallbacks, a reloadable config, HLS, metrics, a listener
        // served) has no use for it: no TLS, no signed URL, no bcrypt hash, no digest of its config. Nor, with no
        // relay, master or hook, for the HTTP client (System.Net.Http, 1.2 MB resident once loaded).
        var dir = Directory.CreateTempSubdirectory("savate-footprint-");
        var port = TestServer.FreePort();
        var samples = Path.Combine(AppContext.BaseDirectory, "samples");
        var yaml = Path.Combine(dir.FullName, "savate.yaml");
        await File.WriteAllTextAsync(yaml, $$"""
            server:
              listen: ["http://127.0.0.1:{{port}}"]
              source-password: change-me
            mounts:
              - path: /demo.flv
                format: flv
                fallback:
                  - file: {{Path.Combine(samples, "sample.flv")}}
              - path: /demo.ts
                format: mpegts
                fallback:
                  - file: {{Path.Combine(samples, "sample.ts")}}
            """);
        var dll = Path.Combine(AppContext.BaseDirectory, "Savate.Server.dll");
        using var process = Process.Start(new ProcessStartInfo("dotnet", [dll, "--config", yaml])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        })!;
        process.OutputDataReceived += (_, _) => { };
        process.ErrorDataReceived += (_, _) => { };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            await Wait.UntilAsync(async () =>
            {
                try
                {
                    return (await client.GetAsync($"http://127.0.0.1:{port}/status.json")).IsSuccessStatusCode;
                }
                catch (HttpRequestException)
                {
                    return false;
                }
            }, TimeSpan.FromSeconds(60), "the server to answer");
            // A player, the status page, a playlist and a scrape: what an idle server is asked.
            using var player = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            await player.ConnectAsync("127.0.0.1", port);
            await player.SendAsync("GET /demo.flv HTTP/1.1\r\nHost: x\r\n\r\n"u8.ToArray());
            var received = new byte[64 * 1024];
            var total = 0;
            while (total < 10_000)
            {
                var n = await player.ReceiveAsync(received.AsMemory(total % received.Length, Math.Min(4096, received.Length - total % received.Length)));
                Assert.NotEqual(0, n);
                total += n;
            }
            Assert.True((await client.GetAsync($"http://127.0.0.1:{port}/")).IsSuccessStatusCode);
            Assert.True((await client.GetAsync($"http://127.0.0.1:{port}/metrics")).IsSuccessStatusCode);
            await Wait.UntilAsync(async () => (await client.GetAsync($"http://127.0.0.1:{port}/demo.flv/index.m3u8")).IsSuccessStatusCode,
                TimeSpan.FromSeconds(30), "the HLS playlist");

            var maps = await File.ReadAllTextAsync($"/proc/{process.Id}/maps");

            Assert.Contains("libcoreclr.so", maps, StringComparison.Ordinal);
            Assert.DoesNotContain("libcrypto", maps, StringComparison.Ordinal);
            Assert.DoesNotContain("libssl", maps, StringComparison.Ordinal);
            Assert.DoesNotContain("System.Security.Cryptography.Native.OpenSsl", maps, StringComparison.Ordinal);
            Assert.DoesNotContain("/System.Net.Http.dll", maps, StringComparison.Ordinal);
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            await process.WaitForExitAsync();
            dir.Delete(recursive: true);
        }
    }
}
