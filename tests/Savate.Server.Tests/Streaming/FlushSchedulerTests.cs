using Savate.Server.Streaming;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class FlushSchedulerTests
{
    private readonly ManualTimeProvider _time = new();
    private readonly AsyncSignal _signal = new();

    [Fact]
    public void Publish_ManyWithinInterval_OneWakeUpAtIntervalEnd()
    {
        using var scheduler = new FlushScheduler(_signal, _time, TimeSpan.FromMilliseconds(40));
        var first = _signal.WaitTask;
        scheduler.Publish();
        Assert.True(first.IsCompleted);

        var second = _signal.WaitTask;
        for (var i = 0; i < 10; i++)
        {
            scheduler.Publish();
            _time.Advance(TimeSpan.FromMilliseconds(3));
        }
        Assert.False(second.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(9));
        Assert.False(second.IsCompleted);
        var same = _signal.WaitTask;
        Assert.Same(second, same);

        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(second.IsCompleted);
        var third = _signal.WaitTask;
        _time.Advance(TimeSpan.FromSeconds(1));
        Assert.False(third.IsCompleted);
    }

    [Fact]
    public void Publish_AfterQuietPeriod_WakesAtOnce()
    {
        using var scheduler = new FlushScheduler(_signal, _time, TimeSpan.FromMilliseconds(40));
        scheduler.Publish();
        _time.Advance(TimeSpan.FromMilliseconds(100));

        var wait = _signal.WaitTask;
        scheduler.Publish();
        Assert.True(wait.IsCompleted);

        // Right after a wake-up, the next one waits for the interval.
        var next = _signal.WaitTask;
        scheduler.Publish();
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        Assert.True(next.IsCompleted);
    }

    [Fact]
    public void FireNow_WakesRegardlessOfInterval()
    {
        using var scheduler = new FlushScheduler(_signal, _time, TimeSpan.FromMilliseconds(40));
        scheduler.Publish();
        var wait = _signal.WaitTask;
        scheduler.FireNow();
        Assert.True(wait.IsCompleted);
    }

    [Fact]
    public async Task Set_ContinuationsRunAsynchronously_SetterNotBlocked()
    {
        var wait = _signal.WaitTask;
        using var entered = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var continuation = wait.ContinueWith(_ =>
        {
            entered.Set();
            release.Wait(TimeSpan.FromSeconds(10));
        }, TaskContinuationOptions.ExecuteSynchronously);

        // Were the continuation inlined, Set would not return until release is set: the setter would hang.
        var setter = Task.Run(_signal.Set);
        await setter.WaitAsync(TimeSpan.FromSeconds(5));
        Assert.True(entered.Wait(TimeSpan.FromSeconds(5)));
        release.Set();
        await continuation.WaitAsync(TimeSpan.FromSeconds(5));
    }
}
