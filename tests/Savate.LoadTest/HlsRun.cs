using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;

namespace Savate.LoadTest;

/// <summary>
/// HLS clients (<c>--hls</c>): the synthetic source pushes to the origin (<c>--source-url</c>, or <c>--url</c>), and each
/// client polls <c>{url}/index.m3u8</c> (through a cache such as nginx, when <c>--url</c> points at one) as a player
/// does: every half target duration, fetching each segment that is new since its last poll, in order. It starts
/// at the live edge (the newest segment). Measured per client: segments fetched, sequence gaps (a segment that
/// left the playlist before it was fetched), errors; and for every marker in a segment that was new when fetched,
/// its latency: the segment's arrival minus the marker's send time. That is the delay from the encoder to the
/// bytes being at the player, before the player's own buffer (hls.js holds three target durations by default).
/// </summary>
internal sealed class HlsRun(Options options, IPEndPoint sourceEndpoint)
{
    private readonly List<double> _latencies = [];
    private readonly List<double> _edgeLatencies = [];
    private readonly List<double> _downloadMs = [];
    private readonly Lock _lock = new();
    private long _segments;
    private long _gaps;
    private long _errors;
    private long _bytes;
    private long _playlists;

    public async Task<JsonObject> RunAsync()
    {
        using var stop = new CancellationTokenSource();
        var source = new SourceSet(options, sourceEndpoint);
        var sourceTask = options.NoSource ? Task.CompletedTask : Task.Run(() => source.RunAsync(stop.Token));
        // Segments need a few keyframes first.
        await Task.Delay(options.Lead + TimeSpan.FromSeconds(2 * options.Gop.TotalSeconds)).ConfigureAwait(false);

        using var handler = new SocketsHttpHandler { MaxConnectionsPerServer = int.MaxValue, PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30) };
        using var http = new HttpClient(handler) { Timeout = TimeSpan.FromSeconds(10) };
        var playlist = new Uri(options.Url.ToString().TrimEnd('/') + "/index.m3u8");
        var clients = new Task[options.Listeners];
        var start = Stopwatch.GetTimestamp();
        var end = start + (long)(options.Duration.TotalSeconds * Stopwatch.Frequency);
        var steadyStart = start + (long)((options.Listeners / options.JoinRate + options.Settle.TotalSeconds) * Stopwatch.Frequency);
        for (var i = 0; i < clients.Length; i++)
        {
            var due = start + (long)(i / options.JoinRate * Stopwatch.Frequency);
            var wait = due - Stopwatch.GetTimestamp();
            if (wait > 0)
            {
                await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency)).ConfigureAwait(false);
            }
            clients[i] = Task.Run(() => ClientAsync(http, playlist, steadyStart, end, stop.Token));
        }

        await DelayUntil(steadyStart).ConfigureAwait(false);
        var cpu0 = options.ServerPid is { } p0 ? ProcStats.CpuSeconds(p0) : double.NaN;
        var proxy0 = options.ProxyPids.Sum(ProcStats.CpuSeconds);
        var s0 = Stopwatch.GetTimestamp();
        await DelayUntil(end).ConfigureAwait(false);
        var cpu1 = options.ServerPid is { } p1 ? ProcStats.CpuSeconds(p1) : double.NaN;
        var proxy1 = options.ProxyPids.Sum(ProcStats.CpuSeconds);
        var steady = (Stopwatch.GetTimestamp() - s0) / (double)Stopwatch.Frequency;
        await Task.WhenAll(clients).ConfigureAwait(false);
        stop.Cancel();
        await sourceTask.ConfigureAwait(false);

        double[] Sorted(List<double> values)
        {
            lock (_lock)
            {
                var a = values.ToArray();
                Array.Sort(a);
                return a;
            }
        }
        var latencies = Sorted(_latencies);
        var edge = Sorted(_edgeLatencies);
        var downloads = Sorted(_downloadMs);
        static double R(double v, int digits = 1) => double.IsNaN(v) ? -1 : Math.Round(v, digits);
        return new JsonObject
        {
            ["label"] = options.Label,
            ["mode"] = "hls",
            ["url"] = playlist.ToString(),
            ["clients"] = options.Listeners,
            ["steady_s"] = R(steady, 2),
            ["source_max_late_ms"] = R(source.MaxLateMs),
            ["playlists_fetched"] = _playlists,
            ["segments_fetched"] = _segments,
            ["segments_per_client"] = R((double)_segments / options.Listeners),
            ["sequence_gaps"] = _gaps,
            ["errors"] = _errors,
            ["bytes"] = _bytes,
            ["latency_samples"] = latencies.Length,
            ["latency_p50_ms"] = R(Stats.Percentile(latencies, 0.5)),
            ["latency_p99_ms"] = R(Stats.Percentile(latencies, 0.99)),
            ["edge_latency_p50_ms"] = R(Stats.Percentile(edge, 0.5)),
            ["edge_latency_p99_ms"] = R(Stats.Percentile(edge, 0.99)),
            ["segment_download_p50_ms"] = R(Stats.Percentile(downloads, 0.5)),
            ["segment_download_p99_ms"] = R(Stats.Percentile(downloads, 0.99)),
            ["origin_cpu_steady_pct"] = R((cpu1 - cpu0) / steady * 100),
            ["proxy_cpu_steady_pct"] = options.ProxyPids.Count == 0 ? -1 : R((proxy1 - proxy0) / steady * 100),
            ["origin_rss_mb"] = options.ServerPid is { } p2 ? R(ProcStats.StatusKb(p2, "VmRSS") / 1024.0) : -1,
        };
    }

    private async Task ClientAsync(HttpClient http, Uri playlist, long steadyStart, long end, CancellationToken stop)
    {
        long last = -1;
        var target = 2.0;
        var buffer = new byte[256 * 1024];
        while (Stopwatch.GetTimestamp() < end && !stop.IsCancellationRequested)
        {
            try
            {
                var text = await http.GetStringAsync(playlist, stop).ConfigureAwait(false);
                Interlocked.Increment(ref _playlists);
                var (sequence, segments, targetDuration) = Parse(text);
                target = targetDuration > 0 ? targetDuration : target;
                var first = last < 0 ? sequence + Math.Max(0, segments.Count - 1) : last + 1;
                if (last >= 0 && first < sequence)
                {
                    Interlocked.Add(ref _gaps, sequence - first);
                    first = sequence;
                }
                for (var s = first; s < sequence + segments.Count; s++)
                {
                    var uri = new Uri(playlist, segments[(int)(s - sequence)]);
                    var started = Stopwatch.GetTimestamp();
                    using var response = await http.GetAsync(uri, HttpCompletionOption.ResponseHeadersRead, stop).ConfigureAwait(false);
                    response.EnsureSuccessStatusCode();
                    await using var body = await response.Content.ReadAsStreamAsync(stop).ConfigureAwait(false);
                    var length = 0;
                    int n;
                    while ((n = await body.ReadAsync(buffer.AsMemory(length), stop).ConfigureAwait(false)) > 0)
                    {
                        length += n;
                        if (length == buffer.Length)
                        {
                            Array.Resize(ref buffer, buffer.Length * 2);
                        }
                    }
                    var arrived = Stopwatch.GetTimestamp();
                    Interlocked.Increment(ref _segments);
                    Interlocked.Add(ref _bytes, length);
                    // Latency only for segments that were new (the first poll's segment may be older), in the steady window.
                    if (started >= steadyStart && last >= 0)
                    {
                        Record(buffer.AsSpan(0, length), arrived, (arrived - started) * 1000.0 / Stopwatch.Frequency);
                    }
                    last = s;
                }
            }
            catch (OperationCanceledException) when (stop.IsCancellationRequested)
            {
                return;
            }
            catch (Exception e) when (e is HttpRequestException or IOException or TaskCanceledException)
            {
                Interlocked.Increment(ref _errors);
            }
            await Task.Delay(TimeSpan.FromSeconds(target / 2), stop).ConfigureAwait(false);
        }
    }

    private void Record(ReadOnlySpan<byte> segment, long arrived, double downloadMs)
    {
        double newest = double.NaN;
        lock (_lock)
        {
            _downloadMs.Add(downloadMs);
            var at = 0;
            while (true)
            {
                var i = segment[at..].IndexOf(Marker.Magic);
                if (i < 0 || at + i + Marker.Size > segment.Length)
                {
                    break;
                }
                var sent = Marker.ReadTimestamp(segment[(at + i)..]);
                var ms = (arrived - sent) * 1000.0 / Stopwatch.Frequency;
                _latencies.Add(ms);
                newest = double.IsNaN(newest) ? ms : Math.Min(newest, ms);
                at += i + Marker.Size;
            }
            if (!double.IsNaN(newest))
            {
                _edgeLatencies.Add(newest);
            }
        }
    }

    private static (long Sequence, List<string> Segments, double TargetDuration) Parse(string playlist)
    {
        long sequence = 0;
        double target = 0;
        var segments = new List<string>();
        var expectUri = false;
        foreach (var raw in playlist.Split('\n'))
        {
            var line = raw.Trim();
            if (line.StartsWith("#EXT-X-MEDIA-SEQUENCE:", StringComparison.Ordinal))
            {
                sequence = long.Parse(line["#EXT-X-MEDIA-SEQUENCE:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXT-X-TARGETDURATION:", StringComparison.Ordinal))
            {
                target = double.Parse(line["#EXT-X-TARGETDURATION:".Length..], CultureInfo.InvariantCulture);
            }
            else if (line.StartsWith("#EXTINF:", StringComparison.Ordinal))
            {
                expectUri = true;
            }
            else if (expectUri && line.Length > 0 && !line.StartsWith('#'))
            {
                segments.Add(line);
                expectUri = false;
            }
        }
        return (sequence, segments, target);
    }

    private static async Task DelayUntil(long timestamp)
    {
        var wait = timestamp - Stopwatch.GetTimestamp();
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromSeconds((double)wait / Stopwatch.Frequency)).ConfigureAwait(false);
        }
    }
}
