using Savate.Server.Streaming;
using Xunit;

namespace Savate.Server.Tests.Streaming;

/// <summary>Batching that adapts to load (issue 11): the flush interval stretches while the send loops are busy, within max-flush-interval.</summary>
public class FlushPacerTests
{
    private static readonly TimeSpan Window = TimeSpan.FromMilliseconds(250);
    private readonly ManualTimeProvider _time = new();

    private FlushPacer NewPacer(int loops = 2)
    {
        var pacer = new FlushPacer(loops, _time);
        pacer.Configure(TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(250));
        return pacer;
    }

    // One quarter-second window in which loop 0 drained for `busy` of it, then rested.
    private void Window0(FlushPacer pacer, double busy) => Drain(pacer, 0, busy, Window);

    // Loop `loop` drains for `busy` of `span`, then rests for the rest of it; the pacer is asked at the end.
    private void Drain(FlushPacer pacer, int loop, double busy, TimeSpan span)
    {
        pacer.Begin(loop, _time.GetTimestamp());
        _time.Advance(span * busy);
        pacer.End(loop, _time.GetTimestamp());
        _time.Advance(span * (1 - busy));
        _ = pacer.Factor;
    }

    [Fact]
    public void LoopsKeepingUp_IntervalStaysAsConfigured()
    {
        var pacer = NewPacer();
        for (var i = 0; i < 20; i++)
        {
            Window0(pacer, 0.9);
        }
        Assert.Equal(1, pacer.Factor);
        Assert.Equal(40, pacer.Stretch(40, 250));
    }

    [Fact]
    public void BusyLoops_IntervalGrowsWithTheLoad_UpToMaxFlushInterval()
    {
        var pacer = NewPacer();
        Window0(pacer, 0.9);
        // 90% busy: keeping up.
        Assert.Equal(1, pacer.Factor, 3);
        Window0(pacer, 1.0);
        // Walking all the time: the interval grows by 1/0.85 (aiming at 85%).
        Assert.Equal(1 / 0.85, pacer.Factor, 3);
        Assert.Equal(47, pacer.Stretch(40, 250));

        for (var i = 0; i < 15; i++)
        {
            Window0(pacer, 1.0);
        }
        Assert.Equal(250, pacer.Stretch(40, 250));
        Assert.Equal(250.0 / 40, pacer.Factor, 3);
    }

    [Fact]
    public void TheBusiestLoopDecides()
    {
        var pacer = NewPacer();
        var start = _time.GetTimestamp();
        pacer.Begin(0, start);
        pacer.Begin(1, start);
        _time.Advance(Window * 0.1);
        pacer.End(0, _time.GetTimestamp());
        _time.Advance(Window * 0.88);
        pacer.End(1, _time.GetTimestamp());
        _time.Advance(Window * 0.02);
        // 98% busy on loop 1: 0.98/0.85 times the interval, whatever loop 0 did.
        Assert.Equal(0.98 / 0.85, pacer.Factor, 3);
    }

    [Fact]
    public void ADrainLongerThanAWindow_CountsInEveryWindowItSpans()
    {
        // At 10,000 listeners and more one walk can outlast a window: each window it spans is busy all through,
        // not idle until the walk ends and then busy several times over (the stretch swung between 1 and its bound).
        var pacer = NewPacer();
        pacer.Begin(0, _time.GetTimestamp());
        var expected = 1.0;
        for (var i = 0; i < 3; i++)
        {
            _time.Advance(Window);
            expected /= 0.85;
            Assert.Equal(expected, pacer.Factor, 3);
        }
        // It ends a tenth into the fourth window, which is then 10% busy: the interval shrinks by a fifth.
        _time.Advance(Window * 0.1);
        pacer.End(0, _time.GetTimestamp());
        _time.Advance(Window * 0.9);
        Assert.Equal(expected * 0.8, pacer.Factor, 3);
    }

    [Fact]
    public void ShortDrainsAddUp_AcrossTheWindow()
    {
        // Ten walks of 9% of a window each, with rests between: 90% busy, keeping up; then ten of 10%: falling behind.
        var pacer = NewPacer();
        for (var i = 0; i < 10; i++)
        {
            Drain(pacer, 0, 0.9, Window / 10);
        }
        Assert.Equal(1, pacer.Factor, 3);
        for (var i = 0; i < 10; i++)
        {
            Drain(pacer, 0, 1.0, Window / 10);
        }
        Assert.Equal(1 / 0.85, pacer.Factor, 3);
    }

    [Fact]
    public void LoadGone_IntervalShrinksBackGently()
    {
        var pacer = NewPacer();
        for (var i = 0; i < 15; i++)
        {
            Window0(pacer, 1.0);
        }
        Assert.Equal(250, pacer.Stretch(40, 250));

        // Idle: no loop reports, but each quarter second takes a fifth off.
        _time.Advance(Window);
        Assert.Equal(250 * 0.8, pacer.Stretch(40, 250), 1);
        for (var i = 0; i < 20; i++)
        {
            _time.Advance(Window);
            _ = pacer.Factor;
        }
        Assert.Equal(40, pacer.Stretch(40, 250));
    }

    [Fact]
    public void MaxFlushIntervalLowered_StretchFollowsAtOnce()
    {
        var pacer = NewPacer();
        for (var i = 0; i < 15; i++)
        {
            Window0(pacer, 1.0);
        }
        pacer.Configure(TimeSpan.FromMilliseconds(40), TimeSpan.FromMilliseconds(40));
        Assert.Equal(40, pacer.Stretch(40, 40));
        Assert.Equal(1, pacer.Factor);
    }

    [Fact]
    public void Scheduler_UsesTheStretchedInterval()
    {
        var pacer = NewPacer();
        var signal = new AsyncSignal();
        using var scheduler = new FlushScheduler(signal, _time, TimeSpan.FromMilliseconds(40), pacer, TimeSpan.FromMilliseconds(250));
        Window0(pacer, 1.0);
        Window0(pacer, 1.0);
        // Twice 1/0.85: about 55.4 ms.
        Assert.Equal(55, (int)scheduler.CurrentInterval.TotalMilliseconds);

        scheduler.Publish();
        var next = signal.WaitTask;
        scheduler.Publish();
        _time.Advance(TimeSpan.FromMilliseconds(55));
        Assert.False(next.IsCompleted);
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.True(next.IsCompleted);
    }
}
