using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;

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

    public MountRegistry(SavateConfig config, TimeProvider time, ILoggerFactory loggerFactory, SlicePool? pool = null)
    {
        Config = config;
        Time = time;
        Pool = pool ?? new SlicePool();
        _loggerFactory = loggerFactory;
        _logger = loggerFactory.CreateLogger("Savate.Mounts");
        foreach (var mountConfig in config.Mounts)
        {
            _mounts[mountConfig.Path] = CreateMount(mountConfig, isDynamic: false);
        }
        foreach (var mount in _mounts.Values)
        {
            mount.Start();
        }
    }

    public SavateConfig Config { get; private set; }

    public TimeProvider Time { get; }

    public SlicePool Pool { get; }

    public int ListenerCount => Volatile.Read(ref _listeners);

    public IEnumerable<Mount> Mounts => _mounts.Values.OrderBy(m => m.Path, StringComparer.Ordinal);

    public Mount? Find(string path) => _mounts.TryGetValue(path, out var mount) ? mount : null;

    /// <summary>
    /// The mount for a source that authenticated with the server password (Icecast creates mounts this way).
    /// A new one is held apart, unlisted (<see cref="Find"/> does not see it, listeners get 404), until its
    /// source is accepted; a refused source (401 aside: that is decided before) leaves nothing behind.
    /// </summary>
    public Mount GetOrCreateDynamic(string path)
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

    /// <summary>Counts a listener against server.max-listeners; false when full.</summary>
    public bool TryAcquireListenerSlot()
    {
        var max = Config.Server.MaxListeners;
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
        new(config, Config.Server, Pool, Time, _loggerFactory.CreateLogger("Savate.Mount"), isDynamic, isDynamic ? OnDynamicIdle : null, Find);

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
            if (mount.Source is null && !mount.InGrace && mount.ListenerCount == 0 && _mounts.TryRemove(new(mount.Path, mount)))
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
