using System.Diagnostics;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace Savate.LoadTest;

/// <summary>
/// The listeners' reads, done the way a C load generator does them: a few threads (one per core by default,
/// <c>--receivers</c>), each with its own epoll set, reading each ready socket once per event with one
/// non-blocking <c>recv</c> into the listener's buffer. The tool shares the machine with the server it measures:
/// with one async receive per listener (the runtime's socket engine, a thread-pool continuation and an async
/// state-machine step per read) it took a whole core at 5,000 listeners and 1.1 cores at 19,000, leaving the
/// server less than it needs (docs/benchmarks.md, round 6). The sockets never go through the runtime's socket
/// engine: the connect is started non-blocking and finished here (EPOLLOUT), and the request is sent here.
/// Linux on x86-64 only (the packed <c>epoll_event</c>); TLS and slow listeners keep the async path.
/// </summary>
internal sealed unsafe partial class EpollReceivers : IDisposable
{
    private const int EpollCtlAdd = 1;
    private const int EpollCtlDel = 2;
    private const int EpollCtlMod = 3;
    private const uint EpollIn = 0x001;
    private const uint EpollOut = 0x004;
    private const int EIntr = 4;
    private const int EAgain = 11;
    private const int MsgDontWait = 0x40;
    private const int MsgNoSignal = 0x4000;

    private readonly Receiver[] _receivers;
    private int _next;

    public EpollReceivers(int count, ListenerClient[] clients)
    {
        _receivers = new Receiver[count];
        for (var i = 0; i < count; i++)
        {
            _receivers[i] = new Receiver(i, clients);
        }
    }

    public static bool IsSupported { get; } = OperatingSystem.IsLinux() && RuntimeInformation.ProcessArchitecture == Architecture.X64;

    // x86-64's epoll_event is packed: 4 bytes of events, then 8 of data.
    [StructLayout(LayoutKind.Sequential, Pack = 1)]
    private struct EpollEvent
    {
        public uint Events;
        public ulong Data;
    }

    [LibraryImport("libc", EntryPoint = "epoll_create1", SetLastError = true)]
    private static partial int EpollCreate(int flags);

    [LibraryImport("libc", EntryPoint = "epoll_ctl", SetLastError = true)]
    private static partial int EpollCtl(int epoll, int op, SafeSocketHandle socket, EpollEvent* ev);

    [LibraryImport("libc", EntryPoint = "epoll_wait", SetLastError = true)]
    private static partial int EpollWait(int epoll, EpollEvent* events, int max, int timeoutMs);

