using System.Globalization;
using System.Text.RegularExpressions;
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
    public async Task Scrape_AttributesAreMountOrARefusalReason()
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
            // Bounded cardinality: the mount, or on refusals a reason from a fixed set (Http/AddressLimits.cs).
            var allowed = line.StartsWith("savate_connections_refused", StringComparison.Ordinal) ? "reason" : "mount";
            Assert.True(labels.All(name => name == allowed), $"only the {allowed} label: {line}");
        }
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
