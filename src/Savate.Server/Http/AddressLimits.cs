using System.Net;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;
using Savate.Server.Logging;
using Savate.Server.Streaming;

namespace Savate.Server.Http;

/// <summary>Why <see cref="AddressLimits"/> refused a request (the <c>reason</c> of <c>savate.connections.refused</c>).</summary>
internal enum AddressRefusal
{
    /// <summary>Not refused.</summary>
    None,

    /// <summary><c>max-connections-per-address</c>: <c>per-address-limit</c>.</summary>
    Concurrent,

    /// <summary><c>max-new-connections-per-address</c>: <c>per-address-rate</c>.</summary>
    Rate,
}

/// <summary>
/// Per client address caps, decided when a request is admitted (its head read, so a listener can be answered 429 and a
/// source 403, and a trusted proxy's requests counted by the address it forwards for):
/// <list type="bullet">
/// <item><c>max-connections-per-address</c>: requests in progress at once; a stream holds its <see cref="AddressLease"/>
/// for its whole life, a status or HLS request until it is answered. Counted here per address, not by a
/// <see cref="ConcurrencyLimiter"/>: a limiter's permit count is fixed when it is made, so a reload that changes the cap
/// would start every address at zero again; this count reads the running config's cap at each request.</item>
/// <item><c>max-new-connections-per-address</c>: requests a second, a <see cref="TokenBucketRateLimiter"/> per address
/// (System.Threading.RateLimiting's <see cref="PartitionedRateLimiter"/>, whose partitions go once idle 10 s) holding
/// that many tokens, refilled each second. A reload that changes the cap starts new buckets.</item>
/// </list>
/// Open requests are counted per address whether or not a cap is on, so a reload that sets one applies to what is open.
/// 0 means no cap, the default for both (a carrier-grade NAT or a company's proxy puts thousands of players behind one
/// address). Refusals are logged once per address and cap per 10 s, and counted for <c>savate.connections.refused</c>.
/// </summary>
internal sealed partial class AddressLimits : IDisposable
{
    /// <summary>What a refused client is told to wait (Retry-After), in seconds: the rate cap's period.</summary>
    public const int RetryAfterSeconds = 1;

    private readonly MountRegistry _registry;
    private readonly ILogger _logger;
    private readonly LogThrottle _throttle;
    private readonly object _lock = new();
    private readonly Dictionary<IPAddress, int> _open = [];
    private volatile RateBuckets? _rate;
    private long _refusedConcurrent;
    private long _refusedRate;

    public AddressLimits(MountRegistry registry, TimeProvider time, ILogger<AddressLimits> logger)
    {
        _registry = registry;
        _logger = logger;
        _throttle = new LogThrottle(time, TimeSpan.FromSeconds(10));
    }

    /// <summary>Requests refused by <c>max-connections-per-address</c> since start.</summary>
    public long RefusedConcurrent => Interlocked.Read(ref _refusedConcurrent);

    /// <summary>Requests refused by <c>max-new-connections-per-address</c> since start.</summary>
    public long RefusedRate => Interlocked.Read(ref _refusedRate);

    /// <summary>
    /// The client address the caps count by. This is the one seam to <c>Http/ClientAddress</c> (trusted proxies: the
    /// address a proxy in <c>server.trusted-proxies</c> forwards for); until then, the connection's peer.
    /// </summary>
    public static IPAddress KeyFor(HttpContext context) => KeyFor(context.Connection.RemoteIpAddress is { } ip ? new IPEndPoint(ip, 0) : null);

    /// <inheritdoc cref="KeyFor(HttpContext)"/>
    public static IPAddress KeyFor(EndPoint? peer) => ConnectionGate.AddressOf(peer);

    /// <inheritdoc cref="KeyFor(HttpContext)"/>
    public static IPAddress KeyFor(System.Net.Sockets.Socket socket)
    {
        try
        {
            return KeyFor(socket.RemoteEndPoint);
        }
        catch (Exception e) when (e is System.Net.Sockets.SocketException or ObjectDisposedException)
        {
            // Gone already: the first write will say so.
            return IPAddress.None;
        }
    }

