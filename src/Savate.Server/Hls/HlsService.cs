using System.Collections.Concurrent;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Savate.Server.Http;
using Savate.Server.Streaming;

namespace Savate.Server.Hls;

/// <summary>
/// Runs each mount's segmenter on demand: it starts with the first HLS request and stops <c>hls.idle-timeout</c>
/// after the last, or runs whenever the mount plays with <c>hls.always</c>. A mount's <see cref="HlsPlaylist"/>
/// outlives its segmenter runs (and the mount object itself, for a dynamic mount that comes back), so the media
/// sequence never goes back.
/// </summary>
internal sealed class HlsService(MountRegistry registry, TimeProvider time, ILoggerFactory loggerFactory) : BackgroundService
{
    private static readonly TimeSpan s_tick = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, HlsMountState> _states = new(StringComparer.Ordinal);
    private readonly ILogger _logger = loggerFactory.CreateLogger("Savate.Hls");
    private readonly MountRegistry _registry = registry;

    /// <summary>
    /// Unique to this server run: the prefix of every segment name, so a cache never serves a segment of an earlier
    /// run. Not a secret: the runtime's seeded random, not a cryptographic one, which would load OpenSSL (about 5.6 MB
    /// of the process's memory) into a server with no TLS, signed URL or password to check.
    /// </summary>
    public string RunId { get; } = NewRunId();

    private static string NewRunId()
    {
        Span<byte> bytes = stackalloc byte[4];
        Random.Shared.NextBytes(bytes);
        return Convert.ToHexStringLower(bytes);
    }

    public TimeProvider Time => time;

    /// <summary>The HLS state of a mount, without starting anything (null if it never had HLS).</summary>
    public HlsMountState? Find(string path) => _states.TryGetValue(path, out var state) ? state : null;

    /// <summary>
    /// An HLS request for <paramref name="mount"/>: records it (for the idle timeout) and starts the segmenter if it
    /// is not running. Returns the mount's state.
    /// </summary>
    public HlsMountState Touch(Mount mount)
    {
        var state = GetState(mount);
        state.LastRequest = time.GetTimestamp();
        state.EnsureRunning(mount);
        return state;
    }

    private HlsMountState GetState(Mount mount)
    {
        var hls = mount.Config.Hls;
        var state = _states.GetOrAdd(mount.Path, _ => new HlsMountState(this, new HlsPlaylist(RunId, hls.Window, mount.Config.BufferBytes)));
        state.Playlist.Window = hls.Window;
        state.Playlist.MaxBytes = mount.Config.BufferBytes;
        return state;
    }

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        using var timer = new PeriodicTimer(s_tick, time);
        try
        {
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false))
            {
                Tick();
            }
        }
        catch (OperationCanceledException)
        {
        }
        foreach (var state in _states.Values)
        {
            state.Stop();
        }
    }

    /// <summary>Starts the <c>always</c> mounts that play, stops the on-demand ones nobody asked for lately.</summary>
    internal void Tick()
    {
        foreach (var mount in _registry.Mounts)
        {
            var hls = mount.Config.Hls;
            if (hls.Enabled && hls.Always && mount.Availability == MountAvailability.Playable)
            {
                GetState(mount).EnsureRunning(mount);
            }
        }
        foreach (var (path, state) in _states)
        {
            var mount = _registry.Find(path);
            var hls = mount?.Config.Hls;
            if (mount is null || hls is null || !hls.Enabled)
            {
                state.Stop();
                continue;
            }
            if (!hls.Always && state.IsRunning && time.GetElapsedTime(state.LastRequest) > hls.IdleTimeout)
            {
                state.Stop();
            }
        }
    }

    /// <summary>One mount's playlist and its running segmenter, if any.</summary>
    internal sealed class HlsMountState(HlsService service, HlsPlaylist playlist)
    {
        private readonly object _lock = new();
        private CancellationTokenSource? _stop;
        private Task? _run;
        private bool _ranBefore;
        private long _lastRequest;

        public HlsPlaylist Playlist { get; } = playlist;

        public long LastRequest
        {
            get => Interlocked.Read(ref _lastRequest);
            set => Interlocked.Exchange(ref _lastRequest, value);
        }

        public bool IsRunning
        {
            get
            {
                lock (_lock)
                {
                    return _run is { IsCompleted: false };
                }
            }
        }

        public void EnsureRunning(Mount mount)
        {
            lock (_lock)
            {
                if (_run is { IsCompleted: false })
                {
                    return;
                }
                // Auto (no source has told yet, e.g. a relay this segmenter is about to pull): the segmenter
                // tells FLV from TS by the first byte of its stream.
                var format = mount.Format;
                var logger = service._logger;
                var sink = new HlsSegmenter(Playlist, format, mount.Config.Hls, logger, mount.Path, startWithDiscontinuity: _ranBefore);
                var listener = ListenerAdmission.TryAdmit(service._registry, mount, sink, "hls", "savate-hls-segmenter", out var refusal);
                if (listener is null)
                {
                    HlsLog.SegmenterRefused(logger, mount.Path, refusal);
                    return;
                }
                _ranBefore = true;
                var stop = new CancellationTokenSource();
                _stop = stop;
                HlsLog.SegmenterStarted(logger, mount.Path);
                _run = Task.Run(async () =>
                {
                    var end = ListenerEnd.Cancelled;
                    try
                    {
                        end = await listener.RunAsync(stop.Token).ConfigureAwait(false);
                    }
                    finally
                    {
                        ListenerAdmission.Leave(service._registry, mount, listener);
                        HlsLog.SegmenterStopped(logger, mount.Path, end.ToString(), sink.Segments);
                        stop.Dispose();
                    }
                });
            }
        }

        public void Stop()
        {
            lock (_lock)
            {
                try
                {
                    _stop?.Cancel();
                }
                catch (ObjectDisposedException)
                {
                }
                _stop = null;
            }
        }
    }
}
