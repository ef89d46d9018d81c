using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// Clients as an attacker would write them (issue 9), on raw sockets against the real server, while a control
/// listener on another mount must keep receiving: half-sent heads, oversized heads, garbage, floods from one
/// address, look-alike mount paths, and what the server shows to anyone.
/// </summary>
public sealed class HostileClientTests
{
    private static readonly string s_auth = Convert.ToBase64String(Encoding.ASCII.GetBytes("source:change-me"));

    private const string Config = """
        server:
          source-password: change-me
          request-head-timeout: 2s
          max-pending-per-address: 8
        mounts:
          - path: /control.flv
            format: flv
            fallback:
              - file: samples/offline.flv
          - path: /live.flv
            format: flv
        """;

    [Fact]
    public async Task HalfSentHeads_EveryMethodAndTrickle_ClosedAtTheDeadlineWith408()
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var control = await ControlListener.StartAsync(server.Port);
        string[] starts =
        [
            "GET /live.flv HTTP/1.1\r\nHost: x",
            "HEAD /control.flv HTTP/1.1\r\n",
            "PUT /live.flv HTTP/1.1\r\nAuthorization: Basic " + s_auth,
            "POST /x",
            "SOURCE /live.flv ICE/1.0\r\n",
            "GET ",
        ];
        var clock = Stopwatch.StartNew();
        var clients = new List<RawHttp>();
        foreach (var start in starts)
        {
            var client = await RawHttp.ConnectAsync(server.Port);
            await client.SendAsync(start);
            clients.Add(client);
        }
        var silent = await RawHttp.ConnectAsync(server.Port);
        // A trickler: one byte every 200 ms, each read well within any per-read timeout, the whole never done.
        var trickler = await RawHttp.ConnectAsync(server.Port);
        using var stopTrickle = new CancellationTokenSource();
        var trickle = Task.Run(async () =>
        {
            var text = "GET /control.flv HTTP/1.1\r\nX-Slow: " + new string('a', 1000);
            try
            {
                foreach (var c in text)
                {
                    await trickler.SendAsync(c.ToString());
                    await Task.Delay(200, stopTrickle.Token);
                }
            }
            catch (Exception e) when (e is SocketException or OperationCanceledException)
            {
            }
        });

        var answers = await Task.WhenAll(clients.Append(trickler).Select(c => ReadAllAsync(c, TimeSpan.FromSeconds(20))));
        var silentClosed = await silent.WaitClosedAsync(TimeSpan.FromSeconds(20));
        var elapsed = clock.Elapsed;
        await stopTrickle.CancelAsync();
        await trickle;

