using System.Buffers;
using System.Net;
using System.Net.Sockets;
using System.Threading.Channels;
using Microsoft.AspNetCore.Connections;
using Microsoft.AspNetCore.Server.Kestrel.Transport.Sockets;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>
/// Kestrel's transport for TCP endpoints, with a front door: each accepted socket's request head is peeked
/// (MSG_PEEK, nothing consumed) and a GET or HEAD for a known mount is served right there by
/// <see cref="RawListener"/>, on the bare socket. Everything else (sources, status, unknown paths, TLS, a
/// head that arrived in pieces) goes to Kestrel untouched, through the same <see cref="SocketConnectionContextFactory"/>
/// Kestrel's own socket transport uses. A listener then costs its socket and the streaming state, not a
/// Kestrel connection (two pipes, a receive loop, a send loop, features: about 3.5 KB each, 35 MB at 10,000
/// listeners, docs/benchmarks.md).
/// </summary>
internal sealed class FrontDoorTransportFactory(
    IOptions<SocketTransportOptions> options, MountRegistry registry, ConnectionGate gate, Auth.AccessControl access, AddressLimits limits, ILoggerFactory loggers) : IConnectionListenerFactory, IConnectionListenerFactorySelector
{
    public bool CanBind(EndPoint endpoint) => endpoint is IPEndPoint;

    public ValueTask<IConnectionListener> BindAsync(EndPoint endpoint, CancellationToken cancellationToken = default)
    {
        var listener = new FrontDoorListener(endpoint, options.Value, registry, gate, access, limits, loggers.CreateLogger<FrontDoorListener>());
        listener.Start();
        return new ValueTask<IConnectionListener>(listener);
    }
}

internal sealed partial class FrontDoorListener : IConnectionListener
{
    // A request head that does not fit here is not a player's GET: Kestrel answers it.
    private const int PeekBytes = 4096;

    private readonly Socket _listenSocket;
    private readonly SocketConnectionContextFactory _factory;
    private readonly MountRegistry _registry;
    private readonly ConnectionGate _gate;
    private readonly Auth.AccessControl _access;
    private readonly AddressLimits _limits;
    private readonly ILogger _logger;
    private readonly bool _noDelay;
    private readonly Channel<Socket> _handoff = Channel.CreateUnbounded<Socket>(new UnboundedChannelOptions { SingleReader = true });
    private readonly CancellationTokenSource _stopping = new();
    private Task _acceptLoop = Task.CompletedTask;
    private long _lastAcceptErrorLog;

    public FrontDoorListener(EndPoint endpoint, SocketTransportOptions options, MountRegistry registry, ConnectionGate gate, Auth.AccessControl access, AddressLimits limits, ILogger logger)
    {
        _registry = registry;
        _gate = gate;
        _access = access;
        _limits = limits;
        _logger = logger;
        _noDelay = options.NoDelay;
        _listenSocket = (options.CreateBoundListenSocket ?? SocketTransportOptions.CreateDefaultBoundListenSocket)(endpoint);
        EndPoint = _listenSocket.LocalEndPoint ?? endpoint;
        // At least the kernel's own cap: a burst of joins waits in the queue instead of overflowing it.
        _listenSocket.Listen(Math.Max(options.Backlog, SoMaxConn()));
        _factory = new SocketConnectionContextFactory(new SocketConnectionFactoryOptions
        {
            IOQueueCount = options.IOQueueCount,
            WaitForDataBeforeAllocatingBuffer = options.WaitForDataBeforeAllocatingBuffer,
            MaxReadBufferSize = options.MaxReadBufferSize,
            MaxWriteBufferSize = options.MaxWriteBufferSize,
            UnsafePreferInlineScheduling = options.UnsafePreferInlineScheduling,
        }, logger);
    }

    public EndPoint EndPoint { get; }

