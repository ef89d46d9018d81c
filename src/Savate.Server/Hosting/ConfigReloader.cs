using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Relaying;
using Savate.Server.Streaming;

namespace Savate.Server.Hosting;

/// <summary>Where the running configuration came from: the file a reload reads again (null when started from text).</summary>
/// <param name="Path">The config file's path, as given on the command line.</param>
public sealed record ConfigSource(string? Path);

/// <summary>
/// The reload: read and validate the file (every error, as at start-up), load its fallback files, and only then
/// diff it against the running snapshot and apply it mount by mount (<see cref="MountRegistry.Apply"/>), then the
/// relays. A file that fails changes nothing. One reload at a time; triggers arriving meanwhile wait their turn.
/// </summary>
internal sealed class ConfigReloader(ConfigSource source, MountRegistry registry, RelayService relays, ILogger<ConfigReloader> logger) : IConfigReloader
{
    private readonly SemaphoreSlim _gate = new(1, 1);
    // What the server listens on: listen only changes with a restart, so every reload compares against this.
    private readonly IReadOnlyList<string> _listening = registry.Config.Server.Listen;
    private string? _lastErrors;

    public async Task<ConfigReloadResult> ReloadAsync(string trigger, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(trigger);
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            if (source.Path is not { } path)
            {
                return Refuse(trigger, "(none)", ["the server was started without a config file: there is nothing to reload"]);
            }

            SavateConfig next;
            var errors = new List<string>();
            try
            {
                next = ConfigLoader.Load(path);
            }
            catch (ConfigException e)
            {
                return Refuse(trigger, path, e.Errors);
            }

            // Files are loaded (and relay options checked) before anything changes: all or nothing.
            registry.TryLoadFiles(next, errors);
            errors.AddRange(RelayService.Check(next));
            if (errors.Count > 0)
            {
                return Refuse(trigger, path, errors);
            }

            cancellationToken.ThrowIfCancellationRequested();
            _lastErrors = null;
            var running = registry.Config;
            var diff = ConfigDiff.Compute(running with { Server = running.Server with { Listen = _listening } }, next);
            if (diff.IsEmpty)
            {
                registry.Apply(next, diff);
                ConfigLog.Unchanged(logger, trigger, path);
                return new ConfigReloadResult(true, [], []);
            }

            registry.Apply(next, diff);
            var reconnecting = await relays.ApplyAsync(next, CancellationToken.None).ConfigureAwait(false);
            var changes = diff.Lines().Concat(reconnecting.Select(m => $"relay {m} reconnects: its upstream was removed")).ToList();
            foreach (var change in changes)
            {
                ConfigLog.Change(logger, trigger, change);
            }
            ConfigLog.Reloaded(logger, trigger, path, diff.Added.Count, diff.Changed.Count, diff.Removed.Count,
                changes.Count - diff.Added.Count - diff.Changed.Count - diff.Removed.Count);
            return new ConfigReloadResult(true, [], changes);
        }
        finally
        {
            _gate.Release();
        }
    }

    private ConfigReloadResult Refuse(string trigger, string path, IReadOnlyList<string> errors)
    {
        // A watched file saved twice with the same mistake is reported once.
        var key = string.Join('\n', errors);
        if (key == _lastErrors)
        {
            ConfigLog.StillRefused(logger, trigger, path, errors.Count);
        }
        else
        {
            _lastErrors = key;
            foreach (var error in errors)
            {
                ConfigLog.InvalidEntry(logger, trigger, error);
            }
            ConfigLog.Refused(logger, trigger, path, errors.Count);
        }
        return new ConfigReloadResult(false, errors, []);
    }
}
