using System.Reflection;
using Savate.Server.Configuration;
using Savate.Server.Streaming;
using Savate.Server.Streaming.Ingest;
using Savate.Server.Tests.Fakes;
using Xunit;

namespace Savate.Server.Tests.Streaming;

/// <summary>
/// <see cref="Listener.RunAsync()"/>, the run a raw listener uses: ended by <see cref="Listener.Cancel"/>, and on a
/// direct sink joined at once, awaited on the listener itself (no state machine for its life).
/// </summary>
public class ListenerRunTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(10);
    private readonly ManualTimeProvider _time = new();
    private readonly SlicePool _pool = new();

    private Mount CreateMount() =>
        TestMounts.Create(_time, _pool, new MountConfig { Path = "/live" }, new ServerConfig { FlushInterval = TimeSpan.FromMilliseconds(40) });

    // What a ValueTask stands on: the listener itself, or a task (a state machine's).
    private static object? Backing(ValueTask<ListenerEnd> run) =>
        typeof(ValueTask<ListenerEnd>).GetField("_obj", BindingFlags.Instance | BindingFlags.NonPublic)!.GetValue(run);

    /// <summary>A source with a keyframe out and a listener joined at once, one flush sent on the loop: the source, the sink and the run.</summary>
    private async Task<(SourceSession Source, Listener Listener, ValueTask<ListenerEnd> Run)> StartOnTheLoopAsync(Mount mount)
    {
        var source = new SourceSession(mount, "encoder");
        Assert.True(mount.TryClaim(source));
        TestMounts.PublishFlv(mount, 0, keyframe: true);
        var sink = new DirectSink();
        var listener = new Listener(mount, sink, "test");
        Assert.True(mount.TryAddListener(listener));
        var run = listener.RunAsync();
        Assert.Same(listener, Backing(run));
        Assert.Equal(1, sink.Joins);
        var sent = sink.NextSend;
        TestMounts.PublishFlv(mount, 40, keyframe: false);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        await sent.WaitAsync(s_timeout);
        return (source, listener, run);
    }

    [Fact]
    public async Task DirectSinkJoinedAtOnce_AwaitsTheListenerItself_SendsOnTheLoop_AndEndsOnCancel()
    {
        using var mount = CreateMount();
        var (source, listener, run) = await StartOnTheLoopAsync(mount);
        Assert.False(run.IsCompleted);

        listener.Cancel();

        Assert.Equal(ListenerEnd.Cancelled, await run.AsTask().WaitAsync(s_timeout));
        mount.Release(source);
    }

    [Fact]
    public async Task NoKeyframeYet_WaitsOnATask_ThenJoins_AndEndsOnCancel()
    {
        using var mount = CreateMount();
        var source = new SourceSession(mount, "encoder");
        Assert.True(mount.TryClaim(source));
        var sink = new DirectSink();
        var listener = new Listener(mount, sink, "test");
        Assert.True(mount.TryAddListener(listener));

        var run = listener.RunAsync();

        Assert.True(Backing(run) is Task<ListenerEnd>, "a join that waits runs on a task");
        Assert.Equal(0, sink.Joins);
        var sent = sink.NextSend;
        TestMounts.PublishFlv(mount, 0, keyframe: true);
        TestMounts.PublishFlv(mount, 40, keyframe: false);
        _time.Advance(TimeSpan.FromMilliseconds(40));
        await sent.WaitAsync(s_timeout);
        Assert.Equal(1, sink.Joins);

        listener.Cancel();

        Assert.Equal(ListenerEnd.Cancelled, await run.AsTask().WaitAsync(s_timeout));
        mount.Release(source);
    }

    [Fact]
    public async Task CancelledBeforeTheRun_EndsAsItStarts_WithNothingSent()
    {
        using var mount = CreateMount();
        TestMounts.PublishFlv(mount, 0, keyframe: true);
        var sink = new DirectSink();
        var listener = new Listener(mount, sink, "test");
        listener.Cancel();

        var run = listener.RunAsync();

        Assert.True(run.IsCompleted);
        Assert.Equal(ListenerEnd.Cancelled, await run);
        Assert.Equal(0, sink.Joins);
    }

    [Fact]
    public async Task MountDisposedWhileOnTheLoop_EndsStreamEnded_AndEverySliceIsReturned()
    {
        // The run awaited on the listener itself skips the state machine's finally: what it held must still go back.
        var mount = CreateMount();
        var (_, _, run) = await StartOnTheLoopAsync(mount);

        mount.Dispose();

        Assert.Equal(ListenerEnd.StreamEnded, await run.AsTask().WaitAsync(s_timeout));
        Assert.Equal(0, _pool.Outstanding);
    }
}
