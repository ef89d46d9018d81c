using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Logging;

namespace Savate.Server.Http;

/// <summary>
/// Bounds the connections that have not finished their request head ("pending"), the ones an attacker can hold
/// for the price of a SYN and a few bytes. Each accepted connection gets a <see cref="PendingConnection"/>: a
/// deadline of <c>request-head-timeout</c> from its accept, whichever layer ends up reading its head (front door,
/// connection middleware), and a place in an accept-ordered list. Limits, decided at accept:
/// <list type="bullet">
/// <item><c>max-pending-per-address</c>: a new connection from an address that already has that many pending, the oldest
/// of them for a second or more, is closed at once.</item>
/// <item><c>max-pending-connections</c>: the oldest pending connection is shed to make room for the new one.</item>
/// <item>Near the descriptor limit (RLIMIT_NOFILE read at start, minus a reserve of 5%, 48 to 512): the oldest pending connection
/// is shed, and a new connection is kept only if its address has none pending: a flooding address is refused, a
/// newcomer (another player) still gets in. The process never runs out of descriptors on unfinished heads.</item>
/// </list>
/// Descriptors open are counted (<see cref="OpenDescriptors"/>: one stat on Linux 6.2 and later) at most every 50 ms; between counts, each connection admitted
/// is added to the last count, so a burst of accepts is not missed. (An accepted socket's descriptor number is not
/// enough: once the table is nearly full, closes leave holes low in it and new sockets fill them.) The reserve
/// matters beyond sockets: the runtime opens an assembly's file the first time code from it runs, and a process
/// that cannot has been seen to die ("Out of memory.", exit 134).
/// </summary>
internal sealed partial class ConnectionGate
{
    private readonly object _lock = new();
    private readonly LinkedList<PendingConnection> _pending = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Dictionary<Socket, PendingConnection> _bySocket = new(ReferenceEqualityComparer.Instance);
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly LogThrottle _throttle;
    private readonly int _maxPending;
    private readonly int _maxPerAddress;
    private readonly Func<long> _countDescriptors;
    private readonly long _recountTicks;
    private readonly long _hardThreshold;

    // An address over its cap is refused only once its oldest unfinished head is this old: players joining in a
    // burst from one address (a NAT, a relay, a load test on a busy machine) finish their heads in milliseconds,
    // a flood of half-sent heads does not. The total cap and the descriptor guard bound the burst meanwhile.
    private static readonly TimeSpan s_burstGrace = TimeSpan.FromSeconds(1);
    private long _countedAt = long.MinValue;
    private long _counted;

    public ConnectionGate(SavateConfig config, TimeProvider time, ILogger<ConnectionGate> logger, Streaming.MountRegistry registry)
        : this(config.Server, time, logger, ReadDescriptorLimit(), Http.OpenDescriptors.Count)
    {
        Refusals = registry.Refusals;
    }

    internal ConnectionGate(ServerConfig server, TimeProvider time, ILogger logger, long? descriptorLimit, Func<long> countDescriptors)
    {
        _countDescriptors = countDescriptors;
        _recountTicks = time.TimestampFrequency / 20;
        _time = time;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
        Timeout = server.RequestHeadTimeout;
        _maxPending = server.MaxPendingConnections;
        _maxPerAddress = server.MaxPendingPerAddress;
        DescriptorLimit = descriptorLimit;
        // A reserve of 5% (at least 48, at most 512) for what the process opens besides client sockets: assemblies
        // loaded late, log files, fallback files, relays' upstream connections, sockets accepted and not yet closed.
        // Capped so that a large limit is not mostly reserve: at 20,000, 5% would keep 1,000 listeners out.
        var reserve = descriptorLimit is { } limit ? Math.Clamp(limit / 20, 48, 512) : 0;
        DescriptorThreshold = descriptorLimit is { } soft ? soft - reserve : long.MaxValue;
        // Past this, nobody new gets in even if something was shed: shed connections free their descriptors
        // only when their owners run, which on a loaded machine can take a while.
        _hardThreshold = descriptorLimit is { } hard ? hard - reserve / 2 : long.MaxValue;
    }

