using System.Collections.Concurrent;
using System.Net.Http.Headers;
using System.Text;
using Microsoft.Extensions.Logging;
using Polly;

namespace Savate.Relay.Discovery;

/// <summary>
/// Icecast-style master/slave discovery: polls <c>GET {master}/admin/streamlist.txt</c> (one mount path per line)
/// with HTTP Basic, starts a relay for each new mount and retires relays whose mount vanished.
/// A failed poll keeps the current mounts: a master restart must not drop the slave's listeners.
/// </summary>
internal sealed class MasterPoller : IAsyncDisposable
{
    // A stream list is a few lines per mount; anything bigger is not one.
    private const int MaxListChars = 1 << 20;
    private const int MaxMounts = 10_000;
    private static readonly TimeSpan s_requestTimeout = TimeSpan.FromSeconds(10);

    private readonly MasterOptions _options;
    private readonly IRelayHost _host;
    private readonly HttpClient _client;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Func<RelayOptions, RelayWorker> _createWorker;
    private readonly IReadOnlySet<string> _staticMounts;
    private readonly ConcurrentDictionary<string, RelayWorker> _workers = new(StringComparer.Ordinal);
    private readonly ResiliencePipeline _timeout;
    private readonly AuthenticationHeaderValue? _authorization;
    private readonly Uri _listUri;
    private readonly string _display;
    private readonly CancellationTokenSource _stop = new();
    private Task _run = Task.CompletedTask;
    private bool _failing;

    public MasterPoller(
        MasterOptions options,
        IRelayHost host,
        HttpClient client,
        ILogger logger,
        TimeProvider time,
        IReadOnlySet<string> staticMounts,
        Func<RelayOptions, RelayWorker> createWorker)
    {
        _options = options;
        _host = host;
        _client = client;
        _logger = logger;
        _time = time;
        _staticMounts = staticMounts;
        _createWorker = createWorker;
        _listUri = MountUri("/admin/streamlist.txt");
        _display = MountUri(string.Empty).ToString();
        if (options.Password is not null)
        {
            _authorization = new AuthenticationHeaderValue("Basic", Convert.ToBase64String(Encoding.UTF8.GetBytes($"{options.Username}:{options.Password}")));
        }

        _timeout = new ResiliencePipelineBuilder { TimeProvider = time }.AddTimeout(s_requestTimeout).Build();
    }

    public IEnumerable<RelayStatus> GetStatuses() => _workers.Values.Select(w => w.GetStatus());

    /// <summary>The mounts discovered so far (relayed now).</summary>
    public IReadOnlyCollection<string> DiscoveredMounts => [.. _workers.Keys];

    /// <summary>The master this poller polls, with its settings.</summary>
    public MasterOptions Options => _options;

    public void Start() => _run = Task.Run(() => RunAsync(_stop.Token));

    /// <summary>Stops polling and every discovered relay. Does not call <see cref="IRelayHost.MountRetired"/>: the host is shutting down.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!_stop.IsCancellationRequested)
        {
            await _stop.CancelAsync().ConfigureAwait(false);
        }

