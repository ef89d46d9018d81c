using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>
/// Interop with a real Icecast 2.4 (Debian's icecast2) on loopback: Savate relays an Icecast mount, and an
/// Icecast slave relays a Savate master discovered through /admin/streamlist.txt.
/// </summary>
public sealed class IcecastInteropTests
{
    private static void AssertCleanDecode(DecodeResult result, int minVideoFrames, string context)
    {
        Assert.True(result.ExitCode == 0, $"{result}\n{context}");
        Assert.True(string.IsNullOrWhiteSpace(result.Errors), $"decoder errors: {result.Errors}\n{context}");
        Assert.True(result.VideoFrames >= minVideoFrames, $"{result}\n{context}");
    }

    [Fact]
    public async Task IcecastMount_RelayedBySavate_DecodesCleanly()
    {
        await using var icecast = await Icecast.StartAsync();
        // MPEG-TS, not FLV: Icecast sends a late joiner (Savate's relay) bytes from its burst queue, with no FLV header.
        using var push = Ffmpeg.Start([.. Ffmpeg.LiveInput(), "-f", "mpegts", "-content_type", "video/mp2t", icecast.SourceUrl("/ice.ts")]);
        await icecast.WaitForMountAsync("/ice.ts", TimeSpan.FromSeconds(20), "ffmpeg's source on Icecast's /ice.ts");

        await using var savate = await TestServer.StartAsync($$"""
            server:
              source-password: change-me
            mounts:
              - path: /ice.ts
                format: mpegts
            relays:
              - mount: /ice.ts
                upstreams: ["{{icecast.Url("/ice.ts")}}"]
                on-demand: true
            """);

        var result = await Ffmpeg.DecodeAsync(savate.Url("/ice.ts").ToString(), seconds: 3, timeout: TimeSpan.FromSeconds(40));

        var context = $"source ffmpeg: {push.Stderr}\nSavate log:\n{string.Join('\n', savate.Logs.Entries.Select(e => $"{e.Level} {e.EventId} {e.Message}"))}\nIcecast error.log:\n{icecast.ErrorLog}";
        AssertCleanDecode(result, minVideoFrames: 50, context);
        Assert.True(result.FramesPerStream.GetValueOrDefault(1) > 0, $"no audio frames: {result}\n{context}");
    }

    [Fact]
    public async Task SavateMaster_RelayedByIcecastSlave_ThroughStreamList_DecodesCleanly()
    {
        await using var savate = await TestServer.StartAsync("""
            server:
              source-password: change-me
              relay-password: relaypw
            mounts:
              - path: /live.flv
                format: flv
            """);
        using var push = Ffmpeg.PushFlvChunkedPost(savate.SourceUrl("/live.flv"));
        await LiveFanOutTests.WaitForMediaAsync(savate, "/live.flv", mediaMs: 500);

        await using var icecast = await Icecast.StartAsync($"""
            <master-server>127.0.0.1</master-server>
            <master-server-port>{savate.Port}</master-server-port>
            <master-update-interval>1</master-update-interval>
            <master-username>relay</master-username>
            <master-password>relaypw</master-password>
            <relays-on-demand>0</relays-on-demand>
            """);
        string Context() =>
            $"source ffmpeg: {push.Stderr}\nSavate log:\n{string.Join('\n', savate.Logs.Entries.Select(e => $"{e.Level} {e.EventId} {e.Message}"))}" +
            $"\nIcecast error.log:\n{icecast.ErrorLog}\nIcecast access.log:\n{icecast.AccessLog}";

        // Icecast polls /admin/streamlist.txt, then opens a relay of /live.flv (not on demand: at once).
        await icecast.WaitForMountAsync("/live.flv", TimeSpan.FromSeconds(30), "the Icecast slave to relay Savate's /live.flv");
        await Wait.UntilAsync(() => savate.Registry.Find("/live.flv")!.ListenerCount >= 1, TimeSpan.FromSeconds(10), "Icecast's relay connection on Savate");

        var result = await Ffmpeg.DecodeAsync(icecast.Url("/live.flv"), seconds: 3, timeout: TimeSpan.FromSeconds(40));

        AssertCleanDecode(result, minVideoFrames: 50, Context());
        Assert.True(result.FramesPerStream.GetValueOrDefault(1) > 0, $"no audio frames: {result}\n{Context()}");
    }
}
