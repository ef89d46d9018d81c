using System.Net.Sockets;
using System.Text;

namespace Savate.Server.Tests.Infrastructure;

/// <summary>Raw sockets for protocol edges: exact bytes on the wire, peers that stop reading.</summary>
public sealed class RawHttp : IAsyncDisposable
{
    private readonly Socket _socket;

    private RawHttp(Socket socket) => _socket = socket;

    public Socket Socket => _socket;

    public static async Task<RawHttp> ConnectAsync(int port, int? receiveBuffer = null)
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        if (receiveBuffer is { } size)
        {
            socket.ReceiveBufferSize = size;
        }
        await socket.ConnectAsync("127.0.0.1", port);
        return new RawHttp(socket);
    }

    /// <summary>Takes over a socket connected elsewhere (one bound to another loopback address, say).</summary>
    public static RawHttp Wrap(Socket socket) => new(socket);

    public Task SendAsync(string text) => SendAsync(Encoding.ASCII.GetBytes(text));

    public async Task SendAsync(ReadOnlyMemory<byte> bytes)
    {
        await _socket.SendAsync(bytes, SocketFlags.None);
    }

    /// <summary>Reads until the response head is complete; returns it and whatever body bytes came with it.</summary>
    public async Task<(string Head, byte[] Body)> ReadHeadAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var buffer = new List<byte>();
        var chunk = new byte[4096];
        while (true)
        {
            var text = Encoding.ASCII.GetString(buffer.ToArray());
            var end = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            if (end >= 0)
            {
                return (text[..end], buffer.Skip(end + 4).ToArray());
            }
            var read = await _socket.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
            if (read == 0)
            {
                return (text, []);
            }
            buffer.AddRange(chunk.AsSpan(0, read).ToArray());
        }
    }

    /// <summary>Reads until <paramref name="count"/> bytes arrived, the peer closed, or the timeout; returns what came.</summary>
    public async Task<byte[]> ReadAsync(int count, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var result = new List<byte>();
        var chunk = new byte[16384];
        try
        {
            while (result.Count < count)
            {
                var read = await _socket.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    break;
                }
                result.AddRange(chunk.AsSpan(0, read).ToArray());
            }
        }
        catch (OperationCanceledException)
        {
        }
        return [.. result];
    }

    /// <summary>True when the server closed (or reset) the connection within the timeout.</summary>
    public async Task<bool> WaitClosedAsync(TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var chunk = new byte[65536];
        try
        {
            while (true)
            {
                var read = await _socket.ReceiveAsync(chunk, SocketFlags.None, cts.Token);
                if (read == 0)
                {
                    return true;
                }
            }
        }
        catch (SocketException)
        {
            return true;
        }
        catch (OperationCanceledException)
        {
            return false;
        }
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
