using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Streaming.Feeds;

namespace Savate.Server.Streaming;

/// <summary>All mounts by path, the server-wide listener count, and the pool their slices come from.</summary>
internal sealed class MountRegistry : IDisposable
{
    private readonly ConcurrentDictionary<string, Mount> _mounts = new(StringComparer.Ordinal);
    // Dynamic mounts whose first source is not accepted yet: unlisted.
    private readonly ConcurrentDictionary<string, Mount> _pending = new(StringComparer.Ordinal);
    private readonly ILoggerFactory _loggerFactory;
    private readonly ILogger _logger;
    private readonly object _createLock = new();
    private int _listeners;
    private SavateConfig _config;
    // Fallback files by full path, shared by every mount that names them; a reload reuses those unchanged on disk.
    private Dictionary<string, LoadedFile> _files = new(StringComparer.Ordinal);

    public MountRegistry(SavateConfig config, TimeProvider time, ILoggerFactory loggerFactory, SlicePool? pool = null)
    {
        _config = config;
        Time = time;
        Pool = pool ?? new SlicePool();
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Savate.Mounts");
        SendLoops.Shared.Pacer.Configure(config.Server.FlushInterval, config.Server.MaxFlushInterval);
        SourceGuard = new SourceGuard(() => Config.Server.PartialInputBudget, time);
        TcpMemory = new TcpMemoryMonitor(time);
        Slaves = new Relaying.SlaveSet(time, loggerFactory.CreateLogger("Savate.Slaves"));
        foreach (var mountConfig in config.Mounts)
        {
            _mounts[mountConfig.Path] = CreateMount(mountConfig, isDynamic: false);
        }
        foreach (var mount in _mounts.Values)
        {
            mount.Start();
        }
    }

    /// <summary>The configuration in effect: an immutable snapshot, swapped whole by a reload.</summary>
    public SavateConfig Config => Volatile.Read(ref _config);

    public TimeProvider Time { get; }

    public SlicePool Pool { get; }

    /// <summary>The slaves listeners may be redirected to (<c>server.redirect</c>), as their polls announce them.</summary>
    public Relaying.SlaveSet Slaves { get; }

    /// <summary>Refused connections by reason, and redirects (metrics).</summary>
    public Metrics.RefusalCounters Refusals { get; } = new();

    /// <summary>The kernel's TCP memory: under pressure, non-readers are evicted earlier and new listeners get smaller buffers.</summary>
    public TcpMemoryMonitor TcpMemory { get; set; }

    /// <summary>SO_SNDBUF for a new listener of <paramref name="mount"/>: listener-send-buffer, a quarter of it under TCP memory pressure.</summary>
    public int ListenerSendBufferFor(Mount mount)
    {
        var configured = mount.Server.ListenerSendBuffer;
        return configured > 0 && TcpMemory.UnderPressure ? Math.Max(configured / 4, 16 * 1024) : configured;
    }

    /// <summary>The partial-input budget and hostile-input log throttle shared by every source.</summary>
    public SourceGuard SourceGuard { get; }

    public int ListenerCount => Volatile.Read(ref _listeners);

    /// <summary>server.access-log, when on: listeners and sources are logged as they end.</summary>
    public Savate.Server.AccessLog.AccessLogWriter? AccessLog { get; set; }

    public IEnumerable<Mount> Mounts => _mounts.Values.OrderBy(m => m.Path, StringComparer.Ordinal);

    public Mount? Find(string path) => _mounts.TryGetValue(path, out var mount) ? mount : null;

    /// <summary>
    /// The mount for a source that authenticated with the server password (Icecast creates mounts this way);
    /// null when server.max-dynamic-mounts dynamic mounts exist already. A new one is held apart, unlisted
    /// (<see cref="Find"/> does not see it, listeners get 404), until its source is accepted; a refused source
    /// (401 aside: that is decided before) leaves nothing behind.
    /// </summary>
    public Mount? GetOrCreateDynamic(string path)
    {
        lock (_createLock)
        {
            if (_mounts.TryGetValue(path, out var existing))
            {
                return existing;
            }
            // A second source for the same new path meets the first one's mount (and its 409).
            if (_pending.TryGetValue(path, out var pending) && !pending.IsRetired)
            {
                return pending;
            }
            if (_mounts.Values.Count(m => m.IsDynamic) + _pending.Values.Count(m => !m.IsRetired) >= Config.Server.MaxDynamicMounts)
            {
                return null;
            }
            var mount = CreateMount(Config.Server.MountDefaults with { Path = path }, isDynamic: true);
            mount.FirstSourceAccepted = OnDynamicAccepted;
            _pending[path] = mount;
            return mount;
        }
    }

