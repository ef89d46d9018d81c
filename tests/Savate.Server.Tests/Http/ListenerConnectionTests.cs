using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Streaming;
using Savate.Server.Tests.Fakes;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Http;

/// <summary>
/// A raw listener is ended through its connection (peer gone, server stopping, the hook's time limit), with no token
/// source per listener: on real loopback sockets, with a listener waiting for its mount's first keyframe.
/// </summary>
public sealed class ListenerConnectionTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    private readonly ManualTimeProvider _time = new();
    private readonly SlicePool _pool = new();

    private Mount CreateMount() =>
        TestMounts.Create(_time, _pool, new MountConfig { Path = "/live" }, new ServerConfig { FlushInterval = TimeSpan.FromMilliseconds(40) });

    [Fact]
    public async Task PeerLeaving_EndsTheServedListener()
    {
        using var mount = CreateMount();
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var stopping = new CancellationTokenSource();
        var connection = new SocketListenerConnection(server, stopping.Token);
        var listener = new Listener(mount, new MemorySink(), "test");
        await connection.WatchAsync();
        connection.Serve(listener);
        var run = listener.RunAsync(CancellationToken.None);
        await Task.Delay(50);
        Assert.False(run.IsCompleted);

        client.Dispose();

        Assert.Equal(ListenerEnd.Cancelled, await run.WaitAsync(Patience));
        // The watcher ends the listener, then aborts the socket: the run may complete a moment before the close.
        await Wait.UntilAsync(() => server.SafeHandle.IsClosed, Patience, "the server side's socket to close");
    }

    [Fact]
    public async Task ServerStopping_EndsTheServedListener_AndOnlyIt()
    {
        using var mount = CreateMount();
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var _ = client;
        using var stopping = new CancellationTokenSource();
        var connection = new SocketListenerConnection(server, stopping.Token);
        var listener = new Listener(mount, new MemorySink(), "test");
        var other = new Listener(mount, new MemorySink(), "other");
        using var closed = connection.Closed.UnsafeRegister(static s => ((ListenerConnection)s!).End(), connection);
        connection.Serve(listener);
        var run = listener.RunAsync(CancellationToken.None);
        var otherRun = other.RunAsync(CancellationToken.None);

        await stopping.CancelAsync();

        Assert.Equal(ListenerEnd.Cancelled, await run.WaitAsync(Patience));
        await Task.Delay(50);
        Assert.False(otherRun.IsCompleted);
        other.Cancel();
        Assert.Equal(ListenerEnd.Cancelled, await otherRun.WaitAsync(Patience));
        await connection.CloseAsync();
    }

    [Fact]
    public async Task EndedBeforeServing_TheListenerServedNextEndsAsItStarts()
    {
        // A move lands a listener on the connection after it was ended: it must not be served on.
        using var mount = CreateMount();
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var _ = client;
        var connection = new SocketListenerConnection(server, CancellationToken.None);
        connection.End();
        var listener = new Listener(mount, new MemorySink(), "test");

        connection.Serve(listener);

        Assert.Equal(ListenerEnd.Cancelled, await listener.RunAsync(CancellationToken.None).WaitAsync(Patience));
        await connection.CloseAsync();
    }
}
