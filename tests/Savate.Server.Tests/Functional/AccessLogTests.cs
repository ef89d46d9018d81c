using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.RegularExpressions;
using Savate.Server.AccessLog;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>server.access-log with real clients: combined format, sessions logged at their end, no secrets.</summary>
public sealed partial class AccessLogTests : IDisposable
{
    private readonly string _log = Path.Combine(Path.GetTempPath(), $"savate-access-{Guid.NewGuid():N}.log");

    private string Config => $"""
        server:
          source-password: change-me
          admin-password: admin-secret
          access-log: {_log}
        mounts:
          - path: /log.flv
            format: flv
        """;

    public void Dispose()
    {
        File.Delete(_log);
        File.Delete(_log + ".1");
    }

    [Fact]
    public async Task ListenerSession_IsLoggedAtItsEnd_WithBytesAndDuration_AndNoSecrets()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/log.flv")!;
        using var source = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/log.flv"));
        await Wait.UntilAsync(() => mount.Headers is not null, TimeSpan.FromSeconds(20), "the source's first keyframe");

        // A listener with a signed-URL token and a password in its query, through the front door (bare socket).
        using (var curl = RunningProcess.Start("curl", ["-sS", "-N", "-o", "/dev/null", "-A", "TestPlayer/1.0 \"quoted\"",
            server.Url("/log.flv?hdnts=st%3D1~exp%3D2~hmac%3Dtopsecrethmac&password=hunter2&x=1").ToString()]))
        {
            await Wait.UntilAsync(() => mount.SnapshotListeners().Any(l => l.BytesSent > 50_000), TimeSpan.FromSeconds(30), "the listener to receive 50 kB");
            await curl.StopAsync();
        }
        // A Kestrel request with a token and admin credentials in the query and the header.
        using (var client = new HttpClient())
        {
            client.DefaultRequestHeaders.Authorization = new System.Net.Http.Headers.AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes("admin:admin-secret")));
            Assert.Equal(HttpStatusCode.OK, (await client.GetAsync(server.Url("/admin/mounts?token=abcdef123456&__token__=zzzsecret"))).StatusCode);
            Assert.Equal(HttpStatusCode.NotFound, (await client.GetAsync(server.Url("/nothing-here?key=k3y"))).StatusCode);
        }

        string[] lines = [];
        await Wait.UntilAsync(() =>
        {
            lines = File.Exists(_log) ? ReadShared(_log) : [];
            return lines.Any(l => l.Contains("\"GET /log.flv ", StringComparison.Ordinal)) && lines.Any(l => l.Contains("/nothing-here", StringComparison.Ordinal));
        }, TimeSpan.FromSeconds(15), "the listener's and the requests' lines");

        var listenerLine = lines.Single(l => l.Contains("\"GET /log.flv ", StringComparison.Ordinal));
        var match = Combined().Match(listenerLine);
        Assert.True(match.Success, "combined format: " + listenerLine);
        Assert.Equal("127.0.0.1", match.Groups["host"].Value);
        Assert.Equal("200", match.Groups["status"].Value);
        Assert.True(long.Parse(match.Groups["bytes"].Value) >= 50_000, listenerLine);
        Assert.Equal("TestPlayer/1.0 \\\"quoted\\\"", match.Groups["agent"].Value);
        Assert.True(int.Parse(match.Groups["seconds"].Value) >= 0);

        var adminLine = lines.Single(l => l.Contains("/admin/mounts", StringComparison.Ordinal));
        Assert.Matches(Combined(), adminLine);
        Assert.Contains("token=REDACTED", adminLine);
        Assert.Contains(" admin ", adminLine);
        Assert.Contains(lines, l => l.Contains("\"GET /nothing-here?key=REDACTED HTTP/1.1\" 404 ", StringComparison.Ordinal));

        var all = string.Join('\n', lines);
        foreach (var secret in new[] { "topsecrethmac", "hunter2", "abcdef123456", "zzzsecret", "k3y", "admin-secret", "change-me", "YWRtaW46" })
        {
            Assert.DoesNotContain(secret, all);
        }

        // The source is logged when it ends, with the bytes it pushed.
        await source.StopAsync();
        await Wait.UntilAsync(() => ReadShared(_log).Any(l => l.Contains("\"SOURCE /log.flv ", StringComparison.Ordinal)), TimeSpan.FromSeconds(15), "the source's line");
        var sourceLine = ReadShared(_log).Single(l => l.Contains("\"SOURCE /log.flv ", StringComparison.Ordinal));
        Assert.Matches(Combined(), sourceLine);
        Assert.Contains(" source [", sourceLine);
    }

    [Fact]
    public async Task Reopen_Sigusr1AfterRotation_WritesToTheNewFile()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient();
        await client.GetAsync(server.Url("/before-rotation"));
        await Wait.UntilAsync(() => File.Exists(_log) && ReadShared(_log).Any(l => l.Contains("/before-rotation", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "the first line");

        File.Move(_log, _log + ".1");
        var (exit, _, stderr) = await RunningProcess.RunAsync("kill", ["-USR1", Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
        Assert.True(exit == 0, stderr);
        // The signal reaches the writer a moment after kill returns, as it does after logrotate's postrotate, so a
        // line or two may still go to the moved file: keep requesting until a line lands in the new file. Once one
        // has, the writer has reopened and every later line goes to the new file alone.
        await WaitForLineAsync(client, server, "/after-rotation");
        await client.GetAsync(server.Url("/after-reopen"));
        await Wait.UntilAsync(() => ReadShared(_log).Any(l => l.Contains("/after-reopen", StringComparison.Ordinal)), TimeSpan.FromSeconds(10), "the line after the reopen");
        Assert.Contains(ReadShared(_log + ".1"), l => l.Contains("/before-rotation", StringComparison.Ordinal));
        Assert.DoesNotContain(ReadShared(_log + ".1"), l => l.Contains("/after-reopen", StringComparison.Ordinal));
        Assert.DoesNotContain(ReadShared(_log), l => l.Contains("/before-rotation", StringComparison.Ordinal));
    }

    [Theory]
    [InlineData("/live.flv", "/live.flv")]
    [InlineData("/live.flv?hdnts=exp%3D1~hmac%3Dab&a=b", "/live.flv?hdnts=REDACTED&a=b")]
    [InlineData("/live.flv?TOKEN=1&Password=2&pwd=3&keep=4", "/live.flv?TOKEN=REDACTED&Password=REDACTED&pwd=REDACTED&keep=4")]
    [InlineData("/x?__token__=a&__token__=b", "/x?__token__=REDACTED&__token__=REDACTED")]
    [InlineData("/x?token", "/x?token")]
    public void Scrub_SecretParameters_AreRedacted(string target, string expected) =>
        Assert.Equal(expected, AccessLogWriter.Scrub(target));

    private async Task WaitForLineAsync(HttpClient client, TestServer server, string path)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        while (!(File.Exists(_log) && ReadShared(_log).Any(l => l.Contains(path, StringComparison.Ordinal))))
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"no line in the reopened access log {_log} of the server on port {server.Port}");
            }
            await client.GetAsync(server.Url(path));
            await Task.Delay(200);
        }
    }

    private static string[] ReadShared(string path)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        using var reader = new StreamReader(stream);
        return reader.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries);
    }

    // host ident user [time] "request" status bytes "referer" "agent" seconds
    [GeneratedRegex("""^(?<host>\S+) - (?<user>\S+) \[\d{2}/[A-Z][a-z]{2}/\d{4}:\d{2}:\d{2}:\d{2} \+0000\] "(?<request>(?:[^"\\]|\\.)*)" (?<status>\d{3}) (?<bytes>\d+|-) "(?<referer>(?:[^"\\]|\\.)*)" "(?<agent>(?:[^"\\]|\\.)*)" (?<seconds>\d+)$""")]
    private static partial Regex Combined();
}
