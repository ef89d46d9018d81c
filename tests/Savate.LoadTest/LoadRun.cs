using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Savate.LoadTest;

/// <summary>One bounded run: source, listeners joining at the join rate, a steady window, the report.</summary>
internal sealed class LoadRun(Options options, IPEndPoint endpoint, IPEndPoint sourceEndpoint)
{
    private readonly ConcurrentBag<Socket> _sockets = [];
    public const int PhaseBefore = 0;
    public const int PhaseSteady = 1;
    public const int PhaseAfter = 2;

    private volatile bool _stopping;
    private volatile int _phase = PhaseBefore;

    public Options Options { get; } = options;

    /// <summary>Before, in, or after the steady window: listeners record window markers only while it is <see cref="PhaseSteady"/>.</summary>
    public int Phase => _phase;

    public Histogram Latency { get; } = new();

    public bool Stopping => _stopping;

    public void Register(Socket socket) => _sockets.Add(socket);

    public async Task<JsonObject> RunAsync()
    {
        var warnings = new JsonArray();
        var pid = Options.ServerPid;
        var self = Environment.ProcessId;
        using var stop = new CancellationTokenSource();

        var listenOverflows0 = ProcStats.ListenOverflows();
        // Source first: listeners need a keyframe in the ring.
        var source = new SourceSet(Options, sourceEndpoint);
        var sourceTask = Options.NoSource ? Task.CompletedTask : Task.Run(() => source.RunAsync(stop.Token));
        await Task.Delay(Options.Lead).ConfigureAwait(false);
        if (source.Error is not null)
        {
            warnings.Add(source.Error);
        }

        long serverRssMaxKb = 0, toolRssMaxKb = 0;
        // With slow listeners, /status.json is polled every 500 ms to see when the server evicts them:
        // a slow client itself only sees the close after draining what the kernels still buffer for it.
        var evictionSeries = new List<(long Ticks, long Evictions)>();
        using var statusHttp = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
        var runStartShared = new long[1];
        using var samplerStop = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            while (!samplerStop.IsCancellationRequested)
            {
                if (pid is { } p)
                {
                    serverRssMaxKb = Math.Max(serverRssMaxKb, ProcStats.StatusKb(p, "VmRSS"));
                }
                toolRssMaxKb = Math.Max(toolRssMaxKb, ProcStats.StatusKb(self, "VmRSS"));
                if (Options.SlowFraction > 0 && Volatile.Read(ref runStartShared[0]) != 0)
                {
                    var doc = await FetchStatusAsync(statusHttp).ConfigureAwait(false);
                    if (MountOf(doc)?["evictions"]?.GetValue<long>() is { } ev)
                    {
                        lock (evictionSeries)
                        {
                            evictionSeries.Add((Stopwatch.GetTimestamp(), ev));
                        }
                    }
                }
                try
                {
                    await Task.Delay(500, samplerStop.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                }
            }
        });

        static byte[] Request(Uri url) => Encoding.ASCII.GetBytes(
            $"GET {url.PathAndQuery} HTTP/1.0\r\nHost: {url.Authority}\r\nUser-Agent: Savate.LoadTest\r\nIcy-MetaData: 0\r\n\r\n");
        // With --mounts, listener i listens to mount i % mounts.
        var requests = Options.Mounts > 1
            ? Enumerable.Range(0, Options.Mounts).Select(m => Request(SourceSet.MountUrl(Options.Url, m))).ToArray()
            : [Request(Options.Url)];
        var n = Options.Listeners;
        var pool = GC.AllocateUninitializedArray<byte>(n * ListenerClient.Stride, pinned: true);
        var clients = new ListenerClient[n];
        var tasks = new Task[n];
        var slowCount = 0;
        for (var i = 0; i < n; i++)
        {
            var slow = Math.Floor((i + 1) * Options.SlowFraction) > Math.Floor(i * Options.SlowFraction);
            slowCount += slow ? 1 : 0;
            clients[i] = new ListenerClient(i, pool, this, slow, sampled: !slow && i % Options.SampleEvery == 0);
        }

