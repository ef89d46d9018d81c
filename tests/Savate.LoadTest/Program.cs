using System.Globalization;
using System.Net;
using System.Text.Json;
using System.Text.Json.Nodes;
using Savate.LoadTest;

Options options;
try
{
    options = Options.Parse(args);
}
catch (ArgumentException e)
{
    Console.Error.WriteLine(e.Message);
    return 2;
}

// Loopback only: this tool opens thousands of connections and must never aim them at another host.
static IPEndPoint? Loopback(Uri url)
{
    var host = url.Host;
    var address = host == "localhost" ? IPAddress.Loopback : IPAddress.TryParse(host.Trim('[', ']'), out var parsed) ? parsed : null;
    return address is null || !IPAddress.IsLoopback(address) || address.AddressFamily != System.Net.Sockets.AddressFamily.InterNetwork
        ? null
        : new IPEndPoint(address, url.Port);
}
if (Loopback(options.Url) is not { } endpoint || Loopback(options.SourceUrl) is not { } sourceEndpoint)
{
    Console.Error.WriteLine($"refusing {options.Url} / {options.SourceUrl}: the load tool only targets IPv4 loopback (127.0.0.0/8 or localhost)");
    return 2;
}

if (options.Hls)
{
    var hls = await new HlsRun(options, sourceEndpoint).RunAsync();
    var line = hls.ToJsonString();
    Console.WriteLine(line);
    if (options.JsonOut is { } hlsOut)
    {
        File.WriteAllText(hlsOut, line + "\n");
    }
    return 0;
}

var limit = ProcStats.OpenFileLimit();
if (limit >= 0 && limit < options.Listeners + 64)
{
    Console.Error.WriteLine($"warning: open file limit is {limit}, below {options.Listeners} listeners + 64; run `ulimit -n 65536` first");
}
if (options.ServerPid is { } pid && !File.Exists($"/proc/{pid}/stat"))
{
    Console.Error.WriteLine($"warning: no process {pid}: server CPU and memory will not be measured");
}

ThreadPool.GetMinThreads(out var workers, out var io);
ThreadPool.SetMinThreads(Math.Max(workers, 8), io);

var run = new LoadRun(options, endpoint, sourceEndpoint);
var report = await run.RunAsync();
var json = report.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
Console.WriteLine(json);
if (options.JsonOut is { } path)
{
    File.WriteAllText(path, json + "\n");
}
PrintTable(report);
return 0;

static void PrintTable(JsonObject r)
{
    string V(string key) => r[key]?.ToJsonString() ?? "-";
    var rows = new (string Name, string Value)[]
    {
        ("listeners (normal/slow)", $"{V("normal_listeners")} / {V("slow_listeners")}"),
        ("connected / served / dropped", $"{V("connected")} / {V("served")} / {V("dropped")}"),
        ("refused / no response", $"{V("refused")} / {V("no_response")}"),
        ("stalled listeners (gap > 1 s)", $"{V("stalled_listeners")} (max gap {V("max_gap_ms")} ms)"),
        ("stream rate", $"{V("stream_rate_bps")} bit/s"),
        ("rate ratio min / p1 / p50", $"{V("rate_ratio_min")} / {V("rate_ratio_p1")} / {V("rate_ratio_p50")} ({V("below_99pct_rate")} below 0.99, {V("rate_ratio_missing")} without a ratio)"),
        ("latency drift p50 / p99 / max", $"{V("latency_drift_p50_ms")} / {V("latency_drift_p99_ms")} / {V("latency_drift_max_ms")} ms over the window"),
        ("lost bytes (listeners / max)", $"{V("listeners_with_lost_bytes")} / {V("lost_bytes_max")}"),
        ("byte-window ratio p1 / p50 (old)", $"{V("bytes_window_ratio_p1")} / {V("bytes_window_ratio_p50")}"),
        ("latency p50 / p99 / max", $"{V("latency_p50_ms")} / {V("latency_p99_ms")} / {V("latency_max_ms")} ms"),
        ("first byte p50 / p99", $"{V("ttfb_p50_ms")} / {V("ttfb_p99_ms")} ms"),
        ("first frame p50 / p99", $"{V("first_frame_p50_ms")} / {V("first_frame_p99_ms")} ms"),
        ("framing checked / failed", $"{V("framing_sampled")} / {V("framing_failed")}"),
        ("slow: server evicted first / all at", $"{V("slow_server_first_eviction_s")} / {V("slow_server_all_evicted_s")} s after the first join ({V("slow_listeners")} slow)"),
        ("slow: client saw close (n, p50/max)", $"{V("slow_closed_seen_by_client")} ({V("slow_client_saw_close_p50_s")} / {V("slow_client_saw_close_max_s")} s after its join)"),
        ("server CPU steady / run", $"{V("server_cpu_steady_pct")} / {V("server_cpu_run_pct")} % of one core"),
        ("server RSS peak / VmHWM", $"{V("server_rss_peak_mb")} / {V("server_vmhwm_mb")} MB"),
        ("server CPU per Gbit/s", $"{V("server_cpu_pct_per_gbps")} % ({V("delivered_gbps")} Gbit/s delivered)"),
        ("tool CPU steady / run", $"{V("tool_cpu_steady_pct")} / {V("tool_cpu_run_pct")} %"),
        ("machine busy / irq / other", $"{V("machine_busy_cores_steady")} / {V("machine_irq_cores_steady")} / {V("machine_other_cores_steady")} cores"),
        ("other processes (cores)", $"{V("other_processes_cores_steady")} {r["other_processes_top"]?.ToJsonString()}"),
        ("server status (mount)", r["server_mount_status"]?.ToJsonString() ?? "-"),
        ("accept-queue overflows (TcpExt)", V("listen_overflows")),
    };
    Console.WriteLine();
    foreach (var (name, value) in rows)
    {
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"  {name,-32} {value}"));
    }
    if (r["warnings"] is JsonArray { Count: > 0 } warnings)
    {
        foreach (var w in warnings)
        {
            Console.WriteLine($"  warning: {w}");
        }
    }
}
