using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>
/// The real server as its own process (<c>dotnet Savate.Server.dll --config ...</c>): for what an in-process server cannot
/// show, such as how it reacts to SIGTERM and what its resident memory is.
/// </summary>
public sealed class ChildServer : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();
    private readonly string _configPath;

    private ChildServer(Process process, int port, string configPath)
    {
        _process = process;
        Port = port;
        _configPath = configPath;
    }

    public int Port { get; }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    /// <summary>Everything the server wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public static async Task<ChildServer> StartAsync(string yaml, IDictionary<string, string>? environment = null)
    {
        var port = TestServer.FreePort();
        var configPath = Path.Combine(Path.GetTempPath(), $"savate-child-{Guid.NewGuid():N}.yaml");
        // Relative fallback files resolve against the config's directory: point them at the test output.
        await File.WriteAllTextAsync(configPath, yaml.Replace("file: samples/", $"file: {AppContext.BaseDirectory}samples/", StringComparison.Ordinal));
        var info = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { Path.Combine(AppContext.BaseDirectory, "Savate.Server.dll"), "--config", configPath, "--urls", $"http://127.0.0.1:{port}" })
        {
            info.ArgumentList.Add(arg);
        }
        foreach (var (key, value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }
        var process = new Process { StartInfo = info };
        var server = new ChildServer(process, port, configPath);
        process.OutputDataReceived += (_, e) => server.Append(e.Data);
        process.ErrorDataReceived += (_, e) => server.Append(e.Data);
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();

        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"The server exited with {process.ExitCode}: {server.Output}");
            }
            try
            {
                using var probe = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
                await probe.ConnectAsync("127.0.0.1", port);
                return server;
            }
            catch (SocketException) when (DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }
        }
    }

    public Uri Url(string path) => new($"http://127.0.0.1:{Port}{path}");

    public string SourceUrl(string path, string password = "change-me") => $"http://source:{password}@127.0.0.1:{Port}{path}";

    /// <summary>Sends SIGTERM, as a container stop does.</summary>
    public async Task TerminateAsync()
    {
        var (exit, _, error) = await RunningProcess.RunAsync("kill", ["-TERM", _process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], TimeSpan.FromSeconds(10));
        if (exit != 0)
        {
            throw new InvalidOperationException($"kill -TERM failed: {error}");
        }
    }

    public async Task<bool> WaitForExitAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await _process.WaitForExitAsync(cts.Token);
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    /// <summary>Resident memory (VmRSS) in bytes.</summary>
    public long RssBytes() => ProcStatus.RssBytes(_process.Id);

    /// <summary>Open file descriptors.</summary>
    public int FdCount() => Directory.GetFiles($"/proc/{_process.Id}/fd").Length;

    /// <summary>
    /// The server's descriptors that are not files (sockets, pipes, anonymous inodes): what a client's connections
    /// could leak. Files are left out: the runtime opens each assembly it loads (twice) as code is first used.
    /// </summary>
    public int NonFileFdCount() => Directory.GetFiles($"/proc/{_process.Id}/fd")
        .Count(fd => { try { return new FileInfo(fd).LinkTarget is { } target && !target.StartsWith('/'); } catch (IOException) { return false; } });

    /// <summary>The server's descriptors by kind ("socket", "pipe", "anon_inode:[eventfd]", files by path), for failure messages.</summary>
    public string FdSummary() => string.Join(", ", Directory.GetFiles($"/proc/{_process.Id}/fd")
        .Select(fd => { try { var target = new FileInfo(fd).LinkTarget ?? "?"; return target.StartsWith("socket:", StringComparison.Ordinal) ? "socket" : target.StartsWith("pipe:", StringComparison.Ordinal) ? "pipe" : target; } catch (IOException) { return "gone"; } })
        .GroupBy(kind => kind).OrderByDescending(g => g.Count()).Select(g => $"{g.Count()} {g.Key}"));

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        _process.Dispose();
        File.Delete(_configPath);
    }
}

/// <summary>Figures from /proc for a process.</summary>
public static class ProcStatus
{
    public static long RssBytes(int pid)
    {
        foreach (var line in File.ReadLines($"/proc/{pid}/status"))
        {
            if (line.StartsWith("VmRSS:", StringComparison.Ordinal))
            {
                return long.Parse(line.AsSpan(6).Trim().TrimEnd("kB").Trim(), System.Globalization.CultureInfo.InvariantCulture) * 1024;
            }
        }
        return 0;
    }

    public static int FdCount(int pid) => Directory.GetFiles($"/proc/{pid}/fd").Length;
}
