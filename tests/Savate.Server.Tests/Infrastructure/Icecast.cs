using Xunit;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>
/// A real Icecast 2.4 (Debian's icecast2) on a loopback port, for interop tests. Its config and log
/// directory live in a temp directory removed on dispose; the process is killed on dispose. Icecast
/// refuses to run as root, so as root it starts with &lt;changeowner&gt; nobody/nogroup (the temp directory
/// is handed to nobody so it can still write its logs).
/// </summary>
public sealed class Icecast : IAsyncDisposable
{
    public const string Binary = "/usr/bin/icecast2";
    public const string SourcePassword = "ice-source";

    private readonly RunningProcess _process;
    private readonly string _dir;

    private Icecast(RunningProcess process, string dir, int port)
    {
        _process = process;
        _dir = dir;
        Port = port;
    }

    public int Port { get; }

    public string Url(string path) => $"http://127.0.0.1:{Port}{path}";

    public string SourceUrl(string path) => $"icecast://source:{SourcePassword}@127.0.0.1:{Port}{path}";

    /// <summary>Icecast's error log so far (for assertion messages).</summary>
    public string ErrorLog => ReadLog("error.log");

    public string AccessLog => ReadLog("access.log");

    /// <summary>Starts Icecast; <paramref name="extraXml"/> goes at the top level of &lt;icecast&gt; (slave settings, mounts).</summary>
    public static async Task<Icecast> StartAsync(string extraXml = "")
    {
        Assert.True(File.Exists(Binary),
            $"{Binary} is missing: the Icecast interop tests need Debian's icecast2 package " +
            "(scripts/test.sh installs it; or run: DEBIAN_FRONTEND=noninteractive apt-get install -y icecast2)");

        var port = TestServer.FreePort();
        var dir = Directory.CreateTempSubdirectory("savate-icecast-").FullName;
        var logDir = Path.Combine(dir, "log");
        Directory.CreateDirectory(logDir);
        var root = Environment.UserName == "root";
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(dir, (UnixFileMode)0b111_101_101);
            File.SetUnixFileMode(logDir, (UnixFileMode)0b111_111_111);
        }
        if (root)
        {
            var chown = await RunningProcess.RunAsync("chown", ["-R", "nobody:nogroup", dir], TimeSpan.FromSeconds(10));
            Assert.True(chown.ExitCode == 0, $"chown nobody:nogroup {dir} failed: {chown.Stderr}");
        }
        var security = root
            ? "<security><chroot>0</chroot><changeowner><user>nobody</user><group>nogroup</group></changeowner></security>"
            : "<security><chroot>0</chroot></security>";
        var config = Path.Combine(dir, "icecast.xml");
        await File.WriteAllTextAsync(config, $"""
            <icecast>
              <location>loopback</location>
              <admin>test@localhost</admin>
              <limits>
                <clients>100</clients>
                <sources>10</sources>
                <queue-size>4194304</queue-size>
                <client-timeout>30</client-timeout>
                <header-timeout>15</header-timeout>
                <source-timeout>10</source-timeout>
                <burst-on-connect>1</burst-on-connect>
                <!-- Icecast's generic handler (FLV, TS) starts a listener at its burst point, with no container
                     sync: a burst as large as the queue lets a listener of a young relay start at its first byte
                     (the FLV header), however long the test took to connect it (64 KiB was about 2 s of stream). -->
                <burst-size>4194304</burst-size>
              </limits>
              <authentication>
                <source-password>{SourcePassword}</source-password>
                <relay-password>ice-relay</relay-password>
                <admin-user>admin</admin-user>
                <admin-password>ice-admin</admin-password>
              </authentication>
              <hostname>127.0.0.1</hostname>
              <listen-socket>
                <port>{port}</port>
                <bind-address>127.0.0.1</bind-address>
              </listen-socket>
              {extraXml}
              <fileserve>1</fileserve>
              <paths>
                <basedir>/usr/share/icecast2</basedir>
                <logdir>{logDir}</logdir>
                <webroot>/usr/share/icecast2/web</webroot>
                <adminroot>/usr/share/icecast2/admin</adminroot>
              </paths>
              <logging>
                <accesslog>access.log</accesslog>
                <errorlog>error.log</errorlog>
                <loglevel>3</loglevel>
              </logging>
              {security}
            </icecast>
            """);
        if (root)
        {
            await RunningProcess.RunAsync("chown", ["nobody:nogroup", config], TimeSpan.FromSeconds(10));
        }

        var process = RunningProcess.Start(Binary, ["-c", config]);
        var icecast = new Icecast(process, dir, port);
        try
        {
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
            while (true)
            {
                if (process.HasExited)
                {
                    throw new InvalidOperationException(
                        $"icecast2 exited with {process.ExitCode} at start-up: {process.Stderr}\nerror.log:\n{icecast.ErrorLog}");
                }
                try
                {
                    using var response = await client.GetAsync(icecast.Url("/status-json.xsl"));
                    if (response.IsSuccessStatusCode)
                    {
                        return icecast;
                    }
                }
                catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
                {
                }
                if (DateTime.UtcNow > deadline)
                {
                    throw new TimeoutException($"icecast2 did not answer on port {port} within 15 s: {process.Stderr}\nerror.log:\n{icecast.ErrorLog}");
                }
                await Task.Delay(100);
            }
        }
        catch
        {
            await icecast.DisposeAsync();
            throw;
        }
    }

    /// <summary>Icecast's /status-json.xsl (its mounts, listeners, relays).</summary>
    public async Task<string> StatusAsync()
    {
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
        try
        {
            return await client.GetStringAsync(Url("/status-json.xsl"));
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
        {
            return "";
        }
    }

    /// <summary>Polls until Icecast lists <paramref name="mount"/> as a live source in its status.</summary>
    public async Task WaitForMountAsync(string mount, TimeSpan timeout, string what)
    {
        var deadline = DateTime.UtcNow + timeout;
        var needle = $"\"listenurl\":\"http://127.0.0.1:{Port}{mount}\"";
        while (true)
        {
            var status = await StatusAsync();
            if (status.Contains(needle, StringComparison.Ordinal))
            {
                return;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException(
                    $"Timed out after {timeout.TotalSeconds} s waiting for {what}\nstatus: {status}\nerror.log:\n{ErrorLog}\naccess.log:\n{AccessLog}");
            }
            await Task.Delay(200);
        }
    }

    private string ReadLog(string name)
    {
        try
        {
            using var stream = new FileStream(Path.Combine(_dir, "log", name), FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (IOException)
        {
            return "";
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.StopAsync();
        _process.Dispose();
        try
        {
            Directory.Delete(_dir, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
        }
    }
}
