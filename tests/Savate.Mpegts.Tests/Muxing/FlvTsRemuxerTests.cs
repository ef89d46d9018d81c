using System.Buffers;
using System.Diagnostics;
using Savate.Flv;
using Savate.Mpegts.Muxing;
using Savate.Mpegts.Tests.TestSupport;

namespace Savate.Mpegts.Tests.Muxing;

public class FlvTsRemuxerTests
{
    /// <summary>samples/sample.flv remuxed whole: PAT + PMT first, then every tag.</summary>
    private static (byte[] Ts, FlvTsRemuxer Remuxer, int Keyframes) RemuxSample()
    {
        var flv = Demux.Fixture("sample.flv");
        var remuxer = new FlvTsRemuxer();
        var output = new ArrayBufferWriter<byte>();
        var reader = new SequenceReader<byte>(new ReadOnlySequence<byte>(flv));
        var flvReader = new FlvReader(null);
        var tablesWritten = false;
        var keyframes = 0;
        while (flvReader.TryReadTag(ref reader, out var tag))
        {
            var data = tag.Data.ToArray();
            var kind = remuxer.Classify((int)tag.Type, data);
            if (kind is FlvTsFrame.VideoKeyframe or FlvTsFrame.Video or FlvTsFrame.Audio && !tablesWritten)
            {
                remuxer.WriteProgramTables(output);
                tablesWritten = true;
            }
            var written = remuxer.Write((int)tag.Type, tag.Timestamp, data, output);
            Assert.Equal(kind, written);
            Assert.NotEqual(FlvTsFrame.Malformed, written);
            keyframes += written == FlvTsFrame.VideoKeyframe ? 1 : 0;
        }
        return (output.WrittenSpan.ToArray(), remuxer, keyframes);
    }

    [Fact]
    public void Write_SampleFlv_ParsesBackWithTsDemuxer()
    {
        var (ts, _, keyframes) = RemuxSample();
        Assert.Equal(0, ts.Length % TsMuxer.PacketSize);
        var demuxer = new TsDemuxer();
        var packets = Demux.ReadAll(ts, demuxer);

        Assert.Equal(0, packets[0].Pid);
        Assert.Equal(TsMuxer.PmtPid, packets[1].Pid);
        Assert.NotNull(demuxer.Program);
        Assert.Equal([TsMuxer.VideoPid, TsMuxer.AudioPid], demuxer.Program!.Streams.Select(s => s.Pid));
        Assert.Equal([TsPacketKind.Video, TsPacketKind.Audio], demuxer.Program.Streams.Select(s => s.Kind));
        Assert.Equal(TsMuxer.VideoPid, demuxer.Program.PcrPid);

        // The first media packet is the first keyframe; one join point per keyframe (10 s, one per second).
        var firstMedia = packets.First(p => p.Pid != 0 && p.Pid != TsMuxer.PmtPid);
        Assert.Equal(TsMuxer.VideoPid, firstMedia.Pid);
        Assert.True(firstMedia.IsRandomAccess);
        Assert.Equal(10, keyframes);
        Assert.Equal(keyframes, packets.Count(p => p.IsRandomAccess));

        // Continuity counters advance by one per packet on every PID.
        foreach (var pid in packets.GroupBy(p => p.Pid))
        {
            var counters = pid.Select(p => Convert.FromHexString(p.Hex)[3] & 0x0F).ToArray();
            for (var i = 1; i < counters.Length; i++)
            {
                Assert.Equal((counters[i - 1] + 1) & 0x0F, counters[i]);
            }
        }

        // Video DTS never goes back, and PTS >= DTS.
        var video = packets.Where(p => p.Pid == TsMuxer.VideoPid && p.Pts >= 0).ToList();
        Assert.All(video, p => Assert.True(p.Pts >= p.Dts || p.Dts < 0));
        Assert.True(video.Select(p => p.Dts < 0 ? p.Pts : p.Dts).Zip(video.Skip(1).Select(p => p.Dts < 0 ? p.Pts : p.Dts)).All(d => d.First <= d.Second));
    }