    private void OnDynamicAccepted(Mount mount)
    {
        lock (_createLock)
        {
            if (_pending.TryRemove(new(mount.Path, mount)))
            {
                _mounts[mount.Path] = mount;
                StreamingLog.DynamicMountCreated(_logger, mount.Path);
            }
        }
    }

    /// <summary>A mount pulled from an upstream (a relay of the config, or one discovered on a master).</summary>
    public Mount GetOrCreateRelayed(string path)
    {
        lock (_createLock)
        {
            if (!_mounts.TryGetValue(path, out var mount))
            {
                mount = CreateMount(Config.Server.MountDefaults with { Path = path }, isDynamic: false);
                _mounts[path] = mount;
                mount.Start();
            }
            mount.IsRelayed = true;
            return mount;
        }
    }

    /// <summary>A master no longer lists a mount this server relayed: it goes, with its listeners.</summary>
    public void RetireRelayed(string path)
    {
        lock (_createLock)
        {
            if (_mounts.TryGetValue(path, out var mount) && mount.IsRelayed && !Config.Mounts.Any(m => m.Path == path) && _mounts.TryRemove(new(path, mount)))
            {
                mount.Dispose();
                StreamingLog.DynamicMountRemoved(_logger, path);
            }
        }
    }

    /// <summary>Counts a listener against server.max-listeners; false when full (never with <paramref name="ignoreLimit"/>: a slave's relay pull).</summary>
    public bool TryAcquireListenerSlot(bool ignoreLimit = false)
    {
        var max = ignoreLimit ? int.MaxValue : Config.Server.MaxListeners;
        while (true)
        {
            var current = Volatile.Read(ref _listeners);
            if (current >= max)
            {
                return false;
            }
            if (Interlocked.CompareExchange(ref _listeners, current + 1, current) == current)
            {
                return true;
            }
        }
    }

    public void ReleaseListenerSlot() => Interlocked.Decrement(ref _listeners);

    private Mount CreateMount(MountConfig config, bool isDynamic) =>
        new(config, Config.Server, Pool, Time, _loggerFactory.CreateLogger("Savate.Mount"), isDynamic, OnDynamicIdle, Find, LoadFile);

    private FileMedia LoadFile(string fullPath)
    {
        lock (_files)
        {
            if (_files.TryGetValue(fullPath, out var loaded) && loaded.IsCurrent())
            {
                return loaded.Media;
            }
            var media = FileMedia.Load(fullPath);
            _files[fullPath] = LoadedFile.Of(fullPath, media);
            return media;
        }
    }

    /// <summary>
    /// Loads every fallback file <paramref name="next"/> names (reusing those already loaded and unchanged on disk),
    /// so that a reload fails before it changes anything when a file cannot be played. False with the errors added.
    /// </summary>
    public bool TryLoadFiles(SavateConfig next, List<string> errors)
    {
        var entries = next.Mounts.Select((m, i) => (Context: $"mounts[{i}] ({m.Path})", m.Fallback))
            .Append(("server.mount-defaults", next.Server.MountDefaults.Fallback));
        foreach (var (context, chain) in entries)
        {
            for (var i = 0; i < chain.Count; i++)
            {
                if (chain[i] is { File: { } file } entry)
                {
                    try
                    {
                        LoadFile(entry.FullPath ?? file);
                    }
                    catch (Exception e) when (e is InvalidDataException or IOException or UnauthorizedAccessException)
                    {
                        errors.Add($"{context}: fallback[{i}]: file: {e.Message}");
                    }
                }
            }
        }
        return errors.Count == 0;
    }