    [LibraryImport("libc", EntryPoint = "recv", SetLastError = true)]
    private static partial nint Recv(SafeSocketHandle socket, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "send", SetLastError = true)]
    private static partial nint Send(SafeSocketHandle socket, byte* buffer, nuint length, int flags);

    [LibraryImport("libc", EntryPoint = "close")]
    private static partial int Close(int fd);

    /// <summary>Hands <paramref name="client"/>'s socket (connect started, not finished) to a receiver, round robin.</summary>
    public void Add(ListenerClient client, Socket socket, byte[] request, bool connected)
    {
        var receiver = _receivers[(int)((uint)Interlocked.Increment(ref _next) % (uint)_receivers.Length)];
        receiver.Add(client, socket, request, connected);
    }

    /// <summary>Stops every receiver thread (each ends its clients' runs) and waits for them.</summary>
    public void Dispose()
    {
        foreach (var receiver in _receivers)
        {
            receiver.Stop();
        }
    }

    /// <summary>
    /// Sends the whole request now (a fresh socket's buffer always takes a request's bytes); false when the socket
    /// failed.
    /// </summary>
    private static bool SendRequest(Socket socket, byte[] request)
    {
        fixed (byte* p = request)
        {
            var sent = Send(socket.SafeHandle, p, (nuint)request.Length, MsgDontWait | MsgNoSignal);
            return sent == request.Length;
        }
    }

    private sealed class Receiver
    {
        private readonly int _epoll;
        private readonly ListenerClient[] _clients;
        private readonly Thread _thread;
        private readonly Dictionary<int, (Socket Socket, byte[] Request)> _connecting = [];
        private readonly Lock _lock = new();
        private volatile bool _stop;

        public Receiver(int index, ListenerClient[] clients)
        {
            _clients = clients;
            _epoll = EpollCreate(0x80000 /* EPOLL_CLOEXEC */);
            if (_epoll < 0)
            {
                throw new InvalidOperationException($"epoll_create1: errno {Marshal.GetLastPInvokeError()}");
            }
            _thread = new Thread(Run) { IsBackground = true, Name = $"recv-{index}" };
            _thread.Start();
        }

        public void Add(ListenerClient client, Socket socket, byte[] request, bool connected)
        {
            if (connected && !SendRequest(socket, request))
            {
                client.Finish(Stopwatch.GetTimestamp(), "socket: request not sent");
                return;
            }
            if (!connected)
            {
                lock (_lock)
                {
                    _connecting[client.Index] = (socket, request);
                }
            }
            var ev = new EpollEvent { Events = connected ? EpollIn : EpollOut, Data = (ulong)client.Index };
            if (EpollCtl(_epoll, EpollCtlAdd, socket.SafeHandle, &ev) != 0)
            {
                lock (_lock)
                {
                    _connecting.Remove(client.Index);
                }
                client.Finish(Stopwatch.GetTimestamp(), $"epoll_ctl: errno {Marshal.GetLastPInvokeError()}");
            }
        }

        public void Stop()
        {
            _stop = true;
            _thread.Join();
            Close(_epoll);
        }

        private void Run()
        {
            const int Max = 512;
            var events = stackalloc EpollEvent[Max];
            while (!_stop)
            {
                var n = EpollWait(_epoll, events, Max, 100);
                if (n < 0)
                {
                    if (Marshal.GetLastPInvokeError() == EIntr)
                    {
                        continue;
                    }
                    break;
                }
                // Joins first (a connect to finish, a first response to read), then the streams: behind a batch of
                // streams to drain, a join waited tens of milliseconds here, which the tool counted as the server's
                // time to first byte.
                for (var pass = 0; pass < 2; pass++)
                {
                    for (var i = 0; i < n; i++)
                    {
                        var client = _clients[(int)events[i].Data];
                        if ((client.FirstByte == 0) != (pass == 0))
                        {
                            continue;
                        }
                        if ((events[i].Events & EpollOut) != 0 && client.FirstByte == 0 && !client.RequestSent)
                        {
                            Connected(client);
                        }
                        else
                        {
                            Read(client);
                        }
                    }
                }
            }
            // The run is over: every client still here ends without a reason (as a cancelled async read does).
            foreach (var client in _clients)
            {
                client.Finish(Stopwatch.GetTimestamp(), null);
            }
        }

        // EPOLLOUT on a connecting socket: the connect finished, well or not.
        private void Connected(ListenerClient client)
        {
            (Socket Socket, byte[] Request) entry;
            lock (_lock)
            {
                if (!_connecting.Remove(client.Index, out entry))
                {
                    return;
                }
            }
            var socket = entry.Socket;
            var error = (SocketError)(int)socket.GetSocketOption(SocketOptionLevel.Socket, SocketOptionName.Error)!;
            if (error != SocketError.Success || !SendRequest(socket, entry.Request))
            {
                Drop(client, socket, error != SocketError.Success ? $"socket: {error}" : "socket: request not sent");
                return;
            }
            client.RequestSent = true;
            var ev = new EpollEvent { Events = EpollIn, Data = (ulong)client.Index };
            if (EpollCtl(_epoll, EpollCtlMod, socket.SafeHandle, &ev) != 0)
            {
                Drop(client, socket, $"epoll_ctl: errno {Marshal.GetLastPInvokeError()}");
            }
        }

        // Reads until the socket is empty (a short read says so) or a few buffers' worth were read (level-triggered:
        // what is left is reported again, and the other sockets get their turn). Reading one buffer per event left
        // data queued on our side at 19,000 listeners: the kernel's TCP memory rose past tcp_mem's min and the server
        // evicted listeners that were only waiting for this tool.
        private void Read(ListenerClient client)
        {
            var socket = client.Socket!;
            for (var reads = 0; reads < 8; reads++)
            {
                var buffer = client.ReceiveBuffer;
                nint n;
                fixed (byte* p = buffer.Span)
                {
                    n = Recv(socket.SafeHandle, p, (nuint)buffer.Length, MsgDontWait);
                }
                var now = Stopwatch.GetTimestamp();
                if (n > 0)
                {
                    client.Received((int)n, now);
                    if (n < buffer.Length)
                    {
                        return;
                    }
                    continue;
                }
                if (n == 0)
                {
                    Drop(client, socket, client.Status == 0 ? "closed before a response" : client.Status != 200 ? $"HTTP {client.Status}" : "closed by server");
                    return;
                }
                var errno = Marshal.GetLastPInvokeError();
                if (errno is EAgain or EIntr)
                {
                    return;
                }
                Drop(client, socket, errno switch { 104 => "socket: ConnectionReset", 32 => "socket: Shutdown", 110 => "socket: TimedOut", _ => $"socket: errno {errno}" });
                return;
            }
        }

        private void Drop(ListenerClient client, Socket socket, string reason)
        {
            EpollCtl(_epoll, EpollCtlDel, socket.SafeHandle, null);
            client.Finish(Stopwatch.GetTimestamp(), reason);
        }
    }
}
