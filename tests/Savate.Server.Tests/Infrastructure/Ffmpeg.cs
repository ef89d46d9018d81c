using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>Real encoders and decoders for the functional tests: ffmpeg pushes, ffmpeg/ffprobe decode.</summary>
public static class Ffmpeg
{
    /// <summary>A live test pattern with a tone: 320x240, 25 fps, keyframe every second.</summary>
    public static string[] LiveInput(int width = 320, int height = 240) =>
    [
        "-re", "-f", "lavfi", "-i", $"testsrc2=size={width}x{height}:rate=25",
        "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
        "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-g", "25", "-keyint_min", "25",
        "-pix_fmt", "yuv420p", "-b:v", "300k", "-c:a", "aac", "-b:a", "64k", "-ac", "2",
    ];

    /// <summary>Starts ffmpeg with the arguments; the process is killed when disposed.</summary>
    public static RunningProcess Start(params string[] args) => RunningProcess.Start("ffmpeg", ["-hide_banner", "-nostdin", "-loglevel", "error", .. args]);

    public static RunningProcess PushFlvChunkedPost(string url, params string[] input) =>
        Start([.. input.Length > 0 ? input : LiveInput(), "-f", "flv", url]);

    public static RunningProcess PushTsPut(string url) =>
        Start([.. LiveInput(), "-f", "mpegts", "-method", "PUT", url]);

    /// <summary>Decodes <paramref name="seconds"/> of a URL; returns the exit code, error output and the frame count per stream.</summary>
    public static async Task<DecodeResult> DecodeAsync(string url, double seconds, TimeSpan? timeout = null)
    {
        var args = new[]
        {
            "-hide_banner", "-nostdin", "-v", "error", "-rw_timeout", "10000000", "-i", url,
            "-t", seconds.ToString(CultureInfo.InvariantCulture), "-f", "framecrc", "-",
        };
        var result = await RunningProcess.RunAsync("ffmpeg", args, timeout ?? TimeSpan.FromSeconds(seconds + 20));
        var frames = new Dictionary<int, int>();
        foreach (var line in result.Stdout.Split('\n'))
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }
            var comma = line.IndexOf(',');
            if (comma > 0 && int.TryParse(line.AsSpan(0, comma), out var stream))
            {
                frames[stream] = frames.GetValueOrDefault(stream) + 1;
            }
        }
        return new DecodeResult(result.ExitCode, result.Stderr, frames);
    }

    /// <summary>
    /// One listener connection, decoded (errors reported) and copied packet by packet at once: returns
    /// the decode result and, per stream, the packet DTS values in arrival order.
    /// </summary>
    public static async Task<(DecodeResult Decode, IReadOnlyDictionary<int, List<long>> Dts)> DecodeAndListPacketsAsync(string url, double seconds)
    {
        var packets = Path.Combine(Path.GetTempPath(), $"savate-packets-{Guid.NewGuid():N}.txt");
        try
        {
            var t = seconds.ToString(CultureInfo.InvariantCulture);
            var result = await RunningProcess.RunAsync("ffmpeg",
                ["-hide_banner", "-nostdin", "-v", "error", "-rw_timeout", "10000000", "-i", url,
                 "-map", "0:v?", "-map", "0:a?", "-c", "copy", "-t", t, "-f", "framecrc", packets,
                 "-map", "0:v?", "-map", "0:a?", "-t", t, "-f", "framecrc", "-"],
                TimeSpan.FromSeconds(seconds + 30));
            var decoded = new Dictionary<int, int>();
            foreach (var line in result.Stdout.Split('\n'))
            {
                var comma = line.IndexOf(',');
                if (line.Length > 0 && line[0] != '#' && comma > 0 && int.TryParse(line.AsSpan(0, comma), out var stream))
                {
                    decoded[stream] = decoded.GetValueOrDefault(stream) + 1;
                }
            }
            var dts = new Dictionary<int, List<long>>();
            foreach (var line in File.Exists(packets) ? File.ReadAllLines(packets) : [])
            {
                var fields = line.Split(',', StringSplitOptions.TrimEntries);
                if (line.Length > 0 && line[0] != '#' && fields.Length > 2 && int.TryParse(fields[0], out var stream) && long.TryParse(fields[1], out var value))
                {
                    (dts.TryGetValue(stream, out var list) ? list : dts[stream] = []).Add(value);
                }
            }
            return (new DecodeResult(result.ExitCode, result.Stderr, decoded), dts);
        }
        finally
        {
            File.Delete(packets);
        }
    }

    /// <summary>ffprobe's first video stream width and height of a URL.</summary>
    public static async Task<(int Width, int Height)> ProbeVideoSizeAsync(string url)
    {
        var result = await RunningProcess.RunAsync("ffprobe",
            ["-v", "error", "-rw_timeout", "10000000", "-select_streams", "v:0", "-show_entries", "stream=width,height", "-of", "csv=p=0", url],
            TimeSpan.FromSeconds(30));
        var parts = result.Stdout.Trim().Split(',');
        return parts.Length == 2 && int.TryParse(parts[0], out var w) && int.TryParse(parts[1], out var h) ? (w, h) : (0, 0);
    }
}

public sealed record DecodeResult(int ExitCode, string Errors, IReadOnlyDictionary<int, int> FramesPerStream)
{
    public int VideoFrames => FramesPerStream.GetValueOrDefault(0);

    public int TotalFrames => FramesPerStream.Values.Sum();

    public override string ToString() => $"exit {ExitCode}, frames [{string.Join(", ", FramesPerStream.Select(kv => $"{kv.Key}:{kv.Value}"))}], errors: {Errors}";
}

public sealed class RunningProcess : IDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _stderr = new();

    private RunningProcess(Process process) => _process = process;

    public string Stderr
    {
        get
        {
            lock (_stderr)
            {
                return _stderr.ToString();
            }
        }
    }

    public bool HasExited => _process.HasExited;

    public int ExitCode => _process.ExitCode;

    private static ProcessStartInfo CreateStartInfo(string file, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(file)
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        return info;
    }

    public static RunningProcess Start(string file, IEnumerable<string> args)
    {
        var info = CreateStartInfo(file, args);
        var process = new Process { StartInfo = info };
        var running = new RunningProcess(process);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is not null)
            {
                lock (running._stderr)
                {
                    running._stderr.AppendLine(e.Data);
                }
            }
        };
        process.OutputDataReceived += (_, _) => { };
        if (!process.Start())
        {
            throw new InvalidOperationException($"Could not start {file}");
        }
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        return running;
    }

    public static async Task<(int ExitCode, string Stdout, string Stderr)> RunAsync(string file, IEnumerable<string> args, TimeSpan timeout)
    {
        var info = CreateStartInfo(file, args);
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {file}");
        process.StandardInput.Close();
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync();
            return (-1, await stdout, await stderr + $"\n[killed after {timeout.TotalSeconds} s]");
        }
        return (process.ExitCode, await stdout, await stderr);
    }

    /// <summary>Stops ffmpeg as a user would (q on stdin would need a tty; SIGTERM lets it close the stream).</summary>
    public async Task StopAsync()
    {
        if (_process.HasExited)
        {
            return;
        }
        try
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
        catch (InvalidOperationException)
        {
        }
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(5000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
    }
}