    /// <summary>
    /// Applies a validated reload in place, mount by mount (YARP's config swap): new mounts are created first (a changed
    /// mount may fall back to one), changed ones reconfigured, removed ones closed (source dropped, listeners ended).
    /// A mount whose settings did not change is not touched unless server settings it uses changed. Call
    /// <see cref="TryLoadFiles"/> first. Relayed mounts are the relay service's (it calls <see cref="GetOrCreateRelayed"/>
    /// and <see cref="RelayRemoved"/>).
    /// </summary>
    public void Apply(SavateConfig next, ConfigDiff diff)
    {
        lock (_createLock)
        {
            var previous = Config;
            Volatile.Write(ref _config, next);
            var serverChanged = previous.Server != next.Server;
            SendLoops.Shared.Pacer.Configure(next.Server.FlushInterval, next.Server.MaxFlushInterval);
            var declared = next.Mounts.ToDictionary(m => m.Path, StringComparer.Ordinal);
            var relayed = next.Relays.Select(r => r.Mount).ToHashSet(StringComparer.Ordinal);
            var started = new List<Mount>();
            foreach (var added in diff.Added)
            {
                if (_mounts.TryGetValue(added.Path, out var existing))
                {
                    // A dynamic (or relayed) mount of that path runs already: it becomes the declared one, in place.
                    existing.IsDynamic = false;
                    existing.Reconfigure(added, next.Server);
                }
                else
                {
                    var mount = CreateMount(added, isDynamic: false);
                    _mounts[added.Path] = mount;
                    started.Add(mount);
                }
            }
            foreach (var mount in started)
            {
                mount.Start();
            }
            foreach (var change in diff.Changed)
            {
                _mounts[change.After.Path].Reconfigure(change.After, next.Server);
            }
            var removedPaths = diff.Removed.Select(m => m.Path).ToHashSet(StringComparer.Ordinal);
            foreach (var mount in _mounts.Values)
            {
                if (declared.ContainsKey(mount.Path))
                {
                    if (serverChanged && !diff.Changed.Any(c => c.After.Path == mount.Path) && !diff.Added.Any(a => a.Path == mount.Path))
                    {
                        mount.Reconfigure(mount.Config, next.Server);
                    }
                }
                else if (!removedPaths.Contains(mount.Path) && (serverChanged || previous.Server.MountDefaults != next.Server.MountDefaults))
                {
                    // Dynamic mounts and relayed mounts not declared under mounts run with mount-defaults.
                    mount.Reconfigure(next.Server.MountDefaults with { Path = mount.Path }, next.Server);
                }
            }
            foreach (var removed in diff.Removed)
            {
                if (!_mounts.TryGetValue(removed.Path, out var mount))
                {
                    continue;
                }
                if (relayed.Contains(removed.Path))
                {
                    // Still relayed: it stays, with mount-defaults.
                    mount.Reconfigure(next.Server.MountDefaults with { Path = removed.Path }, next.Server);
                    continue;
                }
                if (_mounts.TryRemove(new(removed.Path, mount)))
                {
                    var listeners = mount.ListenerCount;
                    var hadSource = mount.Source is not null;
                    mount.Remove();
                    StreamingLog.MountRemoved(_logger, removed.Path, hadSource, listeners);
                }
            }
        }
    }

    /// <summary>A relay of the config is gone: its mount stays if declared, else it goes with its listeners.</summary>
    public void RelayRemoved(string path)
    {
        lock (_createLock)
        {
            if (!_mounts.TryGetValue(path, out var mount))
            {
                return;
            }
            mount.IsRelayed = false;
            if (!Config.Mounts.Any(m => m.Path == path) && _mounts.TryRemove(new(path, mount)))
            {
                var listeners = mount.ListenerCount;
                var hadSource = mount.Source is not null;
                mount.Remove();
                StreamingLog.MountRemoved(_logger, path, hadSource, listeners);
            }
        }
    }

    private sealed record LoadedFile(FileMedia Media, long Length, DateTime LastWrite, string Path)
    {
        public static LoadedFile Of(string path, FileMedia media)
        {
            var info = new FileInfo(path);
            return new LoadedFile(media, info.Exists ? info.Length : -1, info.Exists ? info.LastWriteTimeUtc : default, path);
        }

        public bool IsCurrent()
        {
            var info = new FileInfo(Path);
            return info.Exists && info.Length == Length && info.LastWriteTimeUtc == LastWrite;
        }
    }

    private void OnDynamicIdle(Mount mount)
    {
        // A dynamic mount lives while it has a source or listeners; once both are gone it is removed.
        lock (_createLock)
        {
            if (mount.IsRetired && _pending.TryRemove(new(mount.Path, mount)))
            {
                mount.Dispose();
                return;
            }
            if (mount.IsDynamic && mount.Source is null && !mount.InGrace && mount.ListenerCount == 0 && _mounts.TryRemove(new(mount.Path, mount)))
            {
                mount.Dispose();
                StreamingLog.DynamicMountRemoved(_logger, mount.Path);
            }
        }
    }

    /// <summary>Called when a listener leaves a dynamic mount that may now be idle.</summary>
    public void OnListenerLeft(Mount mount)
    {
        if (mount.IsDynamic && mount.Availability == MountAvailability.NoSource)
        {
            OnDynamicIdle(mount);
        }
    }

    /// <summary>Ends every source at once (shutdown): their connections close instead of holding the host's stop.</summary>
    public void KickSources()
    {
        foreach (var mount in _mounts.Values)
        {
            mount.Source?.Kick();
        }
    }

    public void Dispose()
    {
        foreach (var mount in _mounts.Values.Concat(_pending.Values))
        {
            mount.Dispose();
        }
        _mounts.Clear();
        _pending.Clear();
    }
}