    /// <summary>request-head-timeout.</summary>
    public TimeSpan Timeout { get; }

    /// <summary>The process's descriptor limit (RLIMIT_NOFILE), when known.</summary>
    public long? DescriptorLimit { get; }

    /// <summary>Where refused and shed connections are counted (metrics).</summary>
    internal Metrics.RefusalCounters Refusals { get; } = new();

    /// <summary>With this many descriptors open, the process is near its limit.</summary>
    public long DescriptorThreshold { get; }

    /// <summary>Connections not finished with their head, now.</summary>
    public int PendingCount
    {
        get
        {
            lock (_lock)
            {
                return _pending.Count;
            }
        }
    }

    /// <summary>
    /// Decides on a connection just accepted: a <see cref="PendingConnection"/> to read its head under, or null
    /// when it must be closed at once (its address is over its cap, or the process is near its descriptor limit).
    /// </summary>
    public PendingConnection? TryAdmit(Socket socket) => TryAdmit(AddressOf(socket.RemoteEndPoint), socket);

    /// <summary><see cref="TryAdmit(Socket)"/> for a connection from <paramref name="address"/>.</summary>
    internal PendingConnection? TryAdmit(IPAddress address, Socket? socket)
    {
        List<PendingConnection>? shed = null;
        PendingConnection? admitted = null;
        string? refusal = null;
        lock (_lock)
        {
            var fromAddress = _perAddress.GetValueOrDefault(address);
            if (fromAddress >= _maxPerAddress && OldestAge(address) >= s_burstGrace)
            {
                refusal = $"{fromAddress} connections from it have not finished their request head (max-pending-per-address)";
                Refusals.On(Metrics.RefusalReason.PendingLimit);
            }
            else if (OpenDescriptors() is var open && open >= DescriptorThreshold)
            {
                // Make room, and keep this one only if it is a newcomer and room was made: a flooding address
                // is refused, another player still gets in, and with nothing to shed nobody new does.
                // (The shed descriptors are counted as open until the next count: their owners close them later.)
                var before = shed?.Count ?? 0;
                ShedOldest(ref shed, Math.Max(1, _pending.Count / 64));
                var made = (shed?.Count ?? 0) - before;
                if (made > 0)
                {
                    Refusals.On(Metrics.RefusalReason.FdLimit, made);
                }
                if (fromAddress > 0 || made == 0 || open >= _hardThreshold)
                {
                    Refusals.On(Metrics.RefusalReason.FdLimit);
                    refusal = fromAddress > 0
                        ? $"near the descriptor limit ({open} of {DescriptorLimit} open) and it already has {fromAddress} unfinished requests"
                        : $"near the descriptor limit ({open} of {DescriptorLimit} open) and nothing that can be shed at once";
                }
            }
            if (refusal is null)
            {
                if (_pending.Count >= _maxPending)
                {
                    ShedOldest(ref shed, 1);
                    Refusals.On(Metrics.RefusalReason.PendingShed);
                }
                _counted++;
                admitted = new PendingConnection(this, address, socket, _time, Timeout);
                admitted.Node = _pending.AddLast(admitted);
                _perAddress[address] = _perAddress.GetValueOrDefault(address) + 1;
                if (socket is not null)
                {
                    _bySocket[socket] = admitted;
                }
            }
        }
        // Connections are shed and logged outside the lock: cancelling runs their owners' callbacks.
        Shed(shed, "the oldest unfinished request while pending connections are at their cap or near the descriptor limit");
        if (refusal is not null && _throttle.ShouldLog("refused|" + address, out var suppressed))
        {
            ConnectionRefused(_logger, address.ToString(), refusal, suppressed);
        }
        return admitted;
    }