    /// <summary>
    /// Accepting runs on a dedicated thread (blocking accept), so it never waits behind busy send loops or a
    /// saturated thread pool; each accepted socket's triage is queued to the thread pool.
    /// </summary>
    public void Start()
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _acceptLoop = done.Task;
        var thread = new Thread(() =>
        {
            try
            {
                AcceptLoop();
            }
            finally
            {
                done.TrySetResult();
            }
        })
        { IsBackground = true, Name = $"savate-accept {EndPoint}" };
        thread.Start();
    }

    private static int SoMaxConn()
    {
        try
        {
            return int.Parse(File.ReadAllText("/proc/sys/net/core/somaxconn").Trim(), System.Globalization.CultureInfo.InvariantCulture);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException or OverflowException)
        {
            return 4096;
        }
    }

    /// <summary>Kestrel's side: the connections the front door did not keep.</summary>
    public async ValueTask<ConnectionContext?> AcceptAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            while (await _handoff.Reader.WaitToReadAsync(cancellationToken).ConfigureAwait(false))
            {
                while (_handoff.Reader.TryRead(out var socket))
                {
                    try
                    {
                        return _factory.Create(socket);
                    }
                    catch (Exception e) when (e is SocketException or ObjectDisposedException)
                    {
                        // Gone before Kestrel could take it.
                        _gate.Track(socket).Dispose();
                        socket.Dispose();
                    }
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
        return null;
    }

    public async ValueTask UnbindAsync(CancellationToken cancellationToken = default)
    {
        _listenSocket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        _listenSocket.Dispose();
        await _acceptLoop.ConfigureAwait(false);
        _stopping.Cancel();
        while (_handoff.Reader.TryRead(out var socket))
        {
            _gate.Track(socket).Dispose();
            socket.Dispose();
        }
        _factory.Dispose();
        _stopping.Dispose();
    }

    private void AcceptLoop()
    {
        while (true)
        {
            Socket socket;
            try
            {
                socket = _listenSocket.Accept();
            }
            catch (ObjectDisposedException)
            {
                break;
            }
            catch (SocketException e) when (e.SocketErrorCode is SocketError.OperationAborted or SocketError.Interrupted or SocketError.InvalidArgument)
            {
                // The listen socket was closed (unbind).
                break;
            }
            catch (SocketException e)
            {
                // A reset before accept, or out of descriptors: logged at most once a second, and the
                // loop goes on (out of descriptors, after shedding the oldest unfinished requests and a
                // pause, so it does not spin). Nothing here ends the accept loop but the listen socket's close.
                if (e.SocketErrorCode != SocketError.ConnectionReset)
                {
                    if (e.SocketErrorCode is SocketError.TooManyOpenSockets or SocketError.NoBufferSpaceAvailable)
                    {
                        _gate.OnOutOfDescriptors();
                    }
                    var now = Environment.TickCount64;
                    if (now - _lastAcceptErrorLog > 1000)
                    {
                        _lastAcceptErrorLog = now;
                        AcceptFailed(_logger, e.SocketErrorCode, e.Message);
                    }
                    Thread.Sleep(10);
                }
                continue;
            }
            catch (Exception e) when (e is not OutOfMemoryException)
            {
                // Whatever else accept may throw: logged, and accepting goes on.
                AcceptFailed(_logger, SocketError.SocketError, e.Message);
                Thread.Sleep(10);
                continue;
            }
            var pending = _gate.TryAdmit(socket);
            if (pending is null)
            {
                // Over its address's cap, or near the descriptor limit: a reset frees the descriptor at once.
                Refuse(socket);
                continue;
            }
            ThreadPool.UnsafeQueueUserWorkItem(static s => _ = s.Door.TriageAsync(s.Socket, s.Pending), new Accepted(this, socket, pending), preferLocal: false);
        }
        _handoff.Writer.TryComplete();
    }

    private static void Refuse(Socket socket)
    {
        try
        {
            socket.Close(0);
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException)
        {
            socket.Dispose();
        }
    }

    private async Task TriageAsync(Socket socket, PendingConnection pending)
    {
        var handedOff = false;
        try
        {
            socket.NoDelay = _noDelay;
            // The head's deadline runs from the accept (request-head-timeout), here and then in the connection
            // middleware if the head is not whole yet; the gate may shed the connection meanwhile.
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, pending.Token))
            {
                // Wait for the request without holding a buffer: a zero-byte receive completes on data or FIN
                // (and may wake without either: then it waits again).
                while (socket.Available == 0)
                {
                    if (SocketWatcher.IsSupported)
                    {
                        // The process's epoll watcher: the socket never takes the runtime's async machinery, which
                        // it would keep for the listener's life (SocketWatcher).
                        await SocketWatcher.Shared.ReadableAsync(socket, timeout.Token).ConfigureAwait(false);
                    }
                    else
                    {
                        await socket.ReceiveAsync(Memory<byte>.Empty, SocketFlags.None, timeout.Token).ConfigureAwait(false);
                    }
                    if (socket.Available == 0 && socket.Poll(0, SelectMode.SelectRead))
                    {
                        // Readable with nothing to read: closed before saying anything.
                        socket.Dispose();
                        return;
                    }
                }
            }
            if (Peek(socket) is { } listener)
            {
                pending.Dispose();
                // The listener owns the socket from here, and the triage ends: not awaited, so this state machine, the
                // pending connection and its deadline are not kept for the listener's life (about 400 bytes a listener).
                // HandleAsync logs what fails in it.
                _ = RawListener.HandleAsync(new SocketListenerConnection(socket, _stopping.Token), listener.Head, _registry, listener.Mount, _access, _limits, _logger);
                return;
            }
            // Still pending: the connection middleware reads the rest of its head under the same deadline.
            handedOff = _handoff.Writer.TryWrite(socket);
            if (!handedOff)
            {
                // Unbound meanwhile.
                socket.Dispose();
            }
        }
        catch (Exception e) when (e is SocketException or ObjectDisposedException or OperationCanceledException)
        {
            // Silent past the timeout, reset, or the server is stopping.
            socket.Dispose();
        }
        catch (Exception e)
        {
            TriageFailed(_logger, e);
            socket.Dispose();
        }
        finally
        {
            if (!handedOff)
            {
                pending.Dispose();
            }
        }
    }

    /// <summary>
    /// Peeks at the request head; when it is a whole GET or HEAD for a known mount, consumes exactly the
    /// head and returns what the listener needs. Otherwise consumes nothing.
    /// </summary>
    private PeekedListener? Peek(Socket socket)
    {
        var buffer = ArrayPool<byte>.Shared.Rent(PeekBytes);
        try
        {
            var peeked = Receive(socket, buffer.AsSpan(0, PeekBytes), peek: true);
            var bytes = new ReadOnlySequence<byte>(buffer, 0, peeked);
            RawRequestHead? head;
            SequencePosition end;
            Mount? mount;
            try
            {
                if (!RawRequestHead.TryParse(bytes, out head, out end) || head.IsRawSource || (mount = head.ListenerMount(_registry)) is null)
                {
                    return null;
                }
            }
            catch (BadRequestHeadException)
            {
                // The connection middleware answers it (one place for 400, 414 and 431).
                return null;
            }
            // The head is in the socket's buffer already: these reads do not wait.
            var headLength = (int)bytes.Slice(0, end).Length;
            for (var read = 0; read < headLength;)
            {
                var n = Receive(socket, buffer.AsSpan(0, headLength - read), peek: false);
                if (n == 0)
                {
                    throw new SocketException((int)SocketError.ConnectionReset);
                }
                read += n;
            }
            return new PeekedListener(mount, head);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    // Data is waiting (Available said so): these do not wait. Through RawSend where the socket watcher runs, since a
    // blocking Socket's own receive would give the socket the runtime's context for its life (SocketWatcher).
    private static int Receive(Socket socket, Span<byte> buffer, bool peek)
    {
        if (!SocketWatcher.IsSupported)
        {
            return socket.Receive(buffer, peek ? SocketFlags.Peek : SocketFlags.None);
        }
        var read = RawSend.Receive(socket.SafeHandle, buffer, out var error, peek);
        return error switch
        {
            SocketError.Success => read,
            SocketError.WouldBlock => peek ? 0 : throw new SocketException((int)SocketError.WouldBlock),
            SocketError.OperationAborted => throw new ObjectDisposedException(nameof(Socket)),
            _ => throw new SocketException((int)error),
        };
    }

    private sealed record Accepted(FrontDoorListener Door, Socket Socket, PendingConnection Pending);

    private sealed record PeekedListener(Mount Mount, RawRequestHead Head);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Accepting a connection failed ({Error}): {Message}")]
    private static partial void AcceptFailed(ILogger logger, SocketError error, string message);

    [LoggerMessage(Level = LogLevel.Error, Message = "A new connection failed before its request was read")]
    private static partial void TriageFailed(ILogger logger, Exception exception);
}
