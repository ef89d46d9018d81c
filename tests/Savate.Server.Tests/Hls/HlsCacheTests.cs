using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Savate.Server.Hls;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Hls;

/// <summary>
/// Scale-out through an ordinary HTTP cache: Debian's nginx with proxy_cache and proxy_cache_lock in front of the
/// server, and 200 HLS clients behind it. The cache headers alone must make the origin serve each segment once.
/// </summary>
public sealed class HlsCacheTests
{
    private const int Clients = 200;

    [Fact]
    public async Task Nginx_ProxyCacheLock_200Clients_OriginServesEachSegmentOnce()
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        await HlsTests.WaitForSegmentsAsync(server, "/demo.flv", 3);
        var directory = Directory.CreateTempSubdirectory("savate-nginx-");
        var port = TestServer.FreePort();
        await File.WriteAllTextAsync(Path.Combine(directory.FullName, "nginx.conf"), NginxConfig(directory.FullName, port, server.Port));
        using var nginx = RunningProcess.Start("/usr/sbin/nginx", ["-p", directory.FullName, "-c", "nginx.conf", "-e", Path.Combine(directory.FullName, "error.log")]);
        try
        {
            await WaitForPortAsync(port, nginx);
            using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = Clients * 2 }) { Timeout = TimeSpan.FromSeconds(30) };
            var edge = new Uri($"http://127.0.0.1:{port}");

            var fetched = new ConcurrentBag<(int Client, long Sequence, int Bytes)>();
            var failures = new ConcurrentQueue<string>();
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(12));
            var clients = Enumerable.Range(0, Clients).Select(client => Task.Run(async () =>
            {
                long last = -1;
                while (!stop.IsCancellationRequested)
                {
                    var playlist = MediaPlaylist.Parse(await http.GetStringAsync(new Uri(edge, "/demo.flv/index.m3u8")));
                    // A player starts three segments from the live edge, then takes each new one in order.
                    var next = last < 0 ? playlist.Segments[Math.Max(0, playlist.Segments.Count - 3)].Sequence : last + 1;
                    foreach (var segment in playlist.Segments.Where(s => s.Sequence >= next))
                    {
                        using var response = await http.GetAsync(new Uri(edge, $"/demo.flv/{segment.Uri}"));
                        var body = await response.Content.ReadAsByteArrayAsync();
                        if (response.StatusCode != HttpStatusCode.OK || body.Length == 0 || body[0] != 0x47)
                        {
                            failures.Enqueue($"client {client}: segment {segment.Sequence}: {(int)response.StatusCode}, {body.Length} bytes");
                        }
                        fetched.Add((client, segment.Sequence, body.Length));
                        last = segment.Sequence;
                    }
                    await Task.Delay(1000);
                }
            })).ToArray();
            await Task.WhenAll(clients);

            Assert.Empty(failures);
            // Every client got contiguous segments, each the same bytes as every other client's.
            foreach (var client in fetched.GroupBy(f => f.Client))
            {
                var sequences = client.Select(f => f.Sequence).Order().ToList();
                Assert.True(sequences.Count >= 4, $"client {client.Key}: only {sequences.Count} segments");
                Assert.Equal(Enumerable.Range(0, sequences.Count).Select(i => sequences[0] + i), sequences);
            }
            Assert.All(fetched.GroupBy(f => f.Sequence), s => Assert.Single(s.Select(f => f.Bytes).Distinct()));

            // The origin served each segment once, however many clients fetched it.
            var playlistStore = server.GetService<HlsService>().Find("/demo.flv")!.Playlist;
            var distinct = fetched.Select(f => f.Sequence).Distinct().Order().ToList();
            Assert.True(fetched.Count >= Clients * 4, $"{fetched.Count} segment fetches");
            foreach (var sequence in distinct)
            {
                var segment = playlistStore.Find(sequence);
                Assert.NotNull(segment);
                Assert.True(segment!.Served == 1, $"segment {sequence} served {segment.Served} times by the origin for {fetched.Count(f => f.Sequence == sequence)} client fetches");
            }
        }
        finally
        {
            await nginx.StopAsync();
            directory.Delete(recursive: true);
        }
    }

    private static string NginxConfig(string directory, int port, int originPort) => $$"""
        worker_processes 1;
        daemon off;
        pid {{directory}}/nginx.pid;
        {{(Environment.UserName == "root" ? "user root;" : "")}}
        events { worker_connections 2048; }
        http {
            access_log {{directory}}/access.log;
            client_body_temp_path {{directory}}/client_body;
            proxy_temp_path {{directory}}/proxy;
            fastcgi_temp_path {{directory}}/fastcgi;
            uwsgi_temp_path {{directory}}/uwsgi;
            scgi_temp_path {{directory}}/scgi;
            proxy_cache_path {{directory}}/cache levels=1:2 keys_zone=hls:10m max_size=256m inactive=10m use_temp_path=off;
            server {
                listen 127.0.0.1:{{port}};
                location / {
                    proxy_pass http://127.0.0.1:{{originPort}};
                    proxy_http_version 1.1;
                    proxy_cache hls;
                    proxy_cache_lock on;
                    proxy_cache_lock_timeout 30s;
                    proxy_cache_lock_age 30s;
                }
            }
        }
        """;

    private static async Task WaitForPortAsync(int port, RunningProcess nginx)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            try
            {
                using var client = new TcpClient();
                await client.ConnectAsync(IPAddress.Loopback, port);
                return;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline && !nginx.HasExited)
            {
                await Task.Delay(100);
            }
            catch (SocketException)
            {
                throw new InvalidOperationException($"nginx did not listen on {port}: {nginx.Stderr}");
            }
        }
    }
}
