using System.Buffers;
using System.Net;
using System.Net.Http.Headers;
using Savate.Mpegts;
using Savate.Server.Hls;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Hls;

/// <summary>HLS from the real server, read by ffmpeg and plain HTTP: playlists, segments, headers, on-demand segmenting.</summary>
public sealed class HlsTests
{
    internal const string Config = """
        server:
          source-password: change-me
        mounts:
          - path: /live.flv
            format: flv
            grace: 500ms
            fallback:
              - file: samples/offline.flv
          - path: /live.ts
            format: mpegts
            grace: 500ms
            fallback:
              - file: samples/offline.ts
          - path: /demo.flv
            format: flv
            fallback:
              - file: samples/sample.flv
          - path: /demo.ts
            format: mpegts
            fallback:
              - file: samples/sample.ts
          - path: /nohls.flv
            format: flv
            fallback:
              - file: samples/sample.flv
            hls:
              enabled: false
          - path: /idle.flv
            format: flv
            fallback:
              - file: samples/sample.flv
            hls:
              segment-duration: 1s
              window: 3
              idle-timeout: 2s
        """;

    private static readonly HttpClient s_http = new() { Timeout = TimeSpan.FromSeconds(30) };

    internal static async Task<MediaPlaylist> GetPlaylistAsync(TestServer server, string mount) =>
        MediaPlaylist.Parse(await s_http.GetStringAsync(server.Url($"{mount}/index.m3u8")));

