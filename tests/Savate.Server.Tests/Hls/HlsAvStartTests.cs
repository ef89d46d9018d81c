using System.Globalization;
using Savate.Server.Tests.Infrastructure;
using Xunit;
using Xunit.Abstractions;

namespace Savate.Server.Tests.Hls;

/// <summary>
/// Each segment starts its audio with its video (issue 15): ffprobe's start_time of the audio and video streams of
/// consecutive segments, from mounts ffmpeg pushes (its TS muxer interleaves audio late, several frames per PES)
/// and from file fallbacks.
/// </summary>
public sealed class HlsAvStartTests(ITestOutputHelper output)
{
    // One AAC frame at 44.1 kHz is 23.2 ms; the audio of a segment starts at the first frame at or after its video.
    private const double Tolerance = 0.03;

    private static async Task<(double Video, double Audio)> ProbeStartsAsync(string url)
    {
        var probe = await RunningProcess.RunAsync("ffprobe",
            ["-v", "error", "-rw_timeout", "10000000", "-show_entries", "stream=codec_type,start_time", "-of", "csv=p=0", url], TimeSpan.FromSeconds(60));
        Assert.True(probe.ExitCode == 0, probe.Stderr);
        var starts = probe.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
            .Select(line => line.Split(','))
            .DistinctBy(f => f[0])
            .ToDictionary(f => f[0], f => double.Parse(f[1], CultureInfo.InvariantCulture));
        return (starts["video"], starts["audio"]);
    }

    private async Task AssertSegmentsStartTogetherAsync(TestServer server, string path, long from, int count)
    {
        await HlsTests.WaitForSegmentsAsync(server, path, 1);
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        MediaPlaylist playlist;
        while ((playlist = await HlsTests.GetPlaylistAsync(server, path)).Segments[^1].Sequence < from + count - 1)
        {
            Assert.True(DateTime.UtcNow < deadline, $"{path}: no segment {from + count - 1} after 60 s");
            await Task.Delay(250);
        }
        var offsets = new List<string>();
        foreach (var segment in playlist.Segments.Where(s => s.Sequence >= from && s.Sequence < from + count))
        {
            var (video, audio) = await ProbeStartsAsync(server.Url($"{path}/{segment.Uri}").ToString());
            offsets.Add($"{segment.Sequence}: video {video:0.000} audio {audio:0.000} ({(audio - video) * 1000:+0.0;-0.0} ms)");
            Assert.True(Math.Abs(audio - video) <= Tolerance, $"{path} segment {segment.Sequence}: video starts at {video}, audio at {audio}");
        }
        output.WriteLine($"{path}:\n  {string.Join("\n  ", offsets)}");
        Assert.Equal(count, offsets.Count);
    }

    [Theory]
    [InlineData("/live.flv")]
    [InlineData("/live.ts")]
    public async Task Segments_FfmpegPushedMount_AudioAndVideoStartWithinAFrame(string path)
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        var mount = server.Registry.Find(path)!;
        await HlsTests.WaitForSegmentsAsync(server, path, 1);
        using var push = path.EndsWith(".ts", StringComparison.Ordinal) ? Ffmpeg.PushTsPut(server.SourceUrl(path)) : Ffmpeg.PushFlvChunkedPost(server.SourceUrl(path));
        await Wait.UntilAsync(() => mount.Playing == "live", TimeSpan.FromSeconds(15), "the live source to take over");
        // The segments cut from then on, the one with the switch included.
        var from = (await HlsTests.GetPlaylistAsync(server, path)).Segments[^1].Sequence + 1;
        await AssertSegmentsStartTogetherAsync(server, path, from, count: 5);
        Assert.Equal("live", mount.Playing);
        await push.StopAsync();
    }

    [Theory]
    [InlineData("/demo.flv")]
    [InlineData("/demo.ts")]
    public async Task Segments_FileFallback_AudioAndVideoStartWithinAFrame(string path)
    {
        await using var server = await TestServer.StartAsync(HlsTests.Config);
        var first = (await HlsTests.WaitForSegmentsAsync(server, path, 1)).Segments[0].Sequence;
        await AssertSegmentsStartTogetherAsync(server, path, first, count: 5);
    }
}
