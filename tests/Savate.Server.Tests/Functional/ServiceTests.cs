using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// Savate as systemd runs it: the real server process (the built Savate.Server.dll), told by systemd's
/// environment that it is a service, with a notify socket; stopped with SIGTERM.
/// </summary>
public sealed class ServiceTests : IDisposable
{
    private readonly string _directory = Directory.CreateTempSubdirectory("savate-service-").FullName;

    public void Dispose() => Directory.Delete(_directory, recursive: true);

    [Fact]
    public async Task Systemd_TypeNotify_SendsReadyOnceListening()
    {
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        var socketPath = Path.Combine(_directory, "notify.sock");
        notify.Bind(new UnixDomainSocketEndPoint(socketPath));
        var port = TestServer.FreePort();
        using var process = await StartServerAsync(port, socketPath);
        var server = process.Server;
        {
            var buffer = new byte[4096];
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            var received = new StringBuilder();
            while (!received.ToString().Contains("READY=1", StringComparison.Ordinal))
            {
                var n = await notify.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                received.Append(Encoding.UTF8.GetString(buffer, 0, n)).Append('\n');
            }
            // READY means listening: the status answers at once.
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            Assert.Contains("\"mounts\"", await client.GetStringAsync($"http://127.0.0.1:{port}/status.json"));

            Kill(server, "TERM");
            while (!received.ToString().Contains("STOPPING=1", StringComparison.Ordinal))
            {
                var n = await notify.ReceiveAsync(buffer, SocketFlags.None, cts.Token);
                received.Append(Encoding.UTF8.GetString(buffer, 0, n)).Append('\n');
            }
        }
    }

    [Fact]
    public async Task Sigterm_WithListenersConnected_ExitsWithinFiveSecondsAndEachListenerSeesACleanEnd()
    {
        var port = TestServer.FreePort();
        using var process = await StartServerAsync(port, notifySocket: null);
        var server = process.Server;
        var curls = new List<Process>();
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            await WaitAsync(async () => (await TryGetAsync(client, $"http://127.0.0.1:{port}/status.json")) is not null, TimeSpan.FromSeconds(60), "the server to listen");
            await WaitAsync(async () => MountState(await TryGetAsync(client, $"http://127.0.0.1:{port}/status.json")) == "fallback", TimeSpan.FromSeconds(30), "the mount to play");
            for (var i = 0; i < 3; i++)
            {
                curls.Add(Process.Start(new ProcessStartInfo("curl", ["-sS", "-N", "-o", "/dev/null", "-w", "%{size_download}", $"http://127.0.0.1:{port}/term.flv"])
                {
                    RedirectStandardOutput = true,
                    RedirectStandardError = true,
                })!);
            }
            await WaitAsync(async () => Listeners(await TryGetAsync(client, $"http://127.0.0.1:{port}/status.json")) == 3, TimeSpan.FromSeconds(30), "three listeners");
            await Task.Delay(1000);

            var stopwatch = Stopwatch.StartNew();
            Kill(server, "TERM");
            using (var exit = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await server.WaitForExitAsync(exit.Token);
            }
            stopwatch.Stop();
            Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"exited {stopwatch.Elapsed.TotalSeconds:F1} s after SIGTERM");

            foreach (var curl in curls)
            {
                using var done = new CancellationTokenSource(TimeSpan.FromSeconds(10));
                await curl.WaitForExitAsync(done.Token);
                var bytes = long.Parse((await curl.StandardOutput.ReadToEndAsync()).Trim(), System.Globalization.CultureInfo.InvariantCulture);
                var errors = await curl.StandardError.ReadToEndAsync();
                // curl exits 0 on a body delimited by a clean close; a reset would be 56 (recv failure).
                Assert.True(curl.ExitCode == 0, $"curl exit {curl.ExitCode}: {errors}");
                Assert.True(bytes > 10_000, $"{bytes} bytes received");
            }
        }
        finally
        {
            foreach (var curl in curls)
            {
                if (!curl.HasExited)
                {
                    curl.Kill();
                }
                curl.Dispose();
            }
        }
    }

    /// <summary>
    /// Starts the built server. <c>asSystemdChild</c>: as systemd starts it. Microsoft.Extensions.Hosting.Systemd
    /// takes a process for a service when its parent's name is <c>systemd</c>, so the parent here is a copy of
    /// <c>sh</c> named so, which starts the server in the background, prints its pid and waits for it.
    /// </summary>
    private async Task<ServerProcess> StartServerAsync(int port, string? notifySocket)
    {
        var config = Path.Combine(_directory, "savate.yaml");
        // The listeners follow a looped file: a mount that plays with no source connection (the source's own
        // shutdown answer is tested with the sources).
        File.WriteAllText(config, $"""
            server:
              source-password: change-me
            mounts:
              - path: /term.flv
                format: flv
                fallback:
                  - file: {Path.Combine(AppContext.BaseDirectory, "samples", "sample.flv")}
            """);
        var parent = Path.Combine(_directory, "systemd");
        File.Copy("/bin/sh", parent);
        var dll = Path.Combine(AppContext.BaseDirectory, "Savate.Server.dll");
        var info = new ProcessStartInfo(parent, ["-c", $"dotnet '{dll}' --config '{config}' --urls http://127.0.0.1:{port} >/dev/null 2>&1 & echo $!; wait"])
        {
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        if (notifySocket is not null)
        {
            info.Environment["NOTIFY_SOCKET"] = notifySocket;
        }
        var shell = Process.Start(info)!;
        var pidLine = await shell.StandardOutput.ReadLineAsync();
        var server = Process.GetProcessById(int.Parse(pidLine!, System.Globalization.CultureInfo.InvariantCulture));
        return new ServerProcess(shell, server);
    }

    private sealed class ServerProcess(Process shell, Process server) : IDisposable
    {
        public Process Server => server;

        public void Dispose()
        {
            Stop(server);
            Stop(shell);
            server.Dispose();
            shell.Dispose();
        }
    }

    private static void Kill(Process process, string signal)
    {
        using var kill = Process.Start("kill", [$"-{signal}", process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        kill.WaitForExit();
    }

    private static void Stop(Process process)
    {
        if (!process.HasExited)
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit(10_000);
        }
    }

    private static async Task<string?> TryGetAsync(HttpClient client, string url)
    {
        try
        {
            return await client.GetStringAsync(url);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return null;
        }
    }

    private static string? MountState(string? status) =>
        status is null ? null : JsonDocument.Parse(status).RootElement.GetProperty("mounts")[0].GetProperty("state").GetString();

    private static int Listeners(string? status) =>
        status is null ? -1 : JsonDocument.Parse(status).RootElement.GetProperty("mounts")[0].GetProperty("listeners").GetInt32();

    private static async Task WaitAsync(Func<Task<bool>> condition, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for " + what);
            }
            await Task.Delay(200);
        }
    }
}