        // Plain listeners read on a few epoll threads (EpollReceivers); --receivers 0 keeps one async loop each.
        using var receivers = Options.Receivers > 0 && EpollReceivers.IsSupported ? new EpollReceivers(Options.Receivers, clients) : null;
        var runStart = Stopwatch.GetTimestamp();
        Volatile.Write(ref runStartShared[0], runStart);
        var serverCpu0 = pid is { } p0 ? ProcStats.CpuSeconds(p0) : double.NaN;
        var toolCpu0 = ProcStats.CpuSeconds(self);
        var end = runStart + (long)(Options.Duration.TotalSeconds * Stopwatch.Frequency);
        var joinTicks = Stopwatch.Frequency / Options.JoinRate;
        for (var i = 0; i < n; i++)
        {
            var due = runStart + (long)(i * joinTicks);
            var wait = due - Stopwatch.GetTimestamp();
            if (wait > Stopwatch.Frequency / 500)
            {
                await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)).ConfigureAwait(false);
            }
            var client = clients[i];
            tasks[i] = client.RunAsync(endpoint, requests[i % requests.Length], receivers, stop.Token);
        }
        var joinEnd = Stopwatch.GetTimestamp();
        var joinSeconds = (joinEnd - runStart) / (double)Stopwatch.Frequency;

        var steadyStart = joinEnd + (long)(Options.Settle.TotalSeconds * Stopwatch.Frequency);
        if (end - steadyStart < 5 * Stopwatch.Frequency)
        {
            warnings.Add($"steady window shorter than 5 s (join took {joinSeconds:0.0} s): raise --duration");
            steadyStart = Math.Min(steadyStart, end - (end - joinEnd) / 2);
        }
        await DelayUntil(steadyStart).ConfigureAwait(false);
        _phase = PhaseSteady;
        var s0 = Stopwatch.GetTimestamp();
        var sourceBytes0 = source.BytesSent;
        var serverCpuS0 = pid is { } p1 ? ProcStats.CpuSeconds(p1) : double.NaN;
        var toolCpuS0 = ProcStats.CpuSeconds(self);
        var machine0 = ProcStats.MachineTicks();
        var procs0 = ProcStats.AllProcesses();
        foreach (var c in clients)
        {
            c.SteadyStartBytes = c.EndedAt == 0 ? Interlocked.Read(ref c.Bytes) : -1;
        }

        await DelayUntil(end).ConfigureAwait(false);
        _phase = PhaseAfter;
        var s1 = Stopwatch.GetTimestamp();
        var sourceBytes1 = source.BytesSent;
        var serverCpuS1 = pid is { } p2 ? ProcStats.CpuSeconds(p2) : double.NaN;
        var toolCpuS1 = ProcStats.CpuSeconds(self);
        var machine1 = ProcStats.MachineTicks();
        var procs1 = ProcStats.AllProcesses();
        foreach (var c in clients)
        {
            c.SteadyEndBytes = c.EndedAt == 0 ? Interlocked.Read(ref c.Bytes) : -1;
        }
        var status = await FetchStatusAsync(statusHttp).ConfigureAwait(false);
        var serverHwmKb = pid is { } p3 ? ProcStats.StatusKb(p3, "VmHWM") : -1;
        var serverRssEndKb = pid is { } p4 ? ProcStats.StatusKb(p4, "VmRSS") : -1;

        _stopping = true;
        stop.Cancel();
        // The receivers first: none may read a socket while it is being closed.
        receivers?.Dispose();
        foreach (var socket in _sockets)
        {
            socket.Dispose();
        }
        await Task.WhenAny(Task.WhenAll(tasks), Task.Delay(5000)).ConfigureAwait(false);
        await Task.WhenAny(sourceTask, Task.Delay(2000)).ConfigureAwait(false);
        samplerStop.Cancel();
        await sampler.ConfigureAwait(false);
        var serverCpu1 = pid is { } p5 ? ProcStats.CpuSeconds(p5) : double.NaN;
        var toolCpu1 = ProcStats.CpuSeconds(self);
        var runSeconds = (Stopwatch.GetTimestamp() - runStart) / (double)Stopwatch.Frequency;
        var steadySeconds = (s1 - s0) / (double)Stopwatch.Frequency;
        // Other processes (other test runs, builds) that took CPU in the steady window, in cores.
        var others = new JsonObject();
        foreach (var (opid, (name, seconds)) in procs1.Where(p => p.Key != self && p.Key != pid)
                     .Select(p => (p.Key, (p.Value.Name, p.Value.Seconds - (procs0.TryGetValue(p.Key, out var before) ? before.Seconds : 0))))
                     .Where(p => p.Item2.Item2 / steadySeconds >= 0.02).OrderByDescending(p => p.Item2.Item2).Take(8))
        {
            others[$"{name}[{opid}]"] = Math.Round(seconds / steadySeconds, 2);
        }
        var othersCores = procs1.Where(p => p.Key != self && p.Key != pid)
            .Sum(p => p.Value.Seconds - (procs0.TryGetValue(p.Key, out var before) ? before.Seconds : 0)) / steadySeconds;

        // Seconds after the first listener joined at which the server had evicted the first / all slow listeners.
        double firstEviction = double.NaN, allEvicted = double.NaN;
        lock (evictionSeries)
        {
            var baseline = evictionSeries.Count > 0 ? evictionSeries[0].Evictions : 0;
            foreach (var (ticks, ev) in evictionSeries)
            {
                var t = (ticks - runStart) / (double)Stopwatch.Frequency;
                if (ev > baseline && double.IsNaN(firstEviction))
                {
                    firstEviction = t;
                }
                if (ev - baseline >= slowCount && slowCount > 0 && double.IsNaN(allEvicted))
                {
                    allEvicted = t;
                }
            }
        }
        lock (evictionSeries)
        {
            long last = -1;
            foreach (var (ticks, ev) in evictionSeries)
            {
                if (ev != last)
                {
                    _evictionSeries.Add(new JsonArray(Math.Round((ticks - runStart) / (double)Stopwatch.Frequency, 1), ev));
                    last = ev;
                }
            }
        }
        _serverEvictionFirstS = firstEviction;
        _serverEvictionAllS = allEvicted;

        _listenOverflows = ProcStats.ListenOverflows() - listenOverflows0;
        return Report(clients, warnings, slowCount, joinSeconds, steadySeconds, runSeconds, s1,
            source, sourceBytes1 - sourceBytes0, status,
            (serverCpuS1 - serverCpuS0) / steadySeconds, (serverCpu1 - serverCpu0) / runSeconds,
            (toolCpuS1 - toolCpuS0) / steadySeconds, (toolCpu1 - toolCpu0) / runSeconds,
            serverHwmKb, Math.Max(serverRssMaxKb, serverRssEndKb), toolRssMaxKb, machine0, machine1, others, othersCores);
    }

    private JsonObject Report(ListenerClient[] clients, JsonArray warnings, int slowCount, double joinSeconds, double steadySeconds,
        double runSeconds, long endTicks, SourceSet source, long sourceSteadyBytes, JsonNode? status,
        double serverCpuSteady, double serverCpuRun, double toolCpuSteady, double toolCpuRun, long serverHwmKb, long serverRssMaxKb, long toolRssMaxKb,
        (long Total, long Idle, long Irq, long System) machine0, (long Total, long Idle, long Irq, long System) machine1,
        JsonObject others, double othersCores)
    {
        // Whole machine over the steady window, in cores (of Environment.ProcessorCount): shows when other
        // processes, or kernel work not charged to either process (softirq on loopback), take the CPU.
        var cores = Environment.ProcessorCount;
        var totalTicks = Math.Max(1, machine1.Total - machine0.Total);
        var machineBusyCores = cores * (1 - (machine1.Idle - machine0.Idle) / (double)totalTicks);
        var machineIrqCores = cores * (machine1.Irq - machine0.Irq) / (double)totalTicks;
        var f = (double)Stopwatch.Frequency;
        var normal = clients.Where(c => !c.IsSlow).ToArray();
        var slow = clients.Where(c => c.IsSlow).ToArray();
        var connected = normal.Count(c => c.Connected);
        var refused = normal.Count(c => c.Status is not 0 and not 200);
        var noResponse = normal.Count(c => c.Status == 0);
        var dropped = normal.Where(c => c.Connected && c.EndedAt != 0).ToArray();
        var served = normal.Count(c => c.Connected && c.EndedAt == 0 && c.Markers > 0);
        var ttfb = normal.Where(c => c.FirstByte != 0).Select(c => (c.FirstByte - c.ConnectStart) * 1000 / f).Order().ToArray();
        var ttff = normal.Where(c => c.FirstMarker != 0).Select(c => (c.FirstMarker - c.ConnectStart) * 1000 / f).Order().ToArray();
        var streamRate = sourceSteadyBytes / steadySeconds / source.Count;
        // The old byte-window ratio: listener bytes between the instants s0 and s1 over source bytes
        // between them. Biased by what is in flight at s0 and s1: the source sends a keyframe (~10 P-frames,
        // ~40 KB at 1 Mbit/s, 1.4% of a 27 s window) in one go, so when s1 falls just after one left the
        // source, every listener that has not received it yet reads ~1.4% low (at an idle 5,000-listener
        // run: p50 1.000 but p1 = min = 0.986, 2,068 listeners "below 99%"). Kept for comparison only.
        var bytesWindowRatios = normal.Where(c => c.SteadyStartBytes >= 0 && c.SteadyEndBytes >= 0)
            .Select(c => sourceSteadyBytes > 0 ? (c.SteadyEndBytes - c.SteadyStartBytes) / ((double)sourceSteadyBytes / source.Count) : 0).Order().ToArray();
        // The rate ratio, aligned on markers: between the first and the last marker a listener saw in the
        // steady window, its delivered byte rate (own body bytes / receive time) over the source's byte rate
        // (source stream bytes / send time) between the same two markers. Nothing is in flight at either
        // end, so no keyframe bias. With no lost bytes the byte counts cancel and the ratio is
        // (sent span) / (received span) = 1 - latency drift / window; bytes the server skipped (jumping a
        // late listener ahead) make the source span larger than the listener's and lower the ratio.
        // Listeners served to the end (connected, not dropped) that saw fewer than two markers in the
        // window have no ratio; they did not get the stream at rate, so they count as below 99%.
        var windowed = normal.Where(c => c.Connected && c.EndedAt == 0).Select(c => c.Window).ToArray();
        var aligned = windowed.Where(w => w.Count >= 2 && w.Last.Received > w.First.Received && w.Last.Sent > w.First.Sent)
            .Select(w => (
                Ratio: (w.Last.Own - w.First.Own) / (double)(w.Last.Received - w.First.Received)
                    / ((w.Last.Source - w.First.Source) / (double)(w.Last.Sent - w.First.Sent)),
                Lost: w.Last.Source - w.First.Source - (w.Last.Own - w.First.Own),
                DriftMs: (w.Last.Received - w.Last.Sent - (w.First.Received - w.First.Sent)) * 1000 / f))
            .ToArray();
        var noRatio = windowed.Length - aligned.Length;
        var ratios = aligned.Select(a => a.Ratio).Order().ToArray();
        var drifts = aligned.Select(a => a.DriftMs).Order().ToArray();
        var lost = aligned.Where(a => a.Lost != 0).Select(a => a.Lost).ToArray();
        // A gap still open at the end counts as a stall too.
        var stalled = normal.Where(c => c.Connected && (c.Stalls > 0 || (c.EndedAt == 0 && c.LastReceive != 0 && endTicks - c.LastReceive > f))).ToArray();
        var maxGapMs = normal.Where(c => c.Connected).Select(c => c.MaxGapTicks * 1000 / f).DefaultIfEmpty(0).Max();
        var sampled = normal.Where(c => c.Verifier is not null).ToArray();
        var framingBad = sampled.Where(c => c.Verifier!.Ok == false).ToArray();
        var framingUndecided = sampled.Count(c => c.Connected && c.Verifier!.Ok is null);
        var slowEvicted = slow.Where(c => c.EndedAt != 0).ToArray();
        var slowEvictSeconds = slowEvicted.Select(c => (c.EndedAt - c.ConnectStart) / f).Order().ToArray();

        var mount = MountOf(status)?.DeepClone();
        var deliveredGbps = normal.Where(c => c.SteadyStartBytes >= 0 && c.SteadyEndBytes >= 0).Sum(c => (double)(c.SteadyEndBytes - c.SteadyStartBytes))
            * 8 / steadySeconds / 1e9;
        if (toolCpuSteady > 1.6)
        {
            warnings.Add($"the load tool used {toolCpuSteady * 100:0}% CPU in the steady window: it may be the bottleneck");
        }
        if (machineBusyCores > cores * 0.9)
        {
            warnings.Add($"the machine was {machineBusyCores / cores * 100:0}% busy in the steady window ({machineBusyCores - serverCpuSteady - toolCpuSteady:0.00} cores outside server and tool): CPU-bound");
        }
        if (source.MaxLateMs > 100)
        {
            warnings.Add($"the source fell up to {source.MaxLateMs:0} ms behind its schedule (tool or machine saturated)");
        }
        if (framingBad.Length > 0)
        {
            warnings.Add($"framing check failed on {framingBad.Length}/{sampled.Length} sampled listeners: {framingBad[0].Verifier!.Failure}");
        }
        var dropReasons = new JsonObject();
        foreach (var g in dropped.GroupBy(c => c.EndReason ?? "?"))
        {
            dropReasons[g.Key] = g.Count();
        }

        static double R(double v, int digits = 1) => double.IsNaN(v) || double.IsInfinity(v) ? -1 : Math.Round(v, digits);
        return new JsonObject
        {
            ["label"] = Options.Label,
            ["url"] = Options.Url.ToString(),
            ["format"] = Options.Format.ToString().ToLowerInvariant(),
            ["listeners"] = Options.Listeners,
            ["normal_listeners"] = normal.Length,
            ["bitrate_bps"] = Options.BitsPerSecond,
            ["fps"] = Options.Fps,
            ["gop_s"] = Options.Gop.TotalSeconds,
            ["join_rate"] = Options.JoinRate,
            ["join_s"] = R(joinSeconds, 2),
            ["steady_s"] = R(steadySeconds, 2),
            ["run_s"] = R(runSeconds, 2),
            ["source_response"] = source.Response,
            ["source_frames"] = source.Frames,
            ["source_max_late_ms"] = R(source.MaxLateMs),
            ["stream_rate_bps"] = R(streamRate * 8, 0),
            ["connected"] = connected,
            ["served"] = served,
            ["refused"] = refused,
            ["no_response"] = noResponse,
            ["dropped"] = dropped.Length,
            ["drop_reasons"] = dropReasons,
            ["stalled_listeners"] = stalled.Length,
            ["max_gap_ms"] = R(maxGapMs),
            ["ttfb_p50_ms"] = R(Stats.Percentile(ttfb, 0.5)),
            ["ttfb_p99_ms"] = R(Stats.Percentile(ttfb, 0.99)),
            ["ttfb_max_ms"] = R(ttfb.DefaultIfEmpty(double.NaN).Max()),
            ["first_frame_p50_ms"] = R(Stats.Percentile(ttff, 0.5)),
            ["first_frame_p99_ms"] = R(Stats.Percentile(ttff, 0.99)),
            ["latency_samples"] = Latency.Count,
            ["latency_p50_ms"] = R(Latency.Percentile(0.5)),
            ["latency_p90_ms"] = R(Latency.Percentile(0.9)),
            ["latency_p99_ms"] = R(Latency.Percentile(0.99)),
            ["latency_max_ms"] = R(Latency.MaxMs),
            ["rate_ratio_listeners"] = ratios.Length,
            ["rate_ratio_missing"] = noRatio,
            ["rate_ratio_min"] = R(ratios.DefaultIfEmpty(double.NaN).First(), 4),
            ["rate_ratio_p1"] = R(Stats.Percentile(ratios, 0.01), 4),
            ["rate_ratio_p50"] = R(Stats.Percentile(ratios, 0.5), 4),
            ["rate_ratio_max"] = R(ratios.DefaultIfEmpty(double.NaN).Last(), 4),
            ["below_99pct_rate"] = ratios.Count(r => r < 0.99) + noRatio,
            ["latency_drift_p50_ms"] = R(Stats.Percentile(drifts, 0.5)),
            ["latency_drift_p99_ms"] = R(Stats.Percentile(drifts, 0.99)),
            ["latency_drift_max_ms"] = R(drifts.DefaultIfEmpty(double.NaN).Last()),
            ["listeners_with_lost_bytes"] = lost.Length,
            ["lost_bytes_max"] = lost.DefaultIfEmpty(0).Max(),
            ["bytes_window_ratio_p1"] = R(Stats.Percentile(bytesWindowRatios, 0.01), 4),
            ["bytes_window_ratio_p50"] = R(Stats.Percentile(bytesWindowRatios, 0.5), 4),
            ["framing_sampled"] = sampled.Length,
            ["framing_failed"] = framingBad.Length,
            ["framing_undecided"] = framingUndecided,
            ["framing_first_failure"] = framingBad.FirstOrDefault()?.Verifier!.Failure,
            ["slow_listeners"] = slowCount,
            ["slow_closed_seen_by_client"] = slowEvicted.Length,
            ["slow_server_first_eviction_s"] = R(_serverEvictionFirstS, 1),
            ["slow_server_all_evicted_s"] = R(_serverEvictionAllS, 1),
            ["slow_server_evictions_series"] = _evictionSeries,
            ["slow_client_saw_close_p50_s"] = R(Stats.Percentile(slowEvictSeconds, 0.5), 2),
            ["slow_client_saw_close_max_s"] = R(slowEvictSeconds.DefaultIfEmpty(double.NaN).Max(), 2),
            ["server_pid"] = Options.ServerPid,
            ["server_cpu_steady_pct"] = R(serverCpuSteady * 100),
            ["server_cpu_run_pct"] = R(serverCpuRun * 100),
            ["server_rss_peak_mb"] = R(serverRssMaxKb / 1024.0),
            ["server_vmhwm_mb"] = R(serverHwmKb / 1024.0),
            ["delivered_gbps"] = R(deliveredGbps, 4),
            ["server_cpu_pct_per_gbps"] = R(serverCpuSteady * 100 / deliveredGbps),
            ["tool_cpu_steady_pct"] = R(toolCpuSteady * 100),
            ["tool_cpu_run_pct"] = R(toolCpuRun * 100),
            ["tool_rss_peak_mb"] = R(toolRssMaxKb / 1024.0),
            ["machine_busy_cores_steady"] = R(machineBusyCores, 2),
            ["machine_irq_cores_steady"] = R(machineIrqCores, 2),
            ["machine_other_cores_steady"] = R(machineBusyCores - serverCpuSteady - toolCpuSteady, 2),
            ["other_processes_cores_steady"] = R(othersCores, 2),
            ["other_processes_top"] = others,
            ["server_mount_status"] = mount is null ? null : new JsonObject
            {
                ["listeners"] = mount["listeners"]?.DeepClone(),
                ["skips"] = mount["skips"]?.DeepClone(),
                ["evictions"] = mount["evictions"]?.DeepClone(),
                ["bytes_in"] = mount["bytes_in"]?.DeepClone(),
                ["bytes_out"] = mount["bytes_out"]?.DeepClone(),
            },
            ["listen_overflows"] = _listenOverflows,
            ["warnings"] = warnings,
        };
    }

    // TcpExt ListenOverflows over the whole run (machine-wide): connections the kernel dropped because an accept queue was full.
    private long _listenOverflows;

    private readonly JsonArray _evictionSeries = [];
    private double _serverEvictionFirstS = double.NaN;
    private double _serverEvictionAllS = double.NaN;

    private JsonNode? MountOf(JsonNode? status) =>
        status?["mounts"] is JsonArray mounts ? mounts.FirstOrDefault(m => (string?)m?["path"] == Options.Url.AbsolutePath) : null;

    private async Task<JsonNode?> FetchStatusAsync(HttpClient http)
    {
        try
        {
            var url = Options.StatusUrl ?? new Uri(Options.SourceUrl, "/status.json").ToString();
            var text = await http.GetStringAsync(url).ConfigureAwait(false);
            return JsonNode.Parse(text);
        }
        catch (Exception e) when (e is HttpRequestException or TaskCanceledException or JsonException or InvalidOperationException or FormatException)
        {
            return null;
        }
    }

    private static async Task DelayUntil(long ticks)
    {
        var wait = ticks - Stopwatch.GetTimestamp();
        if (wait > 0)
        {
            await Task.Delay(TimeSpan.FromTicks(wait * TimeSpan.TicksPerSecond / Stopwatch.Frequency)).ConfigureAwait(false);
        }
    }
}
