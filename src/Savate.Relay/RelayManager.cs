using System.Net;
using Microsoft.Extensions.Logging;
using Savate.Relay.Discovery;

namespace Savate.Relay;

/// <summary>
/// Runs every configured relay and, with a master, the discovery poller that relays each of its mounts.
/// Thread-safe; <see cref="GetStatuses"/> can be called at any time.
/// </summary>
public sealed class RelayManager : IAsyncDisposable
{
    private readonly List<RelayWorker> _workers = [];
    private readonly SemaphoreSlim _apply = new(1, 1);
    private readonly IRelayHost _host;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private MasterPoller? _poller;
    // The tests' HttpMessageHandler and the HttpClient, typed object: compiling a method that reads a field of an HTTP
    // type loads System.Net.Http (see the constructors), and the constructor and DisposeAsync read these.
    private readonly object? _handler;
    private TimeSpan _connectBackstop;
    private object? _client;
    private int _started;
    private int _disposed;

    /// <summary>Creates the relays; nothing connects before <see cref="StartAsync"/>.</summary>
    /// <param name="relays">Per-mount relays.</param>
    /// <param name="master">Master to discover mounts from, or null.</param>
    /// <param name="host">The server side.</param>
    /// <param name="handler">HTTP handler (tests); null creates a <see cref="SocketsHttpHandler"/> owned by the manager.</param>
    /// <param name="loggerFactory">Logger factory.</param>
    /// <param name="timeProvider">Clock for every timeout, backoff and poll.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every problem.</exception>
    public RelayManager(
        IEnumerable<RelayOptions> relays,
        MasterOptions? master,
        IRelayHost host,
        HttpMessageHandler? handler,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider)
        : this(relays, master, host, loggerFactory, timeProvider, handler)
    {
    }

    /// <summary>
    /// Creates the relays, with a <see cref="SocketsHttpHandler"/> of the manager's own made at the first relay or
    /// master. The server's constructor: no HTTP type is in its signature, so a server that relays nothing never loads
    /// System.Net.Http (compiling a call loads the classes of its arguments; about 1.2 MB of resident memory).
    /// </summary>
    /// <param name="relays">Per-mount relays.</param>
    /// <param name="master">Master to discover mounts from, or null.</param>
    /// <param name="host">The server side.</param>
    /// <param name="loggerFactory">Logger factory.</param>
    /// <param name="timeProvider">Clock for every timeout, backoff and poll.</param>
    /// <exception cref="ArgumentException">An option is invalid; the message lists every problem.</exception>
    public RelayManager(IEnumerable<RelayOptions> relays, MasterOptions? master, IRelayHost host, ILoggerFactory loggerFactory, TimeProvider timeProvider)
        : this(relays, master, host, loggerFactory, timeProvider, handler: null)
    {
    }

    private RelayManager(
        IEnumerable<RelayOptions> relays,
        MasterOptions? master,
        IRelayHost host,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        object? handler)
    {
        ArgumentNullException.ThrowIfNull(relays);
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        ArgumentNullException.ThrowIfNull(timeProvider);

        var list = relays.ToList();
        var errors = Validate(list, master);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid relay configuration: " + string.Join("; ", errors), nameof(relays));
        }

