using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Functional;

/// <summary>When a live source takes over from a fallback: at its first keyframe, and with override: false only once the fallback ends.</summary>
public sealed class LiveTakeoverTests
{
    private const string Config = """
        server:
          source-password: change-me
        mounts:
          - path: /main.flv
            format: flv
            grace: 500ms
            override: false
            fallback:
              - mount: /backup.flv
          - path: /backup.flv
            format: flv
        """;

    [Fact]
    public async Task OverrideFalse_LiveWaitsForTheFallbackToEnd_ThenTakesOver()
    {
        await using var server = await TestServer.StartAsync(Config);
        var main = server.Registry.Find("/main.flv")!;
        using var backup = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/backup.flv"));
        await Wait.UntilAsync(() => main.Playing == "fallback /backup.flv", TimeSpan.FromSeconds(20), "the backup mount to play on /main.flv");
        var listen = Ffmpeg.DecodeAsync(server.Url("/main.flv").ToString(), seconds: 10);

        using var live = Ffmpeg.PushFlvChunkedPost(server.SourceUrl("/main.flv"));
        await Wait.UntilAsync(() => main.Source is not null, TimeSpan.FromSeconds(20), "the live source to connect");
        // Several of its keyframes go by: the fallback keeps playing.
        await Task.Delay(3000);
        Assert.Equal("fallback /backup.flv", main.Playing);

        await backup.StopAsync();
        await Wait.UntilAsync(() => main.Playing == "live", TimeSpan.FromSeconds(10), "the live source once the fallback ended");

        var result = await listen;
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(result.VideoFrames >= 150, result.ToString());
    }
}
