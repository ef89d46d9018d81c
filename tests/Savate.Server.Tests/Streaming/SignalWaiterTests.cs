using Savate.Server.Streaming;
using Xunit;

namespace Savate.Server.Tests.Streaming;

public class SignalWaiterTests
{
    [Fact]
    public async Task WaitAsync_SetAfterEnqueue_Completes()
    {
        var signal = new AsyncSignal();
        using var waiter = new SignalWaiter(signal, CancellationToken.None);

        var wait = waiter.WaitAsync(signal.Generation);
        Assert.False(wait.IsCompleted);
        signal.Set();

        await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public void WaitAsync_SetBetweenGenerationReadAndWait_CompletesAtOnce()
    {
        var signal = new AsyncSignal();
        using var waiter = new SignalWaiter(signal, CancellationToken.None);
        var generation = signal.Generation;

        signal.Set();
        var wait = waiter.WaitAsync(generation);

        Assert.True(wait.IsCompleted);
    }

    [Fact]
    public async Task WaitAsync_Reused_EachSetWakesTheCurrentWait()
    {
        var signal = new AsyncSignal();
        using var waiter = new SignalWaiter(signal, CancellationToken.None);

        for (var i = 0; i < 1000; i++)
        {
            var generation = signal.Generation;
            var wait = waiter.WaitAsync(generation);
            signal.Set();
            await wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5));
        }
    }

    [Fact]
    public async Task WaitAsync_Cancelled_ThrowsOperationCanceled()
    {
        var signal = new AsyncSignal();
        using var cts = new CancellationTokenSource();
        using var waiter = new SignalWaiter(signal, cts.Token);

        var wait = waiter.WaitAsync(signal.Generation);
        await cts.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => wait.AsTask().WaitAsync(TimeSpan.FromSeconds(5)));
    }

    [Fact]
    public async Task Set_ConcurrentWithManyWaiters_NoWakeUpLost()
    {
        var signal = new AsyncSignal();
        var generationsSeen = new long[8];
        using var stop = new CancellationTokenSource();
        var waiters = Enumerable.Range(0, generationsSeen.Length).Select(i => Task.Run(async () =>
        {
            using var waiter = new SignalWaiter(signal, stop.Token);
            while (true)
            {
                var generation = signal.Generation;
                Volatile.Write(ref generationsSeen[i], generation);
                try
                {
                    await waiter.WaitAsync(generation);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        })).ToArray();

        for (var i = 0; i < 20_000; i++)
        {
            signal.Set();
        }
        // Every waiter must catch up with the last generation: a lost wake-up would leave one behind for good.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(10);
        while (generationsSeen.Any(g => Volatile.Read(ref g) != signal.Generation) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(10);
        }
        Assert.All(generationsSeen, g => Assert.Equal(signal.Generation, g));
        await stop.CancelAsync();
        await Task.WhenAll(waiters).WaitAsync(TimeSpan.FromSeconds(5));
    }
}