    /// <summary>
    /// Accept itself failed for want of descriptors (EMFILE/ENFILE): sheds the oldest pending connections
    /// (an eighth of them), so the next accepts can succeed.
    /// </summary>
    public void OnOutOfDescriptors()
    {
        List<PendingConnection>? shed = null;
        lock (_lock)
        {
            var before = _pending.Count;
            ShedOldest(ref shed, Math.Max(1, _pending.Count / 8));
            Refusals.On(Metrics.RefusalReason.FdLimit, before - _pending.Count);
        }
        Shed(shed, "the process ran out of descriptors");
    }

    /// <summary>
    /// The pending connection of a socket the front door accepted, for the layer that reads its head; or, for a
    /// connection the gate never saw (a transport without a socket), one whose deadline starts now.
    /// </summary>
    public PendingConnection Track(Socket? socket)
    {
        if (socket is not null)
        {
            lock (_lock)
            {
                if (_bySocket.TryGetValue(socket, out var pending))
                {
                    return pending;
                }
            }
        }
        return new PendingConnection(null, IPAddress.None, null, _time, Timeout);
    }

    /// <summary>
    /// Done with the gate, whatever happened: the pending connection of <paramref name="socket"/>, if it still has one, is
    /// removed (a TLS handshake that failed never reaches the middleware that reads the head; an HTTP/2 connection has
    /// no HTTP/1 head).
    /// </summary>
    public void Release(Socket? socket)
    {
        if (socket is null)
        {
            return;
        }
        PendingConnection? pending;
        lock (_lock)
        {
            _bySocket.TryGetValue(socket, out pending);
        }
        pending?.Dispose();
    }

    /// <summary>Logs a request head refused (400, 414, 431) or timed out (408), once per address and reason per window.</summary>
    public void OnBadHead(string remote, IPAddress? address, string reason)
    {
        if (_throttle.ShouldLog("head|" + (address?.ToString() ?? remote) + "|" + reason, out var suppressed))
        {
            BadRequestHead(_logger, remote, reason, suppressed);
        }
    }

    internal void Remove(PendingConnection pending)
    {
        lock (_lock)
        {
            if (pending.Node is { } node)
            {
                pending.Node = null;
                _pending.Remove(node);
                Uncount(pending.Address);
            }
            // A shed connection stays findable until its owner lets go: the layer that reads its head next
            // must see it shed, not start it a fresh deadline.
            if (pending.Socket is { } pendingSocket)
            {
                _bySocket.Remove(pendingSocket);
            }
        }
    }

    private void Uncount(IPAddress address)
    {
        var left = _perAddress[address] - 1;
        if (left == 0)
        {
            _perAddress.Remove(address);
        }
        else
        {
            _perAddress[address] = left;
        }
    }

    // Under _lock: how long the oldest pending connection from the address has waited for its head.
    private TimeSpan OldestAge(IPAddress address)
    {
        for (var node = _pending.First; node is not null; node = node.Next)
        {
            if (node.Value.Address.Equals(address))
            {
                return _time.GetElapsedTime(node.Value.AcceptedAt);
            }
        }
        return TimeSpan.Zero;
    }

    private void ShedOldest(ref List<PendingConnection>? shed, int count)
    {
        for (var i = 0; i < count && _pending.First is { } oldest; i++)
        {
            _pending.RemoveFirst();
            oldest.Value.Node = null;
            Uncount(oldest.Value.Address);
            (shed ??= []).Add(oldest.Value);
        }
    }

    private void Shed(List<PendingConnection>? shed, string why)
    {
        if (shed is null)
        {
            return;
        }
        foreach (var pending in shed)
        {
            pending.Shed();
            if (_throttle.ShouldLog("shed|" + pending.Address, out var suppressed))
            {
                ConnectionShed(_logger, pending.Address.ToString(), why, suppressed);
            }
        }
    }

    internal static IPAddress AddressOf(EndPoint? endpoint)
    {
        var address = (endpoint as IPEndPoint)?.Address ?? IPAddress.None;
        return address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
    }

