using System.Diagnostics;
using System.Text.RegularExpressions;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>SIGTERM (a container stop) with a source connected: the server exits at once, not at Kestrel's shutdown timeout.</summary>
public sealed class ShutdownTests
{
    private const string Config = """
        server:
          source-password: change-me
        mounts:
          - path: /live.flv
            format: flv
        """;

    [Fact]
    public async Task Sigterm_WithSourceAndListenerConnected_ExitsWithinFiveSeconds()
    {
        await using var server = await ChildServer.StartAsync(Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await Wait.UntilAsync(() => server.Output.Contains("Source connected on /live.flv"), TimeSpan.FromSeconds(30), "the source to connect");
        // A curl listener, receiving the stream.
        using var listener = RunningProcess.Start("curl", ["-sS", "-N", "--max-time", "60", "-o", "/dev/null", "-w", "%{http_code} %{size_download}", server.Url("/live.flv").ToString()]);
        using (var client = new HttpClient())
        {
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
            while (!Regex.IsMatch(await client.GetStringAsync(server.Url("/status.json")), "\"listeners\":\\s*1\\b"))
            {
                Assert.True(DateTime.UtcNow < deadline, "the listener was not counted: " + server.Output);
                await Task.Delay(200);
            }
        }

        var clock = Stopwatch.StartNew();
        await server.TerminateAsync();
        var exited = await server.WaitForExitAsync(TimeSpan.FromSeconds(20));
        var elapsed = clock.Elapsed;

        Assert.True(exited, "the server did not exit within 20 s: " + server.Output);
        Assert.True(elapsed <= TimeSpan.FromSeconds(5), $"exit took {elapsed.TotalSeconds:0.0} s: " + server.Output);
        Assert.Equal(0, server.ExitCode);
        // The listener's connection was closed (curl ends on its own, long before its 60 s limit).
        await Wait.UntilAsync(() => listener.HasExited, TimeSpan.FromSeconds(10), "curl to see the end of the stream");
        Assert.DoesNotContain("unhandled exception", server.Output, StringComparison.OrdinalIgnoreCase);
    }
}