        _handler = handler;
        _connectBackstop = ConnectBackstop(list, TimeSpan.Zero);
        _host = host;
        _time = timeProvider;
        _logger = loggerFactory.CreateLogger("Savate.Relay");
        _workers.AddRange(list.Select(Create));
        if (master is not null)
        {
            _poller = CreatePoller(master, list);
        }
    }

    private RelayWorker Create(RelayOptions options) => new(options, _host, Client, _logger, _time);

    private MasterPoller CreatePoller(MasterOptions master, IEnumerable<RelayOptions> relays) =>
        new(master, _host, Client, _logger, _time, relays.Select(r => r.Mount).ToHashSet(StringComparer.Ordinal), Create);

    /// <summary>
    /// The HTTP client, made for the first relay or master: a server that relays nothing never loads the HTTP stack
    /// (System.Net.Http is about 1.2 MB of the process's resident memory).
    /// </summary>
    private HttpClient Client => (HttpClient?)Volatile.Read(ref _client) ?? CreateClient();

    // Not inlined into its callers: compiling them must not load System.Net.Http.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private HttpClient CreateClient()
    {
        var client = new HttpClient((HttpMessageHandler?)_handler ?? CreateHandler(_connectBackstop), disposeHandler: _handler is null)
        {
            // The live body is endless: timeouts are per phase (connect, first byte, idle read), not per request.
            Timeout = Timeout.InfiniteTimeSpan,
        };
        if (Interlocked.CompareExchange(ref _client, client, null) is HttpClient other)
        {
            client.Dispose();
            return other;
        }
        return client;
    }

    /// <summary>
    /// Applies a reloaded relay configuration: relays removed are stopped, relays added are started, and a relay whose
    /// settings changed is re-pointed in place: it reconnects only when the upstream it is connected to was removed.
    /// A changed master restarts discovery (mounts it still lists are found again and keep their listeners); a removed
    /// master retires the mounts it relayed.
    /// </summary>
    /// <returns>The mounts whose relay reconnects because its upstream was removed.</returns>
    /// <exception cref="ArgumentException">An option is invalid; nothing was changed.</exception>
    public async Task<IReadOnlyList<string>> ApplyAsync(IEnumerable<RelayOptions> relays, MasterOptions? master, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(relays);
        var list = relays.ToList();
        var errors = Validate(list, master);
        if (errors.Count > 0)
        {
            throw new ArgumentException("Invalid relay configuration: " + string.Join("; ", errors), nameof(relays));
        }

        await _apply.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
            _connectBackstop = ConnectBackstop(list, _connectBackstop);
            var started = Volatile.Read(ref _started) != 0;
            var wanted = list.ToDictionary(r => r.Mount, StringComparer.Ordinal);
            List<RelayWorker> removed;
            HashSet<string> before;
            var repointed = new List<string>();
            lock (_workers)
            {
                before = _workers.Select(w => w.Mount).ToHashSet(StringComparer.Ordinal);
                removed = _workers.Where(w => !wanted.ContainsKey(w.Mount)).ToList();
                _workers.RemoveAll(removed.Contains);
                foreach (var worker in _workers)
                {
                    var options = wanted[worker.Mount];
                    if (!SameOptions(worker.Options, options) && worker.Repoint(options))
                    {
                        repointed.Add(worker.Mount);
                    }
                }

                var existing = _workers.Select(w => w.Mount).ToHashSet(StringComparer.Ordinal);
                foreach (var options in list.Where(r => !existing.Contains(r.Mount)))
                {
                    var worker = Create(options);
                    _workers.Add(worker);
                    if (started)
                    {
                        worker.Start();
                    }
                }
            }

            await Task.WhenAll(removed.Select(w => w.DisposeAsync().AsTask())).ConfigureAwait(false);

            var poller = _poller;
            // Discovery skips the mounts relayed on their own, so a change of those restarts it too.
            var staticChanged = poller is not null && !before.SetEquals(wanted.Keys);
            if (poller?.Options != master || staticChanged)
            {
                var retired = poller?.DiscoveredMounts ?? [];
                _poller = master is null ? null : CreatePoller(master, list);
                if (poller is not null)
                {
                    await poller.DisposeAsync().ConfigureAwait(false);
                }

                if (master is null)
                {
                    foreach (var mount in retired)
                    {
                        _host.MountRetired(mount);
                    }
                }

                if (started)
                {
                    _poller?.Start();
                }
            }

            return repointed;
        }
        finally
        {
            _apply.Release();
        }
    }

    private static bool SameOptions(RelayOptions a, RelayOptions b) =>
        a with { Upstreams = b.Upstreams } == b && a.Upstreams.SequenceEqual(b.Upstreams);

    /// <summary>Starts the per-mount relay loops and the discovery poller, and returns at once.</summary>
    public Task StartAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The relay manager is already started.");
        }

        lock (_workers)
        {
            foreach (var worker in _workers)
            {
                worker.Start();
            }
        }

        _poller?.Start();
        return Task.CompletedTask;
    }

    /// <summary>A snapshot of every relay (configured and discovered), ordered by mount.</summary>
    public IReadOnlyList<RelayStatus> GetStatuses()
    {
        List<RelayStatus> statuses;
        lock (_workers)
        {
            statuses = [.. _workers.Select(w => w.GetStatus())];
        }

        if (_poller is { } poller)
        {
            statuses.AddRange(poller.GetStatuses());
        }

        return statuses.OrderBy(s => s.Mount, StringComparer.Ordinal).ToList();
    }

    /// <summary>Stops polling and every relay, closing upstream connections; waits for the loops to end.</summary>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        List<Task> stopping;
        lock (_workers)
        {
            stopping = [.. _workers.Select(w => w.DisposeAsync().AsTask())];
        }

        if (_poller is not null)
        {
            stopping.Add(_poller.DisposeAsync().AsTask());
        }

        await Task.WhenAll(stopping).ConfigureAwait(false);
        if (_client is not null)
        {
            DisposeClient();
        }
    }

    // Not inlined: stopping a server that made no client loads no HTTP type either.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private void DisposeClient() => ((HttpClient)_client!).Dispose();

    /// <summary>Every problem with these options (empty when they are valid), as the constructor and <see cref="ApplyAsync"/> check them.</summary>
    public static IReadOnlyList<string> Check(IEnumerable<RelayOptions> relays, MasterOptions? master)
    {
        ArgumentNullException.ThrowIfNull(relays);
        return Validate([.. relays], master);
    }

    private static List<string> Validate(List<RelayOptions> relays, MasterOptions? master)
    {
        var errors = new List<string>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        foreach (var relay in relays)
        {
            var name = relay.Mount ?? "(null)";
            if (string.IsNullOrEmpty(relay.Mount) || relay.Mount[0] != '/')
            {
                errors.Add($"relay {name}: mount must start with '/'");
            }
            else if (!seen.Add(relay.Mount))
            {
                errors.Add($"relay {name}: mount is configured twice");
            }

            if (relay.Upstreams is null || relay.Upstreams.Count == 0)
            {
                errors.Add($"relay {name}: give at least one upstream URL");
            }
            else
            {
                foreach (var upstream in relay.Upstreams)
                {
                    if (upstream is null || !upstream.IsAbsoluteUri || (upstream.Scheme != Uri.UriSchemeHttp && upstream.Scheme != Uri.UriSchemeHttps))
                    {
                        errors.Add($"relay {name}: upstream '{upstream}' must be an absolute http:// or https:// URL");
                    }
                }
            }

            name = "relay " + name;
            CheckPositive(errors, name, "connect-timeout", relay.ConnectTimeout);
            CheckPositive(errors, name, "first-byte-timeout", relay.FirstByteTimeout);
            CheckPositive(errors, name, "idle-read-timeout", relay.IdleReadTimeout);
            CheckPositive(errors, name, "idle-timeout", relay.IdleTimeout);
            CheckPositive(errors, name, "max-retry-delay", relay.MaxRetryDelay);
            if (relay.FirstRetryDelay < TimeSpan.Zero || relay.FirstRetryDelay > relay.MaxRetryDelay)
            {
                errors.Add($"relay {name}: first-retry-delay must be between 0 and max-retry-delay");
            }
        }

        if (master is not null)
        {
            if (master.Url is null || !master.Url.IsAbsoluteUri || (master.Url.Scheme != Uri.UriSchemeHttp && master.Url.Scheme != Uri.UriSchemeHttps))
            {
                errors.Add("master: url must be an absolute http:// or https:// URL");
            }

            if (master.PublicUrl is { } publicUrl && (!publicUrl.IsAbsoluteUri || (publicUrl.Scheme != Uri.UriSchemeHttp && publicUrl.Scheme != Uri.UriSchemeHttps)))
            {
                errors.Add("master: public-url must be an absolute http:// or https:// URL");
            }

            CheckPositive(errors, "master", "poll-interval", master.PollInterval);
            CheckPositive(errors, "master", "idle-timeout", master.IdleTimeout);
        }

        return errors;
    }

    private static void CheckPositive(List<string> errors, string name, string key, TimeSpan value)
    {
        if (value <= TimeSpan.Zero)
        {
            errors.Add($"{name}: {key} must be positive");
        }
    }

    // Per-relay connect timeouts are enforced by the Polly timeout; the handler's is the backstop: the longest
    // relay's, at least 5 s (made with the client, from the relays known then).
    private static TimeSpan ConnectBackstop(List<RelayOptions> relays, TimeSpan known) =>
        relays.Select(r => r.ConnectTimeout).Append(TimeSpan.FromSeconds(5)).Append(known).Max();

    private static SocketsHttpHandler CreateHandler(TimeSpan connectTimeout) => new()
    {
        ConnectTimeout = connectTimeout,
        // New connections pick up DNS changes (a master moved); a live body keeps its connection.
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = true,
        MaxAutomaticRedirections = 5,
        UseCookies = false,
    };
}