    /// <summary>
    /// Admits one request from <paramref name="address"/>: a lease to dispose when it ends, or null, with why, when the
    /// address is over a cap. <paramref name="what"/> names the request in the log line ("listener", "request"); null when
    /// the caller logs the refusal itself (sources: <see cref="SourceRefusals"/>).
    /// </summary>
    public AddressLease? TryAcquire(IPAddress address, string? what, out string refusal)
    {
        refusal = string.Empty;
        var server = _registry.Config.Server;
        var reason = AddressRefusal.None;
        if (server.MaxNewConnectionsPerAddress > 0 && !TakeToken(address, server.MaxNewConnectionsPerAddress))
        {
            reason = AddressRefusal.Rate;
            refusal = $"Too many new connections from {address} (max-new-connections-per-address is {server.MaxNewConnectionsPerAddress} a second)";
        }
        else
        {
            // Counted with or without a cap, so that a reload that sets one finds the connections already open.
            lock (_lock)
            {
                var open = _open.GetValueOrDefault(address);
                if (server.MaxConnectionsPerAddress > 0 && open >= server.MaxConnectionsPerAddress)
                {
                    reason = AddressRefusal.Concurrent;
                    refusal = $"Too many connections from {address} (max-connections-per-address is {server.MaxConnectionsPerAddress})";
                }
                else
                {
                    _open[address] = open + 1;
                    return new AddressLease(this, address);
                }
            }
        }
        Interlocked.Increment(ref reason == AddressRefusal.Rate ? ref _refusedRate : ref _refusedConcurrent);
        if (what is not null && _throttle.ShouldLog($"{address}|{reason}", out var suppressed))
        {
            Refused(_logger, what, address.ToString(), refusal, suppressed);
        }
        return null;
    }

    /// <summary>
    /// Kestrel's requests (status, HLS, admin, metrics, and every request over TLS, streams included): 429 with
    /// Retry-After over a cap. Sources are admitted by <see cref="TryAcquire"/> in their own handler, which answers 403.
    /// </summary>
    public Task InvokeAsync(HttpContext context, RequestDelegate next)
    {
        if (IsSource(context.Request))
        {
            return next(context);
        }
        var lease = TryAcquire(KeyFor(context), "request", out var refusal);
        return lease is null ? HttpResponses.WritePlainAsync(context, 429, refusal) : RunAsync(context, next, lease);
    }

    private static async Task RunAsync(HttpContext context, RequestDelegate next, AddressLease lease)
    {
        using (lease)
        {
            await next(context).ConfigureAwait(false);
        }
    }

    private static bool IsSource(HttpRequest request) =>
        (HttpMethods.IsPut(request.Method) || HttpMethods.IsPost(request.Method) || request.Method == "SOURCE")
        && !(request.Path.Value ?? string.Empty).StartsWith("/admin", StringComparison.Ordinal);

    // Not inlined: without a rate cap, System.Threading.RateLimiting is never loaded (descriptors, as in PemCertificate.Check).
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private bool TakeToken(IPAddress address, int perSecond)
    {
        var rate = _rate;
        if (rate?.PerSecond != perSecond)
        {
            lock (_lock)
            {
                rate = _rate;
                if (rate?.PerSecond != perSecond)
                {
                    // A reload changed the cap: new buckets, full (the old ones go).
                    var previous = rate;
                    rate = _rate = new RateBuckets(perSecond);
                    previous?.Dispose();
                }
            }
        }
        try
        {
            using var lease = rate.Limiter.AttemptAcquire(address);
            return lease.IsAcquired;
        }
        catch (ObjectDisposedException)
        {
            // Swapped by a reload meanwhile: this one request is let through.
            return true;
        }
    }

    private void Release(IPAddress address)
    {
        lock (_lock)
        {
            if (!_open.TryGetValue(address, out var open))
            {
                return;
            }
            if (open <= 1)
            {
                _open.Remove(address);
            }
            else
            {
                _open[address] = open - 1;
            }
        }
    }

    public void Dispose() => _rate?.Dispose();

    /// <summary>A token bucket per address, <paramref name="perSecond"/> tokens refilled every second (one per cap, swapped on reload).</summary>
    private sealed class RateBuckets(int perSecond) : IDisposable
    {
        public int PerSecond { get; } = perSecond;

        public PartitionedRateLimiter<IPAddress> Limiter { get; } = PartitionedRateLimiter.Create<IPAddress, IPAddress>(address =>
            RateLimitPartition.GetTokenBucketLimiter(address, _ => new TokenBucketRateLimiterOptions
            {
                TokenLimit = perSecond,
                TokensPerPeriod = perSecond,
                ReplenishmentPeriod = TimeSpan.FromSeconds(1),
                QueueLimit = 0,
                AutoReplenishment = true,
            }));

        public void Dispose() => Limiter.Dispose();
    }

    [LoggerMessage(EventId = 43, Level = LogLevel.Warning, Message = "Refused a {What} from {Address}: {Reason} ({Suppressed} more not logged)")]
    private static partial void Refused(ILogger logger, string what, string address, string reason, long suppressed);

    /// <summary>One admitted request's place under <c>max-connections-per-address</c>; disposing it (once) frees the place.</summary>
    internal sealed class AddressLease(AddressLimits? limits, IPAddress address) : IDisposable
    {
        private int _released;

        public void Dispose()
        {
            if (limits is not null && Interlocked.Exchange(ref _released, 1) == 0)
            {
                limits.Release(address);
            }
        }
    }
}
