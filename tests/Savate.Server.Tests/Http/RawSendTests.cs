using System.Net.Sockets;
using Savate.Server.Http;
using Savate.Server.Tests.Infrastructure;
using Xunit;

namespace Savate.Server.Tests.Http;

/// <summary>The send loops' raw sendmsg, on real loopback TCP sockets.</summary>
public sealed class RawSendTests
{
    private static async Task<(Socket Client, Socket Server)> PairAsync()
    {
        var (client, server) = await LoopbackPair.ConnectAsync();
        server.Blocking = false;
        return (client, server);
    }

    private static async Task<byte[]> ReadAsync(Socket socket, int length)
    {
        var result = new byte[length];
        var read = 0;
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        while (read < length)
        {
            var n = await socket.ReceiveAsync(result.AsMemory(read), SocketFlags.None, cts.Token);
            Assert.NotEqual(0, n);
            read += n;
        }
        return result;
    }

    [Fact]
    public async Task Send_GathersEveryBuffer_InOrder_IncludingSlicesOfArrays()
    {
        Assert.True(RawSend.IsSupported, "these tests run on 64-bit Linux, where the send loops use RawSend");
        var (client, server) = await PairAsync();
        using var _ = client;
        using var __ = server;
        var big = Enumerable.Range(0, 10_000).Select(i => (byte)i).ToArray();
        ReadOnlyMemory<byte>[] buffers = ["head"u8.ToArray(), ReadOnlyMemory<byte>.Empty, big.AsMemory(17, 5000), "tail"u8.ToArray()];

        var sent = RawSend.Send(server.SafeHandle, buffers, out var error);

        Assert.Equal(SocketError.Success, error);
        Assert.Equal(5008, sent);
        var expected = "head"u8.ToArray().Concat(big.Skip(17).Take(5000)).Concat("tail"u8.ToArray()).ToArray();
        Assert.Equal(expected, await ReadAsync(client, expected.Length));
    }

    [Fact]
    public async Task Send_OneNonEmptyBuffer_SentAlone_FromItsOffset()
    {
        // One buffer goes through send(2), not sendmsg: the same bytes, from the slice's offset.
        var (client, server) = await PairAsync();
        using var _ = client;
        using var __ = server;
        var big = Enumerable.Range(0, 10_000).Select(i => (byte)(i * 7)).ToArray();
        ReadOnlyMemory<byte>[] buffers = [ReadOnlyMemory<byte>.Empty, big.AsMemory(123, 6000), ReadOnlyMemory<byte>.Empty];

        var sent = RawSend.Send(server.SafeHandle, buffers, out var error);

        Assert.Equal(SocketError.Success, error);
        Assert.Equal(6000, sent);
        Assert.Equal(big.Skip(123).Take(6000).ToArray(), await ReadAsync(client, 6000));
    }

    [Fact]
    public async Task Send_MoreBuffersThanOneCallTakes_SendsTheFirstNine()
    {
        var (client, server) = await PairAsync();
        using var _ = client;
        using var __ = server;
        var buffers = Enumerable.Range(0, 12).Select(i => (ReadOnlyMemory<byte>)new[] { (byte)i, (byte)i }).ToArray();

        var sent = RawSend.Send(server.SafeHandle, buffers, out var error);

        Assert.Equal(SocketError.Success, error);
        Assert.Equal(2 * RawSend.MaxBuffers, sent);
        Assert.Equal(buffers.Take(RawSend.MaxBuffers).SelectMany(b => b.ToArray()).ToArray(), await ReadAsync(client, sent));
    }

    [Fact]
    public async Task Send_PeerNotReading_TakesWhatFitsThenWouldBlock_NeverWaits()
    {
        var (client, server) = await PairAsync();
        using var _ = client;
        using var __ = server;
        client.ReceiveBufferSize = 4096;
        server.SendBufferSize = 4096;
        ReadOnlyMemory<byte>[] buffers = [new byte[64 * 1024]];
        long total = 0;
        SocketError error;
        var calls = 0;
        do
        {
            total += RawSend.Send(server.SafeHandle, buffers, out error);
            calls++;
        }
        while (error == SocketError.Success && calls < 10_000);

        Assert.Equal(SocketError.WouldBlock, error);
        Assert.InRange(total, 1, 8L * 1024 * 1024);
        // What was taken arrives whole once the peer reads.
        Assert.Equal(total, (await ReadAsync(client, (int)total)).Length);
    }

    [Fact]
    public async Task Send_DisposedSocket_IsAbortedNotThrown()
    {
        var (client, server) = await PairAsync();
        using var _ = client;
        var handle = server.SafeHandle;
        server.Dispose();

        var sent = RawSend.Send(handle, ["x"u8.ToArray()], out var error);

        Assert.Equal(0, sent);
        Assert.Equal(SocketError.OperationAborted, error);
    }

    [Fact]
    public async Task Send_PeerReset_Fails()
    {
        var (client, server) = await PairAsync();
        using var __ = server;
        client.LingerState = new LingerOption(true, 0);
        client.Dispose();
        await Task.Delay(50);
        SocketError error;
        var calls = 0;
        do
        {
            RawSend.Send(server.SafeHandle, ["data"u8.ToArray()], out error);
            await Task.Delay(10);
        }
        while (error == SocketError.Success && ++calls < 100);

        Assert.True(error is SocketError.ConnectionReset or SocketError.Shutdown, $"error {error}");
    }
}