    [Fact]
    public void Write_SampleFlv_ConfigFromSequenceHeaders()
    {
        var (_, remuxer, _) = RemuxSample();
        Assert.NotNull(remuxer.Video);
        Assert.Equal(TsVideoCodec.H264, remuxer.Video!.Codec);
        Assert.Equal("avc1.4d401e", remuxer.Video.CodecString);
        Assert.Equal(640, remuxer.Video.Width);
        Assert.Equal(360, remuxer.Video.Height);
        Assert.Equal("mp4a.40.2", remuxer.Audio!.Value.CodecString);
        Assert.Equal(44100, remuxer.Audio.Value.SampleRate);
        Assert.Equal(2, remuxer.ConfigGeneration);
    }

    [Fact]
    public async Task Write_SampleFlv_DecodesWithFfmpegWithoutErrors()
    {
        var (ts, _, _) = RemuxSample();
        var file = Path.Combine(Path.GetTempPath(), $"savate-remux-{Guid.NewGuid():N}.ts");
        await File.WriteAllBytesAsync(file, ts);
        try
        {
            var (exit, stdout, stderr) = await RunAsync("ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-i", file, "-f", "framecrc", "-");
            Assert.True(exit == 0, stderr);
            Assert.Equal("", stderr.Trim());
            var frames = stdout.Split('\n').Where(l => l.Length > 0 && l[0] != '#').GroupBy(l => l[..l.IndexOf(',')]).ToDictionary(g => g.Key, g => g.Count());
            Assert.Equal(250, frames["0"]); // 10 s at 25 fps
            Assert.InRange(frames["1"], 420, 440); // 10 s of 1024-sample AAC frames at 44.1 kHz

            var (probeExit, probe, probeErr) = await RunAsync("ffprobe", "-v", "error", "-show_entries", "stream=codec_name,width,height,profile", "-of", "csv=p=0", file);
            Assert.True(probeExit == 0, probeErr);
            Assert.Equal("", probeErr.Trim());
            Assert.Contains("h264,Main,640,360", probe);
            Assert.Contains("aac,LC", probe);
        }
        finally
        {
            File.Delete(file);
        }
    }

    [Fact]
    public void Write_TruncatedNalLength_ReturnsMalformed()
    {
        var (_, remuxer, _) = RemuxSample();
        // A keyframe whose 4-byte NAL length claims more than the tag holds.
        byte[] frame = [0x17, 1, 0, 0, 0, 0, 0, 0, 100, 0x65, 0x88];
        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(FlvTsFrame.Malformed, remuxer.Write(9, 20_000, frame, output));
        Assert.Equal(0, output.WrittenCount);
    }

    [Fact]
    public void Write_ChangedSequenceHeader_BumpsConfigGeneration()
    {
        var remuxer = new FlvTsRemuxer();
        Assert.Equal(FlvTsFrame.Config, remuxer.Write(8, 0, [0xAF, 0, 0x12, 0x10], new ArrayBufferWriter<byte>()));
        var generation = remuxer.ConfigGeneration;
        Assert.Equal(1, generation);
        // The same AudioSpecificConfig again: no change.
        Assert.Equal(FlvTsFrame.Config, remuxer.Write(8, 20_000, [0xAF, 0, 0x12, 0x10], new ArrayBufferWriter<byte>()));
        Assert.Equal(generation, remuxer.ConfigGeneration);
        // Mono instead of stereo: a new configuration.
        Assert.Equal(FlvTsFrame.Config, remuxer.Write(8, 20_000, [0xAF, 0, 0x12, 0x08], new ArrayBufferWriter<byte>()));
        Assert.Equal(generation + 1, remuxer.ConfigGeneration);
        Assert.Equal(1, remuxer.Audio!.Value.ChannelConfiguration);
    }

    [Fact]
    public void WriteAdtsHeader_LcStereo44100_MatchesReference()
    {
        Assert.True(AudioConfig.TryRead([0x12, 0x10], out var config));
        Span<byte> header = stackalloc byte[7];
        config.WriteAdtsHeader(header, 100);
        // ISO 14496-3 1.A.2.2: LC (profile 1), index 4 (44.1 kHz), 2 channels, frame_length 107, buffer fullness 0x7FF.
        Assert.Equal("FFF150800D7FFC", Convert.ToHexString(header));
    }

    private static async Task<(int Exit, string Stdout, string Stderr)> RunAsync(string file, params string[] args)
    {
        var info = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }
        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        await process.WaitForExitAsync(timeout.Token);
        return (process.ExitCode, await stdout, await stderr);
    }
}