        Assert.All(answers, a => Assert.StartsWith("HTTP/1.1 408", a));
        Assert.True(silentClosed, "the silent connection was not closed");
        Assert.True(elapsed >= TimeSpan.FromSeconds(1.5), $"closed after {elapsed.TotalSeconds:0.0} s, before the 2 s deadline");
        Assert.True(elapsed < TimeSpan.FromSeconds(15), $"closed only after {elapsed.TotalSeconds:0.0} s");
        Assert.Equal(0, server.Registry.Find("/live.flv")!.ListenerCount);
        await control.AssertStillReceivingAsync();
        foreach (var client in clients)
        {
            await client.DisposeAsync();
        }
        await silent.DisposeAsync();
        await trickler.DisposeAsync();
    }

    [Theory]
    [InlineData("GET /control.flv HTTP/1.1\r\nHost: x\r\nX-Big: {0}\r\n\r\n", "431")]
    [InlineData("PUT /live.flv HTTP/1.1\r\nAuthorization: Basic {1}\r\nX-Big: {0}\r\n\r\n", "431")]
    [InlineData("GET /status.json HTTP/1.1\r\nX-Big: {0}\r\n\r\n", "431")]
    [InlineData("GET /control.flv?{0} HTTP/1.1\r\n\r\n", "414")]
    public async Task OversizedHead_AnsweredAndClosed(string template, string status)
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var control = await ControlListener.StartAsync(server.Port);
        await using var client = await RawHttp.ConnectAsync(server.Port);

        await client.SendAsync(string.Format(template, new string('b', 64 * 1024), s_auth));
        var answer = await ReadAllAsync(client, TimeSpan.FromSeconds(10));

        Assert.StartsWith($"HTTP/1.1 {status}", answer);
        Assert.Equal(0, server.Registry.Find("/live.flv")!.ListenerCount);
        Assert.Null(server.Registry.Find("/live.flv")!.Source);
        await control.AssertStillReceivingAsync();
    }

    [Fact]
    public async Task ManyHeaders_431()
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var client = await RawHttp.ConnectAsync(server.Port);
        var head = new StringBuilder("GET /control.flv HTTP/1.1\r\n");
        for (var i = 0; i < 10_000; i++)
        {
            head.Append("X-").Append(i).Append(": 1\r\n");
        }

        await client.SendAsync(head.Append("\r\n").ToString());

        Assert.StartsWith("HTTP/1.1 431", await ReadAllAsync(client, TimeSpan.FromSeconds(10)));
    }

    [Theory]
    [InlineData("garbage after GET")]
    [InlineData("HTTP/0.9")]
    [InlineData("bare LF")]
    [InlineData("binary")]
    [InlineData("folded header")]
    public async Task MalformedHead_400AndClose(string kind)
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var control = await ControlListener.StartAsync(server.Port);
        await using var client = await RawHttp.ConnectAsync(server.Port);
        var random = new Random(9);
        byte[] bytes = kind switch
        {
            "garbage after GET" => [.. "GET "u8, .. Enumerable.Range(0, 4096).Select(_ => (byte)random.Next(0x80, 0x100))],
            "HTTP/0.9" => "GET /control.flv\r\n"u8.ToArray(),
            "bare LF" => "GET /control.flv HTTP/1.1\nHost: x\n\n"u8.ToArray(),
            "binary" => [0x01, .. Enumerable.Range(0, 4096).Select(_ => (byte)random.Next(0, 0x20))],
            _ => "GET /control.flv HTTP/1.1\r\nHost: x\r\n  folded\r\n\r\n"u8.ToArray(),
        };
        var clock = Stopwatch.StartNew();

        await client.SendAsync(bytes);
        var (answer, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));
        var answeredAfter = clock.Elapsed;
        var closed = await client.WaitClosedAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith("HTTP/1.1 400", answer);
        Assert.True(answeredAfter < TimeSpan.FromSeconds(1.9), $"answered after {answeredAfter.TotalSeconds:0.0} s: at the deadline, not at once");
        Assert.True(closed, "not closed after the 400");
        Assert.Equal(1, server.Registry.Find("/control.flv")!.ListenerCount);
        await control.AssertStillReceivingAsync();
    }

    [Theory]
    [InlineData("GET /status.json HTTP/1.1\nHost: x\n\n", "400")]
    [InlineData("GET /status.json/../status.json HTTP/1.1\r\nHost: x\r\n\r\n", "400")]
    [InlineData("GET //status.json HTTP/1.1\r\nHost: x\r\n\r\n", "200")]
    [InlineData("GET /status.json HTTP/1.1\r\nHost: x\r\nX-Big: {0}\r\n\r\n", "431")]
    public async Task KeptAliveSecondRequest_SameRulesAsTheFirst(string second, string status)
    {
        // The first request of a connection is read by the connection middleware; the next ones by Kestrel.
        await using var server = await TestServer.StartAsync(Config);
        await using var client = await RawHttp.ConnectAsync(server.Port);
        await client.SendAsync("OPTIONS /control.flv HTTP/1.1\r\nHost: x\r\n\r\n");
        var (first, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));

        await client.SendAsync(string.Format(second, new string('b', 64 * 1024)));
        var answer = await ReadAllAsync(client, TimeSpan.FromSeconds(5));

        Assert.StartsWith("HTTP/1.1 204", first);
        Assert.StartsWith($"HTTP/1.1 {status}", answer);
    }

    [Fact]
    public async Task PendingPerAddressCap_FloodRefused_OtherAddressServed()
    {
        await using var server = await TestServer.StartAsync(Config.Replace("request-head-timeout: 2s", "request-head-timeout: 60s"));
        await using var control = await ControlListener.StartAsync(server.Port, IPAddress.Parse("127.0.0.3"));
        var held = new List<RawHttp>();
        for (var i = 0; i < 8; i++)
        {
            var client = await ConnectFromAsync(server.Port, IPAddress.Loopback);
            await client.SendAsync("GET /control.flv HTTP/1.1\r\n");
            held.Add(client);
        }
        await Wait.UntilAsync(() => server.Gate.PendingCount >= 8, TimeSpan.FromSeconds(10), "the 8 pending connections");
        // Over the cap, an address is refused once its oldest unfinished head is a second old (a burst of players is not).
        await Task.Delay(1500);

        // The ninth from 127.0.0.1 is closed at once, with nothing said (a reset: it may even beat the connect's completion).
        var refused = await IsRefusedAsync(server.Port, IPAddress.Loopback);
        // A player from 127.0.0.2 is served meanwhile.
        await using var player = await ConnectFromAsync(server.Port, IPAddress.Parse("127.0.0.2"));
        await player.SendAsync("GET /control.flv HTTP/1.1\r\nHost: x\r\n\r\n");
        var (head, body) = await player.ReadHeadAsync(TimeSpan.FromSeconds(10));
        var more = await player.ReadAsync(3 - body.Length, TimeSpan.FromSeconds(10));

        Assert.True(refused, "the ninth connection from 127.0.0.1 was not closed");
        Assert.StartsWith("HTTP/1.1 200", head);
        Assert.Equal("FLV"u8.ToArray(), body.Concat(more).Take(3).ToArray());
        // The first eight are still held (until their deadline): the cap refused new ones, it did not shed these.
        Assert.Equal(8, server.Gate.PendingCount);
        Assert.Contains(server.Logs.Entries, e => e.EventId == 40 && e.Message.Contains("127.0.0.1", StringComparison.Ordinal));
        await control.AssertStillReceivingAsync();
        foreach (var client in held)
        {
            await client.DisposeAsync();
        }
    }

    [Fact]
    public async Task LookAlikePaths_NoMountCreated()
    {
        await using var server = await TestServer.StartAsync(Config);
        // /own.flv: a dynamic mount with a source.
        await using var own = await RawHttp.ConnectAsync(server.Port);
        await own.SendAsync($"PUT /own.flv HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {s_auth}\r\nContent-Type: video/x-flv\r\n\r\n");
        Assert.StartsWith("HTTP/1.1 200", (await own.ReadHeadAsync(TimeSpan.FromSeconds(10))).Head);
        await own.SendAsync("FLV\x01\x05\0\0\0\x09\0\0\0\0"u8.ToArray());
        await Wait.UntilAsync(() => server.Registry.Find("/own.flv")?.Source is not null, TimeSpan.FromSeconds(10), "/own.flv's source");
        var before = server.Registry.Mounts.Select(m => m.Path).ToArray();
        string[] lookAlikes = ["/STATUS.JSON", "/status.json/", "//status.json", "/METRICS", "/Admin/x", "/own.flv/", "//own.flv", "/own.flv;x", "/./own.flv", "/own.flv%2F", "/a/../own.flv", "/%2E/own.flv"];

        var answers = new List<string>();
        foreach (var path in lookAlikes)
        {
            // Both ways in: a raw source (no length: the connection middleware) and a sized PUT (Kestrel).
            foreach (var framing in new[] { "", "Content-Length: 13\r\n" })
            {
                await using var source = await RawHttp.ConnectAsync(server.Port);
                await source.SendAsync($"PUT {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Basic {s_auth}\r\nContent-Type: video/x-flv\r\n{framing}\r\n");
                await source.SendAsync("FLV\x01\x05\0\0\0\x09\0\0\0\0"u8.ToArray());
                var (head, _) = await source.ReadHeadAsync(TimeSpan.FromSeconds(10));
                answers.Add($"{path} {(framing.Length > 0 ? "sized" : "raw")}: {head.Split("\r\n")[0]}");
            }
        }

        Assert.Equal(before, server.Registry.Mounts.Select(m => m.Path).ToArray());
        Assert.All(answers, a => Assert.Matches(@": HTTP/1\.1 (400|404|409) ", a));
        Assert.Contains(answers, a => a.StartsWith("//own.flv raw: HTTP/1.1 409", StringComparison.Ordinal));
        Assert.Contains(answers, a => a.StartsWith("/own.flv;x sized: HTTP/1.1 400", StringComparison.Ordinal));
        Assert.Contains(answers, a => a.StartsWith("/STATUS.JSON raw: HTTP/1.1 404", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/./control.flv", "400")]
    [InlineData("/control.flv%2F", "400")]
    [InlineData("/control.flv;jsessionid=1", "400")]
    [InlineData("//control.flv", "200")]
    [InlineData("/CONTROL.FLV", "404")]
    [InlineData("//status.json", "200")]
    [InlineData("/STATUS.JSON", "404")]
    [InlineData("/status.json/..", "400")]
    public async Task Get_PathSpellings_OneRule(string path, string status)
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var client = await RawHttp.ConnectAsync(server.Port);

        await client.SendAsync($"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n");
        var (head, _) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));

        Assert.StartsWith($"HTTP/1.1 {status}", head);
    }

    [Fact]
    public async Task StreamList_WithoutRelayPassword_Refused()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();
        using var anonymous = await client.GetAsync(server.Url("/admin/streamlist.txt"));
        using var request = new HttpRequestMessage(HttpMethod.Get, server.Url("/admin/streamlist.txt"));
        request.Headers.Authorization = new("Basic", Convert.ToBase64String("relay:"u8.ToArray()));
        using var withEmptyPassword = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.Forbidden, anonymous.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, withEmptyPassword.StatusCode);
        Assert.DoesNotContain("/control.flv", await anonymous.Content.ReadAsStringAsync(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task StatusJson_SourceConnected_ShowsNoAddressNorUserAgent()
    {
        await using var server = await TestServer.StartAsync(Config);
        await using var source = await RawHttp.ConnectAsync(server.Port);
        await source.SendAsync($"PUT /live.flv HTTP/1.1\r\nHost: x\r\nUser-Agent: SecretEncoder/1.0\r\nAuthorization: Basic {s_auth}\r\nContent-Type: video/x-flv\r\n\r\n");
        await source.ReadHeadAsync(TimeSpan.FromSeconds(10));
        await source.SendAsync("FLV\x01\x05\0\0\0\x09\0\0\0\0"u8.ToArray());
        await Wait.UntilAsync(() => server.Registry.Find("/live.flv")!.Source is not null, TimeSpan.FromSeconds(10), "the source");
        using var client = new HttpClient();

        var text = await client.GetStringAsync(server.Url("/status.json"));
        var live = JsonDocument.Parse(text).RootElement.GetProperty("mounts").EnumerateArray().Single(m => m.GetProperty("path").GetString() == "/live.flv");

        Assert.True(live.GetProperty("source_connected").GetBoolean());
        Assert.False(live.GetProperty("source").TryGetProperty("remote", out _));
        Assert.False(live.GetProperty("source").TryGetProperty("user_agent", out _));
        Assert.DoesNotContain("SecretEncoder", text, StringComparison.Ordinal);
        Assert.DoesNotContain("127.0.0.1", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DescriptorLimit_FloodOfHalfSentHeads_ServerSurvivesAndServesAnotherAddress()
    {
        // The real server in its own process with 288 descriptors (about 205 are its own at rest: each loaded assembly
        // holds two, plus the log pipes, the socket watcher's epoll set, the listening socket), flooded from
        // 127.0.0.1 with no per-address cap to stop it first: only the descriptor guard stands between it and the
        // "Out of memory." exit 134 of issue 9.
        var dir = Directory.CreateTempSubdirectory("savate-fd-");
        var port = TestServer.FreePort();
        var yaml = Path.Combine(dir.FullName, "savate.yaml");
        await File.WriteAllTextAsync(yaml, $$"""
            server:
              listen: ["http://127.0.0.1:{{port}}"]
              request-head-timeout: 120s
              max-pending-connections: 5000
              max-pending-per-address: 5000
            mounts:
              - path: /control.flv
                format: flv
                fallback:
                  - file: {{Path.Combine(AppContext.BaseDirectory, "samples", "offline.flv")}}
            """);
        var dll = Path.Combine(AppContext.BaseDirectory, "Savate.Server.dll");
        var info = new ProcessStartInfo("bash", ["-c", "ulimit -n 288 && exec dotnet \"$0\" --config \"$1\"", dll, yaml])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.ErrorDataReceived += (_, e) => { lock (output) { output.AppendLine(e.Data); } };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        var flood = new List<Socket>();
        try
        {
            await Wait.UntilAsync(() => process.HasExited || CanConnect(port), TimeSpan.FromSeconds(60), "the server to listen");
            Assert.False(process.HasExited, $"the server did not start: {output}");
            await using var control = await ControlListener.StartAsync(port, IPAddress.Parse("127.0.0.3"));

            // Far more half-sent heads than descriptors, 50 at a time.
            for (var batch = 0; batch < 30; batch++)
            {
                var sockets = await Task.WhenAll(Enumerable.Range(0, 50).Select(_ => TryHalfSendAsync(port)));
                flood.AddRange(sockets.OfType<Socket>());
            }
            // A player from 127.0.0.2 is served (it may take a retry while the flood's connections are shed).
            string? served = null;
            for (var attempt = 0; attempt < 20 && served is null; attempt++)
            {
                try
                {
                    await using var player = await ConnectFromAsync(port, IPAddress.Parse("127.0.0.2"));
                    await player.SendAsync("GET /control.flv HTTP/1.1\r\nHost: x\r\n\r\n");
                    var (head, body) = await player.ReadHeadAsync(TimeSpan.FromSeconds(5));
                    var more = await player.ReadAsync(3 - body.Length, TimeSpan.FromSeconds(5));
                    if (head.StartsWith("HTTP/1.1 200", StringComparison.Ordinal) && body.Concat(more).Take(3).SequenceEqual("FLV"u8.ToArray()))
                    {
                        served = head;
                    }
                }
                catch (Exception e) when (e is SocketException or OperationCanceledException)
                {
                }
                if (served is null)
                {
                    await Task.Delay(500);
                }
            }

            Assert.False(process.HasExited, $"the server died (exit {(process.HasExited ? process.ExitCode : 0)}): {output}");
            Assert.True(served is not null, $"the player from another address was not served: {output}");
            await control.AssertStillReceivingAsync();
            Assert.False(process.HasExited);
            lock (output)
            {
                Assert.DoesNotContain("Out of memory", output.ToString(), StringComparison.Ordinal);
                Assert.Contains("near the descriptor limit", output.ToString(), StringComparison.Ordinal);
            }
        }
        finally
        {
            foreach (var socket in flood)
            {
                socket.Dispose();
            }
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
            await process.WaitForExitAsync();
            dir.Delete(recursive: true);
        }
    }

    private static bool CanConnect(int port)
    {
        try
        {
            using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            probe.Connect(IPAddress.Loopback, port);
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }

    private static async Task<Socket?> TryHalfSendAsync(int port)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await socket.ConnectAsync(IPAddress.Loopback, port, timeout.Token);
            await socket.SendAsync("GET /control.flv HTTP/1.1\r\n"u8.ToArray(), SocketFlags.None, timeout.Token);
            return socket;
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            socket.Dispose();
            return null;
        }
    }

    /// <summary>True when a connection from <paramref name="from"/> is closed by the server without a byte sent.</summary>
    internal static async Task<bool> IsRefusedAsync(int port, IPAddress from)
    {
        RawHttp client;
        try
        {
            client = await ConnectFromAsync(port, from);
        }
        catch (SocketException)
        {
            return true;
        }
        await using (client)
        {
            return (await ReadAllAsync(client, TimeSpan.FromSeconds(10))).Length == 0 && await client.WaitClosedAsync(TimeSpan.FromSeconds(1));
        }
    }

    internal static async Task<RawHttp> ConnectFromAsync(int port, IPAddress from)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.Bind(new IPEndPoint(from, 0));
        await socket.ConnectAsync(IPAddress.Loopback, port);
        return RawHttp.Wrap(socket);
    }

    /// <summary>Everything the server sends until it closes (or the timeout), as text.</summary>
    internal static async Task<string> ReadAllAsync(RawHttp client, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var received = new List<byte>();
        var chunk = new byte[16384];
        try
        {
            while (true)
            {
                var read = await client.Socket.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    break;
                }
                received.AddRange(chunk.AsSpan(0, read).ToArray());
            }
        }
        catch (Exception e) when (e is SocketException or OperationCanceledException)
        {
            // A reset after the answer, or still open at the timeout: what came is the answer.
        }
        return Encoding.Latin1.GetString([.. received]);
    }

    /// <summary>A player on /control.flv (a file fallback: it always streams) that must keep receiving.</summary>
    internal sealed class ControlListener : IAsyncDisposable
    {
        private readonly RawHttp _client;
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _reading;
        private long _bytes;

        private ControlListener(RawHttp client)
        {
            _client = client;
            _reading = Task.Run(ReadAsync);
        }

        public static async Task<ControlListener> StartAsync(int port, IPAddress? from = null)
        {
            var client = await ConnectFromAsync(port, from ?? IPAddress.Loopback);
            await client.SendAsync("GET /control.flv HTTP/1.1\r\nHost: control\r\n\r\n");
            var (head, body) = await client.ReadHeadAsync(TimeSpan.FromSeconds(10));
            Assert.StartsWith("HTTP/1.1 200", head);
            var listener = new ControlListener(client);
            Interlocked.Add(ref listener._bytes, body.Length);
            return listener;
        }

        /// <summary>Fails unless more stream arrives within a generous timeout.</summary>
        public async Task AssertStillReceivingAsync()
        {
            var before = Interlocked.Read(ref _bytes);
            await Wait.UntilAsync(() => Interlocked.Read(ref _bytes) > before + 1000, TimeSpan.FromSeconds(15), "the control listener to keep receiving");
        }

        private async Task ReadAsync()
        {
            var buffer = new byte[65536];
            try
            {
                while (true)
                {
                    var read = await _client.Socket.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (read == 0)
                    {
                        return;
                    }
                    Interlocked.Add(ref _bytes, read);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
            }
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            await _reading;
            await _client.DisposeAsync();
            _stop.Dispose();
        }
    }
}
