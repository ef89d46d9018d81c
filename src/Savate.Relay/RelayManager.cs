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
    private readonly MasterPoller? _poller;
    private readonly HttpClient _client;
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

        _client = new HttpClient(handler ?? CreateHandler(list), disposeHandler: handler is null)
        {
            // The live body is endless: timeouts are per phase (connect, first byte, idle read), not per request.
            Timeout = Timeout.InfiniteTimeSpan,
        };

        var logger = loggerFactory.CreateLogger("Savate.Relay");
        RelayWorker Create(RelayOptions options) => new(options, host, _client, logger, timeProvider);
        _workers.AddRange(list.Select(Create));
        if (master is not null)
        {
            var staticMounts = list.Select(r => r.Mount).ToHashSet(StringComparer.Ordinal);
            _poller = new MasterPoller(master, host, _client, logger, timeProvider, staticMounts, Create);
        }
    }

    /// <summary>Starts the per-mount relay loops and the discovery poller, and returns at once.</summary>
    public Task StartAsync(CancellationToken ct)
    {
        ct.ThrowIfCancellationRequested();
        ObjectDisposedException.ThrowIf(Volatile.Read(ref _disposed) != 0, this);
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            throw new InvalidOperationException("The relay manager is already started.");
        }

        foreach (var worker in _workers)
        {
            worker.Start();
        }

        _poller?.Start();
        return Task.CompletedTask;
    }

    /// <summary>A snapshot of every relay (configured and discovered), ordered by mount.</summary>
    public IReadOnlyList<RelayStatus> GetStatuses()
    {
        var statuses = _workers.Select(w => w.GetStatus());
        if (_poller is not null)
        {
            statuses = statuses.Concat(_poller.GetStatuses());
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

        var stopping = _workers.Select(w => w.DisposeAsync().AsTask()).ToList();
        if (_poller is not null)
        {
            stopping.Add(_poller.DisposeAsync().AsTask());
        }

        await Task.WhenAll(stopping).ConfigureAwait(false);
        _client.Dispose();
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

    private static SocketsHttpHandler CreateHandler(List<RelayOptions> relays) => new()
    {
        // Per-relay connect timeouts are enforced by the Polly timeout; this is the backstop.
        ConnectTimeout = relays.Select(r => r.ConnectTimeout).Append(TimeSpan.FromSeconds(5)).Max(),
        // New connections pick up DNS changes (a master moved); a live body keeps its connection.
        PooledConnectionLifetime = TimeSpan.FromMinutes(5),
        PooledConnectionIdleTimeout = TimeSpan.FromSeconds(30),
        AutomaticDecompression = DecompressionMethods.None,
        AllowAutoRedirect = true,
        MaxAutomaticRedirections = 5,
        UseCookies = false,
    };
}