    internal static async Task<MediaPlaylist> WaitForSegmentsAsync(TestServer server, string mount, int count)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var playlist = await GetPlaylistAsync(server, mount);
            if (playlist.Segments.Count >= count)
            {
                return playlist;
            }
            if (DateTime.UtcNow > deadline)
            {
                throw new TimeoutException($"{mount}: {playlist.Segments.Count} segments after 60 s, wanted {count}");
            }
            await Task.Delay(250);
        }
    }

    [Theory]
    [InlineData("/live.flv")]
    [InlineData("/live.ts")]
    public async Task Playlist_FfmpegAcrossFallbackSwitches_DecodesWithoutErrorsAndSequenceContinuous(string path)
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find(path)!;
        Assert.StartsWith("fallback file", mount.Playing);
        await WaitForSegmentsAsync(server, path, 1);

        // A player's view of the playlist, reloaded every half second for the whole run.
        using var stopPolling = new CancellationTokenSource();
        var playlists = new List<MediaPlaylist>();
        var polling = Task.Run(async () =>
        {
            while (!stopPolling.IsCancellationRequested)
            {
                playlists.Add(await GetPlaylistAsync(server, path));
                await Task.Delay(500);
            }
        });

        var decode = Ffmpeg.DecodeAsync(server.Url($"{path}/index.m3u8").ToString(), seconds: 20, timeout: TimeSpan.FromSeconds(90));
        await Task.Delay(3000);
        var switches = mount.Switches;
        using (var push = path.EndsWith(".ts", StringComparison.Ordinal) ? Ffmpeg.PushTsPut(server.SourceUrl(path)) : Ffmpeg.PushFlvChunkedPost(server.SourceUrl(path)))
        {
            await Wait.UntilAsync(() => mount.Playing == "live", TimeSpan.FromSeconds(15), "the live source to take over");
            await Task.Delay(7000);
            await push.StopAsync();
        }
        await Wait.UntilAsync(() => mount.Playing.StartsWith("fallback file", StringComparison.Ordinal), TimeSpan.FromSeconds(10), "the fallback after grace");
        var result = await decode;
        await stopPolling.CancelAsync();
        await polling;

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(string.IsNullOrWhiteSpace(result.Errors), "decoder errors: " + result.Errors);
        Assert.True(result.VideoFrames >= 20 * 25 * 0.8, result.ToString());
        Assert.True(result.FramesPerStream.GetValueOrDefault(1) > 0, result.ToString());
        Assert.True(mount.Switches >= switches + 2, $"{mount.Switches - switches} switches");

        AssertConsistent(playlists);
        // The live test pattern is 320x240 and the slate 640x360: both switches change the codec configuration.
        var segments = playlists.SelectMany(p => p.Segments).DistinctBy(s => s.Sequence).ToList();
        Assert.True(segments.Count(s => s.Discontinuity) >= 2, string.Join("\n", playlists.Last().Text));
    }

    /// <summary>What a player relies on across reloads of one playlist.</summary>
    internal static void AssertConsistent(IReadOnlyList<MediaPlaylist> playlists)
    {
        Assert.NotEmpty(playlists);
        var target = playlists[0].TargetDuration;
        var names = new Dictionary<long, PlaylistSegment>();
        for (var i = 0; i < playlists.Count; i++)
        {
            var playlist = playlists[i];
            Assert.Equal(target, playlist.TargetDuration);
            Assert.NotEmpty(playlist.Segments);
            Assert.All(playlist.Segments, s => Assert.True(Math.Round(s.Duration, MidpointRounding.AwayFromZero) <= target,
                $"EXTINF {s.Duration} above TARGETDURATION {target} (RFC 8216 4.3.3.1)"));
            foreach (var segment in playlist.Segments)
            {
                // A sequence number always names the same segment.
                Assert.Equal(names.TryAdd(segment.Sequence, segment) ? segment : names[segment.Sequence], segment);
            }
            if (i > 0)
            {
                var previous = playlists[i - 1];
                Assert.True(playlist.MediaSequence >= previous.MediaSequence, $"media sequence went back: {previous.MediaSequence} then {playlist.MediaSequence}");
                // EXT-X-DISCONTINUITY-SEQUENCE counts the discontinuities that left the window (RFC 8216 6.2.2).
                var left = previous.Segments.Where(s => s.Sequence < playlist.MediaSequence).Count(s => s.Discontinuity);
                if (previous.Segments[^1].Sequence >= playlist.MediaSequence)
                {
                    Assert.Equal(previous.DiscontinuitySequence + left, playlist.DiscontinuitySequence);
                }
            }
        }
        // No gap: every sequence between the first and the last was listed by some reload.
        var sequences = names.Keys.Order().ToList();
        Assert.Equal(Enumerable.Range(0, sequences.Count).Select(i => sequences[0] + i), sequences);
    }

    [Theory]
    [InlineData("/demo.flv")]
    [InlineData("/demo.ts")]
    public async Task Segments_EachStartsWithPatPmtAndKeyframe_AndDecodesAlone(string path)
    {
        await using var server = await TestServer.StartAsync(Config);
        var playlist = await WaitForSegmentsAsync(server, path, 3);
        foreach (var segment in playlist.Segments)
        {
            var data = await s_http.GetByteArrayAsync(server.Url($"{path}/{segment.Uri}"));
            Assert.Equal(0, data.Length % 188);
            var demuxer = new TsDemuxer();
            var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(data));
            var packets = new List<(TsPacketInfo Info, byte[] Bytes)>();
            while (demuxer.TryRead(ref reader, out var packet))
            {
                packets.Add((packet, packet.Bytes.ToArray()));
            }
            Assert.Equal(TsPacketKind.Pat, packets[0].Info.Kind);
            Assert.Equal(TsPacketKind.Pmt, packets[1].Info.Kind);
            var first = packets[2];
            Assert.Equal(TsPacketKind.Video, first.Info.Kind);
            Assert.True(first.Info.IsRandomAccess, $"segment {segment.Sequence} does not start on a keyframe");
            Assert.True(first.Info.Header.HasAdaptationField && (first.Bytes[5] & 0x40) != 0, $"segment {segment.Sequence}: no random_access_indicator");
            // Continuity counters run on within the segment on every PID.
            foreach (var pid in packets.GroupBy(p => p.Info.Header.Pid))
            {
                var counters = pid.Where(p => p.Info.Header.HasPayload).Select(p => p.Bytes[3] & 0x0F).ToList();
                for (var i = 1; i < counters.Count; i++)
                {
                    Assert.Equal((counters[i - 1] + 1) & 0x0F, counters[i]);
                }
            }

            var file = Path.Combine(Path.GetTempPath(), $"savate-hls-{Guid.NewGuid():N}.ts");
            await File.WriteAllBytesAsync(file, data);
            try
            {
                var decode = await RunningProcess.RunAsync("ffmpeg", ["-hide_banner", "-nostdin", "-v", "error", "-i", file, "-f", "null", "-"], TimeSpan.FromSeconds(60));
                Assert.True(decode.ExitCode == 0 && string.IsNullOrWhiteSpace(decode.Stderr), $"segment {segment.Sequence}: {decode.Stderr}");
            }
            finally
            {
                File.Delete(file);
            }
        }
    }

    [Theory]
    [InlineData("/demo.flv")]
    [InlineData("/demo.ts")]
    public async Task Multivariant_CodecsAndResolutionFromSps(string path)
    {
        await using var server = await TestServer.StartAsync(Config);
        await WaitForSegmentsAsync(server, path, 1);
        using var response = await s_http.GetAsync(server.Url($"{path}/master.m3u8"));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(HlsEndpoints.PlaylistContentType, response.Content.Headers.ContentType?.MediaType);
        var text = await response.Content.ReadAsStringAsync();
        Assert.Contains("CODECS=\"avc1.4d401e,mp4a.40.2\"", text);
        Assert.Contains("RESOLUTION=640x360", text);
        Assert.Contains("\nindex.m3u8\n", text);
    }

    [Fact]
    public async Task Http_PlaylistAndSegment_CacheHeadersCorsHeadAndRange()
    {
        await using var server = await TestServer.StartAsync(Config);
        var playlist = await WaitForSegmentsAsync(server, "/demo.flv", 2);

        using (var response = await s_http.GetAsync(server.Url("/demo.flv/index.m3u8")))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("application/vnd.apple.mpegurl", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            var cache = response.Headers.CacheControl!;
            Assert.True(cache.Public);
            Assert.True(cache.MaxAge!.Value.TotalSeconds * 2 <= playlist.TargetDuration, $"playlist max-age {cache.MaxAge} above half the target duration");
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }

        var url = server.Url($"/demo.flv/{playlist.Segments[0].Uri}");
        var whole = await s_http.GetByteArrayAsync(url);
        using (var response = await s_http.GetAsync(url))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            Assert.Equal("video/mp2t", response.Content.Headers.ContentType?.MediaType);
            Assert.Equal("public, max-age=3600, immutable", string.Join(", ", response.Headers.GetValues("Cache-Control")));
            Assert.Equal("*", response.Headers.GetValues("Access-Control-Allow-Origin").Single());
            Assert.Equal("bytes", response.Headers.AcceptRanges.Single());
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
        using (var head = await s_http.SendAsync(new HttpRequestMessage(HttpMethod.Head, url)))
        {
            Assert.Equal(HttpStatusCode.OK, head.StatusCode);
            Assert.Equal(whole.Length, head.Content.Headers.ContentLength);
            Assert.Empty(await head.Content.ReadAsByteArrayAsync());
        }
        foreach (var (from, to, expectedOffset, expectedLength) in new (long?, long?, int, int)[] { (0, 187, 0, 188), (188, null, 188, whole.Length - 188), (null, 188, whole.Length - 188, 188) })
        {
            var request = new HttpRequestMessage(HttpMethod.Get, url);
            request.Headers.Range = new RangeHeaderValue(from, to);
            using var partial = await s_http.SendAsync(request);
            Assert.Equal(HttpStatusCode.PartialContent, partial.StatusCode);
            Assert.Equal(whole.Length, partial.Content.Headers.ContentRange!.Length);
            Assert.Equal(whole.AsSpan(expectedOffset, expectedLength).ToArray(), await partial.Content.ReadAsByteArrayAsync());
        }
        var outside = new HttpRequestMessage(HttpMethod.Get, url);
        outside.Headers.Range = new RangeHeaderValue(whole.Length + 10, null);
        using (var unsatisfiable = await s_http.SendAsync(outside))
        {
            Assert.Equal(HttpStatusCode.RequestedRangeNotSatisfiable, unsatisfiable.StatusCode);
            Assert.Equal(whole.Length, unsatisfiable.Content.Headers.ContentRange!.Length);
        }

        // Unknown segments, other runs' names and mounts without HLS are 404s.
        var hls = server.GetService<HlsService>();
        foreach (var missing in new[] { $"/demo.flv/{hls.RunId}-999999.ts", "/demo.flv/00000000-0.ts", "/nohls.flv/index.m3u8", "/nothere.flv/index.m3u8" })
        {
            using var response = await s_http.GetAsync(server.Url(missing));
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        }
    }

    [Fact]
    public async Task Always_WithoutAnyRequest_SegmentsWhileTheMountPlays()
    {
        await using var server = await TestServer.StartAsync("""
            mounts:
              - path: /always.ts
                format: mpegts
                fallback:
                  - file: samples/sample.ts
                hls:
                  always: true
                  idle-timeout: 1s
            """);
        var hls = server.GetService<HlsService>();
        await Wait.UntilAsync(() => hls.Find("/always.ts")?.Playlist.Count >= 2, TimeSpan.FromSeconds(30), "segments with no HLS request");
        // Past idle-timeout with no request, it keeps going.
        var count = hls.Find("/always.ts")!.Playlist.NextSequence;
        await Wait.UntilAsync(() => hls.Find("/always.ts")!.Playlist.NextSequence >= count + 2, TimeSpan.FromSeconds(30), "more segments after idle-timeout");
        Assert.Equal(1, server.Registry.Find("/always.ts")!.ListenerCount);
    }

    [Fact]
    public async Task OnDemandRelay_FirstPlaylistRequest_PullsTheUpstreamAndSegments()
    {
        await using var master = await TestServer.StartAsync(Config);
        await using var slave = await TestServer.StartAsync($$"""
            relays:
              - mount: /relayed.flv
                upstreams: ["http://127.0.0.1:{{master.Port}}/demo.flv"]
                on-demand: true
                idle-timeout: 1s
            """);
        var upstream = master.Registry.Find("/demo.flv")!;
        Assert.Equal(0, upstream.ListenerCount);

        // Nobody listens on the slave: only the HLS request makes the relay pull (its format unknown until then).
        var playlist = await WaitForSegmentsAsync(slave, "/relayed.flv", 2);
        Assert.Equal(1, upstream.ListenerCount);
        var data = await s_http.GetByteArrayAsync(slave.Url($"/relayed.flv/{playlist.Segments[0].Uri}"));
        Assert.Equal(0x47, data[0]);
        Assert.Contains("CODECS=\"avc1.4d401e,mp4a.40.2\"", await s_http.GetStringAsync(slave.Url("/relayed.flv/master.m3u8")));
    }

    [Fact]
    public async Task OnDemand_IdleTimeout_StopsSegmentingAndResumesWithHigherSequence()
    {
        await using var server = await TestServer.StartAsync(Config);
        var mount = server.Registry.Find("/idle.flv")!;
        Assert.Equal(0, mount.ListenerCount);
        var before = await WaitForSegmentsAsync(server, "/idle.flv", 2);
        Assert.Equal(1, mount.ListenerCount); // the segmenter is the mount's one listener

        // No request for idle-timeout (2 s): segmenting stops, the segments stay.
        await Wait.UntilAsync(() => mount.ListenerCount == 0, TimeSpan.FromSeconds(20), "the segmenter to stop after idle-timeout");
        var hls = server.GetService<HlsService>();
        var last = hls.Find("/idle.flv")!.Playlist.NextSequence - 1;
        Assert.NotNull(hls.Find("/idle.flv")!.Playlist.Find(last));

        // A new request starts it again: the media sequence goes on, and the new run starts with a discontinuity.
        await Task.Delay(1500);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        MediaPlaylist after;
        do
        {
            after = await GetPlaylistAsync(server, "/idle.flv");
            await Task.Delay(250);
        }
        while (after.Segments[^1].Sequence <= last && DateTime.UtcNow < deadline);
        var resumed = after.Segments.Single(s => s.Sequence == last + 1);
        Assert.True(resumed.Discontinuity);
        Assert.True(after.MediaSequence >= before.MediaSequence);
        Assert.Equal(1, mount.ListenerCount);
    }
}