    // Under _lock. The last count plus what was admitted since, recounted at most every 50 ms.
    private long OpenDescriptors()
    {
        if (DescriptorLimit is null)
        {
            return 0;
        }
        var now = _time.GetTimestamp();
        if (_countedAt == long.MinValue || now - _countedAt >= _recountTicks)
        {
            _countedAt = now;
            _counted = _countDescriptors();
        }
        return _counted;
    }

    /// <summary>The soft RLIMIT_NOFILE of this process (the runtime raises it to the hard limit at start), or null when unknown or unlimited.</summary>
    internal static long? ReadDescriptorLimit()
    {
        try
        {
            foreach (var line in File.ReadLines("/proc/self/limits"))
            {
                if (line.StartsWith("Max open files", StringComparison.Ordinal))
                {
                    var fields = line["Max open files".Length..].Split(' ', StringSplitOptions.RemoveEmptyEntries);
                    return fields.Length > 0 && long.TryParse(fields[0], NumberStyles.None, CultureInfo.InvariantCulture, out var limit) ? limit : null;
                }
            }
        }
        catch (IOException)
        {
        }
        catch (UnauthorizedAccessException)
        {
        }
        return null;
    }

    [LoggerMessage(EventId = 40, Level = LogLevel.Warning, Message = "Refused a connection from {Address}: {Reason} ({Suppressed} more not logged)")]
    private static partial void ConnectionRefused(ILogger logger, string address, string reason, long suppressed);

    [LoggerMessage(EventId = 41, Level = LogLevel.Warning, Message = "Shed a pending connection from {Address}: {Reason} ({Suppressed} more not logged)")]
    private static partial void ConnectionShed(ILogger logger, string address, string reason, long suppressed);

    [LoggerMessage(EventId = 42, Level = LogLevel.Information, Message = "Closed {Remote}: {Reason} ({Suppressed} more not logged)")]
    private static partial void BadRequestHead(ILogger logger, string remote, string reason, long suppressed);
}

/// <summary>Why a pending connection's token fired.</summary>
internal enum PendingEnd
{
    /// <summary>Still reading, or finished its head.</summary>
    None,

    /// <summary>request-head-timeout passed since its accept (answered 408).</summary>
    TimedOut,

    /// <summary>Shed by the <see cref="ConnectionGate"/> (closed without an answer).</summary>
    Shed,
}

/// <summary>A connection that has not finished its request head: its deadline, and a way to shed it.</summary>
internal sealed class PendingConnection : IDisposable
{
    private readonly ConnectionGate? _gate;
    private readonly CancellationTokenSource _cancel;
    private volatile bool _shed;

    internal PendingConnection(ConnectionGate? gate, IPAddress address, Socket? socket, TimeProvider time, TimeSpan timeout)
    {
        _gate = gate;
        Address = address;
        Socket = socket;
        _cancel = new CancellationTokenSource(timeout, time);
        AcceptedAt = time.GetTimestamp();
    }

    /// <summary>When it was accepted (a <see cref="TimeProvider"/> timestamp).</summary>
    public long AcceptedAt { get; }

    public IPAddress Address { get; }

    internal Socket? Socket { get; }

    internal LinkedListNode<PendingConnection>? Node { get; set; }

    /// <summary>Fires at the deadline, or when the connection is shed.</summary>
    public CancellationToken Token => _cancel.Token;

    public PendingEnd End => _shed ? PendingEnd.Shed : _cancel.IsCancellationRequested ? PendingEnd.TimedOut : PendingEnd.None;

    internal void Shed()
    {
        _shed = true;
        try
        {
            _cancel.Cancel();
        }
        catch (ObjectDisposedException)
        {
            // Finished meanwhile.
        }
    }

    /// <summary>The head is read (or the connection is gone): no longer pending, no deadline.</summary>
    public void Dispose()
    {
        _gate?.Remove(this);
        _cancel.Dispose();
    }
}
