using System.Net.Sockets;
using System.Reflection;
using System.Threading.Channels;
using Savate.Server.Http;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Http;

/// <summary>The front door's epoll watcher, on real loopback TCP sockets.</summary>
public sealed class SocketWatcherTests
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(10);

    /// <summary>Records each readiness, and what a non-blocking read then finds.</summary>
    private sealed class Recorder(Socket socket) : SocketWatcher.ITarget
    {
        public Channel<(long Watch, int Read, SocketError Error)> Heard { get; } = Channel.CreateUnbounded<(long, int, SocketError)>();

        public void OnReady(long watch)
        {
            var read = RawSend.Receive(socket.SafeHandle, new byte[64], out var error);
            Heard.Writer.TryWrite((watch, read, error));
        }
    }

    [Fact]
    public async Task Watch_HearsData_ThenOnlyAfterRearm_ThenThePeersFin()
    {
        Assert.True(SocketWatcher.IsSupported, "these tests run on x86-64 Linux, where the front door uses the watcher");
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var _ = client;
        using var __ = server;
        var recorder = new Recorder(server);
        var watch = SocketWatcher.Shared.Watch(server.SafeHandle, recorder);
        Assert.True(watch >= 0);
        try
        {
            using var cts = new CancellationTokenSource(Patience);
            client.Send("hello"u8);
            var first = await recorder.Heard.Reader.ReadAsync(cts.Token);
            Assert.Equal((watch, 5, SocketError.Success), first);

            // One-shot: more data is not heard until the watch is armed again.
            client.Send("more"u8);
            await Task.Delay(200);
            Assert.False(recorder.Heard.Reader.TryRead(out var early), $"heard {early} before the re-arm");
            Assert.True(SocketWatcher.Shared.Rearm(server.SafeHandle, watch));
            Assert.Equal((watch, 4, SocketError.Success), await recorder.Heard.Reader.ReadAsync(cts.Token));

            Assert.True(SocketWatcher.Shared.Rearm(server.SafeHandle, watch));
            client.Shutdown(SocketShutdown.Send);
            Assert.Equal((watch, 0, SocketError.Success), await recorder.Heard.Reader.ReadAsync(cts.Token));
        }
        finally
        {
            SocketWatcher.Shared.Remove(watch);
        }
    }

    [Fact]
    public async Task Remove_BeforeReadiness_TargetNeverHears_AndTheSlotIsFree()
    {
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var _ = client;
        using var __ = server;
        var recorder = new Recorder(server);
        var before = SocketWatcher.Shared.Watching;
        var watch = SocketWatcher.Shared.Watch(server.SafeHandle, recorder);
        SocketWatcher.Shared.Remove(watch);
        SocketWatcher.Shared.Remove(watch);

        client.Send("ignored"u8);
        await Task.Delay(200);

        Assert.False(recorder.Heard.Reader.TryRead(out var heard), $"a removed watch heard {heard}");
        Assert.True(SocketWatcher.Shared.Watching <= before, "the removed watch still holds its slot");
    }

    [Fact]
    public async Task Watch_OnAClosedSocket_IsRefused()
    {
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var _ = client;
        server.Dispose();

        Assert.Equal(-1, SocketWatcher.Shared.Watch(server.SafeHandle, new Recorder(server)));
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await SocketWatcher.Shared.ReadableAsync(server, CancellationToken.None));
    }

    [Fact]
    public async Task ReadableAsync_CompletesOnData_OrThrowsWhenCancelledFirst()
    {
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var _ = client;
        using var __ = server;

        using (var quiet = new CancellationTokenSource(TimeSpan.FromMilliseconds(200)))
        {
            await Assert.ThrowsAnyAsync<OperationCanceledException>(async () => await SocketWatcher.Shared.ReadableAsync(server, quiet.Token));
        }

        // The same socket, waited for again (the cancelled watch's registration is re-used by the next ADD).
        var wait = SocketWatcher.Shared.ReadableAsync(server, new CancellationTokenSource(Patience).Token).AsTask();
        await Task.Delay(100);
        Assert.False(wait.IsCompleted);
        client.Send("GET / HTTP/1.1\r\n"u8);
        await wait.WaitAsync(Patience);
        Assert.True(server.Available > 0);
    }

    [Fact]
    public async Task RawListenerSocket_NeverTakesTheRuntimesSocketContext()
    {
        // What the watcher and RawSend are for: a listener's socket, served and watched, holds no SocketAsyncContext
        // (about 760 bytes a listener with its receive machinery). Checked on the runtime's private field, which this
        // test names; a runtime that renames it fails here, not silently.
        var field = typeof(SafeSocketHandle).GetField("_asyncContext", BindingFlags.Instance | BindingFlags.NonPublic);
        Assert.NotNull(field);
        var (client, server) = await LoopbackPair.ConnectAsync();
        using var _ = client;
        using var stopping = new CancellationTokenSource();
        var connection = new SocketListenerConnection(server, stopping.Token);
        using var sink = new SocketListenerSink(connection);

        client.Send("GET /live.flv HTTP/1.1\r\n\r\n"u8);
        await SocketWatcher.Shared.ReadableAsync(server, new CancellationTokenSource(Patience).Token);
        Assert.Equal(26, RawSend.Receive(server.SafeHandle, new byte[64], out var error));
        Assert.Equal(SocketError.Success, error);
        Assert.True(await sink.WriteAsync("HTTP/1.1 200 OK\r\n\r\n"u8.ToArray()));
        await connection.WatchAsync();

        Assert.Null(field.GetValue(server.SafeHandle));

        // And the watch still hears the listener leave.
        client.Close();
        await Wait.UntilAsync(() => server.SafeHandle.IsClosed, Patience, "the departed listener was not noticed");
        Assert.Null(field.GetValue(server.SafeHandle));
    }
}
