using Microsoft.Extensions.Logging.Abstractions;
using Savate.Server.Configuration;
using Savate.Server.Streaming.Feeds;
using Savate.Server.Streaming.Ingest;
using Savate.Server.Tests.Fakes;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public sealed class FileFeedTests
{
    private static string Sample(string name) => Path.Combine(AppContext.BaseDirectory, "samples", name);

    [Theory]
    [InlineData("sample.flv")]
    [InlineData("sample.ts")]
    [InlineData("offline.flv")]
    public async Task RunAsync_TwentySecondsOfLoopedFile_MediaTimeStaysWithinTwoPercentOfWallClock(string file)
    {
        var time = new ManualTimeProvider();
        using var mount = TestMounts.Create(time, config: new MountConfig { Path = "/file", Buffer = TimeSpan.FromMinutes(1) });
        var media = FileMedia.Load(Sample(file));
        IContainerIngest ingest = media.Format == MountFormat.Flv ? new FlvIngest(mount) : new TsIngest(mount);
        ingest.Activate();
        var baseline = time.ActiveTimers;
        using var cts = new CancellationTokenSource();
        var run = Task.Run(() => new FileFeed(media, ingest, time, NullLogger.Instance).RunAsync(cts.Token));
        await Wait.UntilAsync(() => time.ActiveTimers == baseline + 1, TimeSpan.FromSeconds(5), "the feed to wait for its first due chunk");
        var first = mount.Timeline.LastTime;

        var worst = 0.0;
        for (var step = 1; step <= 2000; step++)
        {
            time.Advance(TimeSpan.FromMilliseconds(10));
            await Wait.UntilAsync(() => time.ActiveTimers == baseline + 1, TimeSpan.FromSeconds(5), "the feed to wait again");
            var wall = step * 10;
            var delivered = mount.Timeline.LastTime - first;
            if (wall >= 1000)
            {
                // One frame (40 ms) of slack: a chunk is due at its frame time, not before.
                var error = Math.Abs(delivered - wall) - 40;
                worst = Math.Max(worst, error / wall);
            }
        }
        cts.Cancel();
        await run;

        Assert.True(worst <= 0.02, $"media time strayed {worst:P2} from the wall clock");
        var total = mount.Timeline.LastTime - first;
        Assert.InRange(total, 20_000 * 0.98, 20_000 * 1.02);
        Assert.True(mount.Timeline.Discontinuities == 0, "a loop was seen as a jump instead of continuing exactly");
    }

    [Fact]
    public void Load_FileThatIsNeitherFlvNorTs_ThrowsNamingTheFile()
    {
        var path = Path.Combine(Path.GetTempPath(), $"savate-{Guid.NewGuid():N}.bin");
        File.WriteAllBytes(path, new byte[4096]);
        try
        {
            var error = Assert.Throws<InvalidDataException>(() => FileMedia.Load(path));
            Assert.Contains(path, error.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Load_LoopDurationCoversEveryStream()
    {
        var media = FileMedia.Load(Sample("sample.flv"));

        // 10 s at 25 fps: the last video frame at 9.96 s plus one frame, or audio's own end if later.
        Assert.InRange(media.Duration, 10_000, 10_100);
    }
}
