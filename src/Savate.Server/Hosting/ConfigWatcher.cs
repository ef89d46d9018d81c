using System.Runtime.InteropServices;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Streaming;

namespace Savate.Server.Hosting;

/// <summary>
/// The reload triggers besides the admin API: SIGHUP (always), and a change of the config file
/// (<c>server.watch-config</c>, read at each change so a reload can turn it on or off), debounced so that an editor's
/// several writes make one reload, and skipped when the file's bytes are what was last read.
/// </summary>
internal sealed class ConfigWatcher(ConfigSource source, IConfigReloader reloader, MountRegistry registry, TimeProvider time, ILogger<ConfigWatcher> logger)
    : IHostedService, IDisposable
{
    /// <summary>Editors write a file in several steps (truncate, write, rename); one reload after they settle.</summary>
    internal static readonly TimeSpan DebounceDelay = TimeSpan.FromMilliseconds(300);

    private PosixSignalRegistration? _sighup;
    private FileSystemWatcher? _watcher;
    private ITimer? _debounce;
    // The file's bytes at the last load: a change event for the same bytes (an editor's save, a touch) reloads nothing.
    private byte[]? _lastContent;
    private string? _fullPath;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        if (source.Path is not { } path)
        {
            return Task.CompletedTask;
        }
        _fullPath = Path.GetFullPath(path);
        _lastContent = Read(_fullPath);
        if (!OperatingSystem.IsWindows())
        {
            _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, context =>
            {
                // Handled: SIGHUP reloads instead of ending the process.
                context.Cancel = true;
                _ = ReloadAsync("SIGHUP");
            });
        }
        _debounce = time.CreateTimer(static s => ((ConfigWatcher)s!).OnSettled(), this, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
        try
        {
            _watcher = new FileSystemWatcher(Path.GetDirectoryName(_fullPath)!, Path.GetFileName(_fullPath))
            {
                NotifyFilter = NotifyFilters.LastWrite | NotifyFilters.FileName | NotifyFilters.Size | NotifyFilters.CreationTime,
            };
            _watcher.Changed += OnFileEvent;
            _watcher.Created += OnFileEvent;
            _watcher.Renamed += OnFileEvent;
            _watcher.EnableRaisingEvents = true;
            if (registry.Config.Server.WatchConfig)
            {
                ConfigLog.Watching(logger, _fullPath);
            }
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException)
        {
            ConfigLog.WatchFailed(logger, _fullPath, e.Message);
        }
        return Task.CompletedTask;
    }

    private void OnFileEvent(object sender, FileSystemEventArgs e)
    {
        if (registry.Config.Server.WatchConfig)
        {
            _debounce?.Change(DebounceDelay, Timeout.InfiniteTimeSpan);
        }
    }

    private void OnSettled()
    {
        var content = Read(_fullPath!);
        if (content is null || (_lastContent is not null && content.AsSpan().SequenceEqual(_lastContent)))
        {
            // Touched but not changed (or gone for a moment during an editor's rename).
            return;
        }
        _ = ReloadAsync("file change");
    }

    private async Task ReloadAsync(string trigger)
    {
        try
        {
            _lastContent = Read(_fullPath!);
            await reloader.ReloadAsync(trigger).ConfigureAwait(false);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            // A reload never takes the server down; the reloader has logged what it could.
            ConfigLog.InvalidEntry(logger, trigger, $"reload failed: {e.Message}");
        }
    }

    // The bytes themselves, not a digest: a config is kilobytes, and a SHA-256 would load OpenSSL (about 5.6 MB of the
    // process's memory) into a server that may have no other use for it.
    private static byte[]? Read(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    public Task StopAsync(CancellationToken cancellationToken)
    {
        Dispose();
        return Task.CompletedTask;
    }

    public void Dispose()
    {
        _sighup?.Dispose();
        _sighup = null;
        _watcher?.Dispose();
        _watcher = null;
        _debounce?.Dispose();
        _debounce = null;
    }
}
