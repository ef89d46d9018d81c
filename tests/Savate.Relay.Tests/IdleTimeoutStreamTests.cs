using System.IO.Pipelines;
using Savate.Relay.Upstream;

namespace Savate.Relay.Tests;

public sealed class IdleTimeoutStreamTests
{
    [Fact]
    public async Task ReadAsync_DataKeepsArriving_NeverTimesOut()
    {
        var pipe = new Pipe();
        var firstBytes = 0;
        // A manual clock: 100 ms between reads, five times, never reaches the 600 ms timeout whatever the machine's load.
        var time = new ManualTimeProvider();
        await using var stream = new IdleTimeoutStream(pipe.Reader.AsStream(), TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(600), time, () => firstBytes++);
        var buffer = new byte[16];
        for (var i = 0; i < 5; i++)
        {
            var read = stream.ReadAsync(buffer).AsTask();
            time.Advance(TimeSpan.FromMilliseconds(100));
            await pipe.Writer.WriteAsync(new byte[] { 1, 2, 3 });
            Assert.Equal(3, await read);
        }

        Assert.False(stream.TimedOut);
        Assert.Equal(15, stream.BytesRead);
        Assert.Equal(1, firstBytes);
    }

    [Fact]
    public async Task ReadAsync_NoFirstByte_ThrowsIOExceptionAfterFirstByteTimeout()
    {
        var pipe = new Pipe();
        await using var stream = new IdleTimeoutStream(pipe.Reader.AsStream(), TimeSpan.FromMilliseconds(100), TimeSpan.FromSeconds(10), TimeProvider.System);

        var error = await Assert.ThrowsAsync<IOException>(() => stream.ReadAsync(new byte[16]).AsTask());

        Assert.IsType<TimeoutException>(error.InnerException);
        Assert.StartsWith("no first byte", stream.TimeoutMessage);
    }

    [Fact]
    public async Task ReadAsync_StallAfterData_ThrowsIOExceptionAfterIdleReadTimeout()
    {
        var pipe = new Pipe();
        await using var stream = new IdleTimeoutStream(pipe.Reader.AsStream(), TimeSpan.FromSeconds(10), TimeSpan.FromMilliseconds(100), TimeProvider.System);
        await pipe.Writer.WriteAsync(new byte[] { 1 });
        Assert.Equal(1, await stream.ReadAsync(new byte[16]));

        await Assert.ThrowsAsync<IOException>(() => stream.ReadAsync(new byte[16]).AsTask());

        Assert.StartsWith("idle-read timeout", stream.TimeoutMessage);
    }

    [Fact]
    public async Task ReadAsync_CallerCancels_ThrowsOperationCanceledNotTimeout()
    {
        var pipe = new Pipe();
        await using var stream = new IdleTimeoutStream(pipe.Reader.AsStream(), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(10), TimeProvider.System);
        using var cts = new CancellationTokenSource(50);

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => stream.ReadAsync(new byte[16], cts.Token).AsTask());

        Assert.False(stream.TimedOut);
    }
}
