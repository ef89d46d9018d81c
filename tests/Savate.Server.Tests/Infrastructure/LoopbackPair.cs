using System.Net;
using System.Net.Sockets;

namespace Savate.Server.Tests.Infrastructure;

public static class LoopbackPair
{
    /// <summary>A connected loopback TCP pair: the client's socket and the one the server side accepted (left blocking, as accepted).</summary>
    public static async Task<(Socket Client, Socket Server)> ConnectAsync()
    {
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen();
        var client = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        var accept = listener.AcceptAsync();
        await client.ConnectAsync(listener.LocalEndPoint!);
        return (client, await accept);
    }
}
