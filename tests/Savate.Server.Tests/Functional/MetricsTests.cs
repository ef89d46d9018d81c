using System.Globalization;
using System.Text.RegularExpressions;
using Savate.Server.Streaming;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// Metrics share a process-wide meter name, so a scrape would also see the instruments of a server that
/// another test runs at the same time: these tests run alone.
/// </summary>
[CollectionDefinition(nameof(MetricsTests), DisableParallelization = true)]
public sealed class MetricsCollection;

/// <summary>The Prometheus scrape at /metrics, checked by promtool and against the real load.</summary>
[Collection(nameof(MetricsTests))]
public sealed partial class MetricsTests
{
    private const string Config = """
        server:
          source-password: change-me
        mounts:
          - path: /metrics-live.flv
            format: flv
          - path: /metrics-idle.ts
            format: mpegts
        """;

    [Fact]
    public async Task Scrape_WithListeners_PassesPromtoolAndFollowsTheLoad()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/metrics-live.flv")!;
        using var source = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/metrics-live.flv"));
        await Wait.UntilAsync(() => mount.Headers is not null, TimeSpan.FromSeconds(20), "the source's first keyframe");
        var curls = Enumerable.Range(0, 3)
            .Select(_ => RunningProcess.Start("curl", ["-sS", "-N", "-o", "/dev/null", server.Url("/metrics-live.flv").ToString()]))
            .ToList();
        try
        {
            await Wait.UntilAsync(() => mount.SnapshotListeners().Count(l => l.BytesSent > 0) == 3, TimeSpan.FromSeconds(20), "three listeners receiving");
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

            var first = await client.GetStringAsync(server.Url("/metrics"));
            await CheckWithPromtoolAsync(first);
            Assert.Equal(3, Value(first, "savate_mount_listeners", "/metrics-live.flv"));
            Assert.Equal(0, Value(first, "savate_mount_listeners", "/metrics-idle.ts"));
            Assert.Equal(3, Value(first, "savate_listeners", mount: null));
            Assert.Equal(1, Value(first, "savate_mount_source_connected", "/metrics-live.flv"));
            Assert.Contains("process_cpu_time", first);
            Assert.Contains("dotnet_gc_collections", first);

            var sentBefore = Value(first, "savate_mount_sent_bytes_total", "/metrics-live.flv");
            var receivedBefore = Value(first, "savate_mount_received_bytes_total", "/metrics-live.flv");
            await Wait.UntilAsync(() => mount.Stats.BytesIn > receivedBefore + 10_000, TimeSpan.FromSeconds(20), "more bytes in");
            // Observable counters are read at scrape time; the exporter caches a scrape for a moment, so poll.
            string second = first;
            await WaitAsync(async () =>
            {
                second = await client.GetStringAsync(server.Url("/metrics"));
                return Value(second, "savate_mount_sent_bytes_total", "/metrics-live.flv") > sentBefore;
            }, "bytes out to grow");
            Assert.True(Value(second, "savate_mount_received_bytes_total", "/metrics-live.flv") > receivedBefore);

            // One listener leaves: the gauge follows.
            await curls[0].StopAsync();
            await Wait.UntilAsync(() => mount.ListenerCount == 2, TimeSpan.FromSeconds(10), "the listener to leave");
            await WaitAsync(async () =>
            {
                var third = await client.GetStringAsync(server.Url("/metrics"));
                return Value(third, "savate_mount_listeners", "/metrics-live.flv") == 2;
            }, "the listeners gauge to show 2");
        }
        finally
        {
            foreach (var curl in curls)
            {
                curl.Dispose();
            }
        }
    }

    [Fact]
    public async Task Scrape_RefusalsEvictionSourceDropAndRelayState_CountedByReason()
    {
        await using var server = await TestServer.StartAsync("""
            server:
              source-password: change-me
              max-listeners: 1
              listener-send-buffer: 16KiB
            mounts:
              - path: /metrics-live.flv
                format: flv
                max-lag: 500ms
                evict-lag: 1s
              - path: /metrics-idle.ts
                format: mpegts
            relays:
              - mount: /metrics-relay.flv
                upstreams: ["http://127.0.0.1:1/nowhere.flv"]
                on-demand: false
            """);
        var mount = server.Registry.Find("/metrics-live.flv")!;
        var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/metrics-live.flv"));
        try
        {
            await LiveFanOutTests.WaitForMediaAsync(server, "/metrics-live.flv", mediaMs: 1000);
            using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

            // A listener that never reads takes the one slot, and is evicted.
            await using var stalled = await RawHttp.ConnectAsync(server.Port, receiveBuffer: 4096);
            await stalled.SendAsync("GET /metrics-live.flv HTTP/1.1\r\nHost: x\r\n\r\n");
            await Wait.UntilAsync(() => mount.ListenerCount == 1, TimeSpan.FromSeconds(10), "the stalled listener");
            // Meanwhile: the server is full (max-listeners), and a mount without a source refuses (no-source).
            using (var full = await client.GetAsync(server.Url("/metrics-live.flv"), HttpCompletionOption.ResponseHeadersRead))
            {
                Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, full.StatusCode);
            }
            await Wait.UntilAsync(() => mount.Stats.Evictions == 1, TimeSpan.FromSeconds(30), "the stalled listener to be evicted");
            using (var idle = await client.GetAsync(server.Url("/metrics-idle.ts"), HttpCompletionOption.ResponseHeadersRead))
            {
                Assert.Equal(System.Net.HttpStatusCode.ServiceUnavailable, idle.StatusCode);
            }
            // The source goes: one drop.
            push.Dispose();
            await Wait.UntilAsync(() => mount.Source is null, TimeSpan.FromSeconds(10), "the source to leave");

            var evictedFor = MountStats.EvictionReasons[Enumerable.Range(0, MountStats.EvictionReasons.Length).Single(i => mount.Stats.EvictionsFor((EvictionReason)i) == 1)];
            Assert.Contains(evictedFor, new[] { "evict-lag", "stuck" });
            string scrape = "";
            await WaitAsync(async () =>
            {
                scrape = await client.GetStringAsync(server.Url("/metrics"));
                return Value(scrape, "savate_mount_source_drops_total", "/metrics-live.flv", ("reason", null)) == 1;
            }, "the source drop in a scrape");
            await CheckWithPromtoolAsync(scrape);

            Assert.Equal(1, Value(scrape, "savate_mount_evictions_total", "/metrics-live.flv", ("reason", evictedFor)));
            Assert.Equal(1, Value(scrape, "savate_mount_evictions_total", "/metrics-live.flv", ("reason", null)));
            Assert.Equal(0, Value(scrape, "savate_mount_evictions_total", "/metrics-live.flv", ("reason", "lapped")));
            Assert.Equal(mount.Stats.Skips, Value(scrape, "savate_mount_skips_total", "/metrics-live.flv", ("reason", "max-lag")));
            Assert.Equal(1, Value(scrape, "savate_connections_refused_total", null, ("reason", "max-listeners")));
            Assert.Equal(1, Value(scrape, "savate_connections_refused_total", null, ("reason", "no-source")));
            Assert.Equal(0, Value(scrape, "savate_connections_refused_total", null, ("reason", "mount-full")));
            Assert.Equal(1, Value(scrape, "savate_mount_source_connections_total", "/metrics-live.flv"));
            var droppedFor = MountStats.SourceEndReasons[Enumerable.Range(0, MountStats.SourceEndReasons.Length).Single(i => mount.Stats.SourceEndsAt(i) == 1)];
            Assert.Equal(1, Value(scrape, "savate_mount_source_drops_total", "/metrics-live.flv", ("reason", droppedFor)));
            Assert.Equal(0, Value(scrape, "savate_mount_source_drops_total", "/metrics-live.flv", ("reason", "bad-data")));
            Assert.Equal(0, Value(scrape, "savate_listeners_redirected_total", null));
            // The send loops' stretch of the flush (process-wide: other tests' load may stretch it, within its bound).
            Assert.InRange(Value(scrape, "savate_send_flush_stretch", null), 1, 250.0 / 40);

            // The relay that can never connect: exactly one state at 1, and not streaming.
            Assert.Equal(1, Value(scrape, "savate_relay_state", "/metrics-relay.flv", ("state", null)));
            Assert.Equal(0, Value(scrape, "savate_relay_state", "/metrics-relay.flv", ("state", "streaming")));
            Assert.Equal(0, Value(scrape, "savate_relay_streaming", "/metrics-relay.flv"));
            Assert.Equal(0, Value(scrape, "savate_relay_reconnects_total", "/metrics-relay.flv"));
        }
        finally
        {
            push.Dispose();
        }
    }

    [Fact]
    public async Task Scrape_MovedListener_CountsOnItsDestination()
    {
        await using var server = await TestServer.StartAsync("""
            server:
              source-password: change-me
              admin-password: admin-secret
            mounts:
              - path: /metrics-a.flv
                format: flv
              - path: /metrics-b.flv
                format: flv
            """);
        var a = server.Registry.Find("/metrics-a.flv")!;
        var b = server.Registry.Find("/metrics-b.flv")!;
        using var sourceA = Ffmpeg.PushFlvChunkedPost(server.SourceUrl(a.Path));
        using var sourceB = Ffmpeg.PushFlvChunkedPost(server.SourceUrl(b.Path));
        await Wait.UntilAsync(() => a.Headers is not null && b.Headers is not null, TimeSpan.FromSeconds(20), "both sources' first keyframes");
        using var curl = RunningProcess.Start("curl", ["-sS", "-N", "-o", "/dev/null", server.Url(a.Path).ToString()]);
        await Wait.UntilAsync(() => a.SnapshotListeners().Any(l => l.BytesSent > 0), TimeSpan.FromSeconds(20), "the listener on " + a.Path);

        using var client = new HttpClient { BaseAddress = server.BaseUri, Timeout = TimeSpan.FromSeconds(30) };
        client.DefaultRequestHeaders.Authorization = new("Basic", Convert.ToBase64String("admin:admin-secret"u8.ToArray()));
        using var moved = await client.PostAsync($"/admin/move?mount={a.Path}&destination={b.Path}", null);
        Assert.Equal(System.Net.HttpStatusCode.OK, moved.StatusCode);
        await Wait.UntilAsync(() => a.ListenerCount == 0, TimeSpan.FromSeconds(10), "the listener to leave " + a.Path);

        await WaitAsync(async () =>
        {
            var scrape = await client.GetStringAsync("/metrics");
            return Value(scrape, "savate_mount_listeners", b.Path) == 1 && Value(scrape, "savate_mount_listeners", a.Path) == 0;
        }, "the moved listener on its destination's gauge");
        Assert.Equal(1, Value(await client.GetStringAsync("/metrics"), "savate_listeners", mount: null));
    }

    [Fact]
    public async Task Scrape_AttributesAreMountReasonAndStateOnly()
    {
        await using var server = await TestServer.StartAsync(Config);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };
        var text = await client.GetStringAsync(server.Url("/metrics"));
        var savateLines = text.Split('\n').Where(l => l.StartsWith("savate_", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(savateLines);
        foreach (var line in savateLines)
        {
            var labels = LabelNames().Matches(line).Select(m => m.Groups[1].Value)
                .Where(name => name is not ("otel_scope_name" or "otel_scope_version" or "otel_scope_schema_url"))
                .ToList();
            Assert.True(labels.All(name => name is "mount" or "reason" or "state"), $"only the mount, reason and state labels: {line}");
        }
    }

    [Fact]
    public async Task Scrape_MoreMountsThanAGlobalMetricsSeries_EveryMountHasItsOwn()
    {
        // Global and runtime metrics are allocated 64 series (Hosting/Operations.CardinalityLimitOf), a mount's metrics
        // the SDK's 2,000: 100 mounts are all there, none folded into the overflow series.
        var config = "server:\n  source-password: change-me\nmounts:\n"
            + string.Concat(Enumerable.Range(0, 100).Select(i => $"  - path: /many-{i}.flv\n    format: flv\n"));
        await using var server = await TestServer.StartAsync(config);
        using var client = new HttpClient { Timeout = TimeSpan.FromSeconds(30) };

        var scrape = await client.GetStringAsync(server.Url("/metrics"));

        await CheckWithPromtoolAsync(scrape);
        for (var i = 0; i < 100; i++)
        {
            Assert.Equal(0, Value(scrape, "savate_mount_listeners", $"/many-{i}.flv"));
        }
        Assert.DoesNotContain("otel_metric_overflow", scrape, StringComparison.Ordinal);
        Assert.Equal(0, Value(scrape, "savate_listeners", mount: null));
    }

    private static async Task CheckWithPromtoolAsync(string scrape)
    {
        var file = Path.Combine(Path.GetTempPath(), $"savate-scrape-{Guid.NewGuid():N}.txt");
        await File.WriteAllTextAsync(file, scrape);
        try
        {
            // promtool reads the exposition from stdin.
            var (exit, stdout, stderr) = await RunningProcess.RunAsync("sh", ["-c", $"promtool check metrics < '{file}'"], TimeSpan.FromSeconds(60));
            Assert.True(exit == 0, $"promtool check metrics failed ({exit}): {stdout} {stderr}");
        }
        finally
        {
            File.Delete(file);
        }
    }

    private static async Task WaitAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException("Timed out waiting for " + what);
            }
            await Task.Delay(250);
        }
    }

    /// <summary>
    /// The value of a sample: <paramref name="name"/> with mount="<paramref name="mount"/>" (or no mount label) and
    /// <paramref name="label"/>'s value; a label with a null value sums the samples over that label's values.
    /// </summary>
    private static double Value(string scrape, string name, string? mount, (string Name, string? Value) label)
    {
        double sum = 0;
        var found = false;
        foreach (var line in scrape.Split('\n'))
        {
            if (!line.StartsWith(name + "{", StringComparison.Ordinal)
                || (mount is null ? line.Contains("mount=\"", StringComparison.Ordinal) : !line.Contains($"mount=\"{mount}\"", StringComparison.Ordinal))
                || !line.Contains(label.Value is null ? $"{label.Name}=\"" : $"{label.Name}=\"{label.Value}\"", StringComparison.Ordinal))
            {
                continue;
            }
            found = true;
            sum += double.Parse(line[(line.LastIndexOf('}') + 1)..].Trim().Split(' ')[0], CultureInfo.InvariantCulture);
        }
        return found ? sum : throw new Xunit.Sdk.XunitException($"No sample {name} for mount {mount ?? "(none)"} and {label.Name}={label.Value ?? "*"} in:\n{scrape}");
    }

    /// <summary>The value of a sample: <paramref name="name"/> with mount="<paramref name="mount"/>" (or no mount label).</summary>
    private static double Value(string scrape, string name, string? mount)
    {
        foreach (var line in scrape.Split('\n'))
        {
            if (!line.StartsWith(name, StringComparison.Ordinal) || line.Length <= name.Length || line[name.Length] is not ('{' or ' '))
            {
                continue;
            }
            var hasMount = line.Contains("mount=\"", StringComparison.Ordinal);
            if (mount is null ? hasMount : !line.Contains($"mount=\"{mount}\"", StringComparison.Ordinal))
            {
                continue;
            }
            // "name{labels} value [timestamp]": the value follows the closing brace.
            var valueText = line[(line.LastIndexOf('}') is var brace and >= 0 ? brace + 1 : name.Length)..].Trim().Split(' ')[0];
            return double.Parse(valueText, CultureInfo.InvariantCulture);
        }
        throw new Xunit.Sdk.XunitException($"No sample {name} for mount {mount ?? "(none)"} in:\n{scrape}");
    }

    [GeneratedRegex("[{,]([a-zA-Z_][a-zA-Z0-9_]*)=\"")]
    private static partial Regex LabelNames();
}