        await _run.ConfigureAwait(false);
        await Task.WhenAll(_workers.Values.Select(w => w.DisposeAsync().AsTask())).ConfigureAwait(false);
        _stop.Dispose();
    }

    /// <summary>Parses a stream list: one mount path per line; hostile lines are skipped.</summary>
    internal static bool TryParseMount(string line, out string mount)
    {
        mount = line.Trim();
        if (mount.Length is < 2 or > 1024 || mount[0] != '/' || mount.Contains("..", StringComparison.Ordinal))
        {
            return false;
        }

        foreach (var c in mount)
        {
            if (c <= ' ' || c == '\u007f' || c is '?' or '#' or '\\')
            {
                return false;
            }
        }

        return !mount.StartsWith("/admin/", StringComparison.Ordinal);
    }

    private async Task RunAsync(CancellationToken stop)
    {
        try
        {
            using var timer = new PeriodicTimer(_options.PollInterval, _time);
            do
            {
                await PollOnceAsync(stop).ConfigureAwait(false);
            }
            while (await timer.WaitForNextTickAsync(stop).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stop.IsCancellationRequested)
        {
        }
    }

    private async Task PollOnceAsync(CancellationToken stop)
    {
        HashSet<string> listed;
        try
        {
            listed = await FetchAsync(stop).ConfigureAwait(false);
        }
        catch (Exception ex) when (!stop.IsCancellationRequested)
        {
            if (!_failing)
            {
                _failing = true;
                RelayLog.DiscoveryFailed(_logger, _display, ex.Message, _options.PollInterval);
            }

            return;
        }

        if (_failing)
        {
            _failing = false;
            RelayLog.DiscoveryRecovered(_logger, _display, listed.Count);
        }

        foreach (var mount in listed)
        {
            if (_staticMounts.Contains(mount) || _workers.ContainsKey(mount))
            {
                continue;
            }

            RelayLog.MountDiscovered(_logger, _display, mount);
            // The host creates the mount first, so the relay has somewhere to feed.
            _host.MountDiscovered(mount);
            var worker = _createWorker(new RelayOptions
            {
                Mount = mount,
                Upstreams = [MountUri(mount)],
                Username = _options.Password is null ? null : _options.Username,
                Password = _options.Password,
                OnDemand = _options.OnDemand,
                IdleTimeout = _options.IdleTimeout,
            });
            _workers[mount] = worker;
            worker.Start();
        }

        foreach (var mount in _workers.Keys.Where(m => !listed.Contains(m)).ToList())
        {
            if (_workers.TryRemove(mount, out var worker))
            {
                // Stop pulling before the host removes the mount.
                await worker.DisposeAsync().ConfigureAwait(false);
                RelayLog.MountRetired(_logger, _display, mount);
                _host.MountRetired(mount);
            }
        }
    }

    private async Task<HashSet<string>> FetchAsync(CancellationToken stop)
    {
        return await _timeout.ExecuteAsync(
            static async (self, ct) =>
            {
                using var request = new HttpRequestMessage(HttpMethod.Get, self._listUri);
                request.Headers.Authorization = self._authorization;
                if (self.Announcement() is { } announcement)
                {
                    foreach (var (name, value) in announcement.ToHeaders())
                    {
                        request.Headers.TryAddWithoutValidation(name, value);
                    }
                }
                using var response = await self._client.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct).ConfigureAwait(false);
                if (!response.IsSuccessStatusCode)
                {
                    throw new HttpRequestException($"HTTP {(int)response.StatusCode} {response.ReasonPhrase}", null, response.StatusCode);
                }

                var mounts = new HashSet<string>(StringComparer.Ordinal);
                var stream = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                using var reader = new StreamReader(stream, Encoding.UTF8);
                var chars = 0;
                while (await reader.ReadLineAsync(ct).ConfigureAwait(false) is { } line)
                {
                    chars += line.Length + 1;
                    if (chars > MaxListChars || mounts.Count >= MaxMounts)
                    {
                        throw new InvalidDataException("stream list too large");
                    }

                    if (line.Length == 0)
                    {
                        continue;
                    }

                    if (TryParseMount(line, out var mount))
                    {
                        mounts.Add(mount);
                    }
                    else
                    {
                        RelayLog.DiscoveryBadLine(self._logger, self._display, line.Length > 80 ? line[..80] : line);
                    }
                }

                return mounts;
            },
            this,
            stop).ConfigureAwait(false);
    }

    /// <summary>
    /// This slave's public URL and load, sent with each poll when <see cref="MasterOptions.PublicUrl"/> is set: the
    /// mounts are those relayed from this master (discovered, so none on the first poll).
    /// </summary>
    private SlaveAnnouncement? Announcement()
    {
        if (_options.PublicUrl is not { } publicUrl)
        {
            return null;
        }

        var load = _host.GetServerLoad();
        var mounts = new Dictionary<string, (int, int?)>(StringComparer.Ordinal);
        foreach (var mount in _workers.Keys)
        {
            mounts[mount] = (_host.GetListenerCount(mount), _host.GetMaxListeners(mount));
        }

        return new SlaveAnnouncement(publicUrl, load.Listeners, load.MaxListeners, _options.PollInterval, mounts);
    }

    /// <summary><c>{master.Url}{path}</c>, keeping any base path of the master URL.</summary>
    private Uri MountUri(string path)
    {
        var builder = new UriBuilder(_options.Url)
        {
            Path = _options.Url.AbsolutePath.TrimEnd('/') + path,
            Query = string.Empty,
            Fragment = string.Empty,
            UserName = string.Empty,
            Password = string.Empty,
        };
        return builder.Uri;
    }
}
