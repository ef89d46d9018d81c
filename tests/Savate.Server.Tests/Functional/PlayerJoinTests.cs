using System.Globalization;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>What third-party players see when they join a live mount mid-stream (issue 12, points 1 and 2).</summary>
public sealed class PlayerJoinTests
{
    [Fact]
    public async Task FlvJoin_FfprobeMidStream_ListsExactlyVideoAndAudio()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 3000);

        var probe = await RunningProcess.RunAsync("ffprobe",
            ["-v", "error", "-rw_timeout", "10000000", "-show_entries", "stream=codec_type", "-of", "csv=p=0", server.Url("/live.flv").ToString()],
            TimeSpan.FromSeconds(60));

        Assert.True(probe.ExitCode == 0, $"ffprobe exit {probe.ExitCode}: {probe.Stderr}");
        var streams = probe.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(["video", "audio"], streams);
    }

    [Fact]
    public async Task FlvJoin_FfmpegRecordingWithDuration_EndsOnTime()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        using var push = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.flv", mediaMs: 3000);
        var recording = Path.Combine(Path.GetTempPath(), $"savate-rec-{Guid.NewGuid():N}.mkv");
        try
        {
            // Live input at 1x: 4 s of media takes about 4 s; the bug made this run until killed.
            var started = DateTime.UtcNow;
            var record = await RunningProcess.RunAsync("ffmpeg",
                ["-hide_banner", "-nostdin", "-v", "error", "-rw_timeout", "10000000", "-i", server.Url("/live.flv").ToString(),
                 "-t", "4", "-c", "copy", "-y", recording],
                TimeSpan.FromSeconds(45));
            var elapsed = DateTime.UtcNow - started;

            Assert.True(record.ExitCode == 0, $"ffmpeg exit {record.ExitCode} after {elapsed.TotalSeconds:F1} s: {record.Stderr}");
            var probe = await RunningProcess.RunAsync("ffprobe",
                ["-v", "error", "-show_entries", "format=duration:stream=codec_type", "-of", "default=nw=1:nk=1", recording],
                TimeSpan.FromSeconds(30));
            var lines = probe.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            Assert.Equal(["video", "audio"], lines[..^1]);
            var duration = double.Parse(lines[^1], CultureInfo.InvariantCulture);
            Assert.InRange(duration, 3.5, 4.5);
        }
        finally
        {
            File.Delete(recording);
        }
    }

    [Fact]
    public async Task TsJoin_CaptureMidStream_NoContinuityJumpOnAnyPid()
    {
        await using var server = await TestServer.StartAsync(LiveFanOutTests.Config);
        using var push = Ffmpeg.PushTsPut(server.SourceUrl("/live.ts"));
        await LiveFanOutTests.WaitForMediaAsync(server, "/live.ts", mediaMs: 3000);

        // Several joins, each at whatever keyframe is newest then: each capture spans many of the source's PAT/PMT.
        for (var join = 0; join < 3; join++)
        {
            await using var client = await RawHttp.ConnectAsync(server.Port);
            await client.SendAsync("GET /live.ts HTTP/1.1\r\nHost: savate\r\n\r\n");
            var (head, body) = await client.ReadHeadAsync(TimeSpan.FromSeconds(20));
            Assert.StartsWith("HTTP/1.1 200", head, StringComparison.Ordinal);
            var rest = await client.ReadAsync(150 * 188, TimeSpan.FromSeconds(30));
            var capture = body.Concat(rest).ToArray();

            var report = ContinuityChecker.Check(capture);

            Assert.True(report.Packets >= 150, $"join {join}: only {report.Packets} packets");
            Assert.Contains(0, report.PacketsPerPid.Keys);
            Assert.True(report.PacketsPerPid[0] >= 2, $"join {join}: the capture holds the join PAT and at least one of the source's");
            Assert.True(report.Jumps.Count == 0, $"join {join}: " + string.Join("; ", report.Jumps));
        }
    }
}

/// <summary>Continuity counters per PID as a decoder checks them (ISO/IEC 13818-1, 2.4.3.3).</summary>
internal static class ContinuityChecker
{
    public sealed record Report(int Packets, Dictionary<int, int> PacketsPerPid, List<string> Jumps);

    public static Report Check(ReadOnlySpan<byte> capture)
    {
        const int Size = 188;
        var last = new Dictionary<int, int>();
        var perPid = new Dictionary<int, int>();
        var jumps = new List<string>();
        var packets = 0;
        for (var offset = 0; offset + Size <= capture.Length; offset += Size, packets++)
        {
            var packet = capture.Slice(offset, Size);
            if (packet[0] != 0x47)
            {
                jumps.Add($"no sync byte at {offset}");
                break;
            }
            var pid = ((packet[1] & 0x1F) << 8) | packet[2];
            if (pid == 0x1FFF)
            {
                continue;
            }
            perPid[pid] = perPid.GetValueOrDefault(pid) + 1;
            var control = (packet[3] >> 4) & 0x3;
            var hasPayload = (control & 1) != 0;
            var cc = packet[3] & 0x0F;
            var discontinuity = (control & 2) != 0 && packet[4] > 0 && (packet[5] & 0x80) != 0;
            if (last.TryGetValue(pid, out var previous) && !discontinuity)
            {
                var expected = hasPayload ? (previous + 1) & 0x0F : previous;
                // A payload packet may be sent twice with the same counter (a duplicate).
                if (cc != expected && !(hasPayload && cc == previous))
                {
                    jumps.Add($"PID {pid} packet {packets}: counter {cc} after {previous}");
                }
            }
            last[pid] = cc;
        }
        return new Report(packets, perPid, jumps);
    }
}
