namespace Savate.Server.Configuration;

/// <summary>A declared mount whose settings changed, with what changed.</summary>
/// <param name="Before">The settings it runs with now.</param>
/// <param name="After">The settings it gets.</param>
/// <param name="Keys">One "key: old -> new" per changed key.</param>
public sealed record MountChange(MountConfig Before, MountConfig After, IReadOnlyList<string> Keys);

/// <summary>
/// What a reload changes, computed from two snapshots by value (records compare their lists by content), so that
/// what did not change is left alone. Pure: no mount is touched here.
/// </summary>
public sealed record ConfigDiff
{
    /// <summary>Declared mounts that are new.</summary>
    public IReadOnlyList<MountConfig> Added { get; init; } = [];

    /// <summary>Declared mounts whose settings changed.</summary>
    public IReadOnlyList<MountChange> Changed { get; init; } = [];

    /// <summary>Declared mounts that are gone.</summary>
    public IReadOnlyList<MountConfig> Removed { get; init; } = [];

    /// <summary>Server keys that changed and apply live, one "key: old -> new" each (mount-defaults as its own keys).</summary>
    public IReadOnlyList<string> Server { get; init; } = [];

    /// <summary>Settings that changed but only apply after a restart (<c>listen</c>).</summary>
    public IReadOnlyList<string> NeedsRestart { get; init; } = [];

    /// <summary>Relays (and the master) added, removed or changed, one line each.</summary>
    public IReadOnlyList<string> Relays { get; init; } = [];

    /// <summary>True when nothing differs at all.</summary>
    public bool IsEmpty => Added.Count == 0 && Changed.Count == 0 && Removed.Count == 0 && Server.Count == 0 && NeedsRestart.Count == 0 && Relays.Count == 0;

    /// <summary>One line per mount added, changed or removed, then the server, relay and restart lines.</summary>
    public IReadOnlyList<string> Lines()
    {
        var lines = new List<string>();
        lines.AddRange(Added.Select(m => $"mount {m.Path} added"));
        lines.AddRange(Changed.Select(c => $"mount {c.After.Path} changed: {string.Join(", ", c.Keys)}"));
        lines.AddRange(Removed.Select(m => $"mount {m.Path} removed"));
        lines.AddRange(Server.Select(s => $"server: {s}"));
        lines.AddRange(Relays);
        lines.AddRange(NeedsRestart.Select(s => $"server: {s} needs a restart (not applied)"));
        return lines;
    }

    /// <summary>Compares two validated snapshots.</summary>
    public static ConfigDiff Compute(SavateConfig before, SavateConfig after)
    {
        ArgumentNullException.ThrowIfNull(before);
        ArgumentNullException.ThrowIfNull(after);
        var old = before.Mounts.ToDictionary(m => m.Path, StringComparer.Ordinal);
        var now = after.Mounts.ToDictionary(m => m.Path, StringComparer.Ordinal);
        var added = after.Mounts.Where(m => !old.ContainsKey(m.Path)).ToList();
        var removed = before.Mounts.Where(m => !now.ContainsKey(m.Path)).ToList();
        var changed = new List<MountChange>();
        foreach (var mount in after.Mounts)
        {
            if (old.TryGetValue(mount.Path, out var previous) && previous != mount)
            {
                changed.Add(new MountChange(previous, mount, ConfigKeys.Diff(ConfigKeys.Mount, previous, mount, "path")));
            }
        }

        var server = ConfigKeys.Diff(ConfigKeys.Server, before.Server, after.Server, "listen", "mount-defaults");
        server.AddRange(ConfigKeys.Diff(ConfigKeys.Mount, before.Server.MountDefaults, after.Server.MountDefaults, "path").Select(k => $"mount-defaults {k}"));
        var restart = ConfigKeys.Diff(ConfigKeys.Server, before.Server, after.Server).Where(k => k.StartsWith("listen ", StringComparison.Ordinal)).ToList();

        var relays = new List<string>();
        var oldRelays = before.Relays.ToDictionary(r => r.Mount, StringComparer.Ordinal);
        var newRelays = after.Relays.ToDictionary(r => r.Mount, StringComparer.Ordinal);
        relays.AddRange(after.Relays.Where(r => !oldRelays.ContainsKey(r.Mount)).Select(r => $"relay {r.Mount} added"));
        foreach (var relay in after.Relays)
        {
            if (oldRelays.TryGetValue(relay.Mount, out var previous) && previous != relay)
            {
                relays.Add($"relay {relay.Mount} changed: {string.Join(", ", ConfigKeys.Diff(ConfigKeys.Relay, previous, relay, "mount"))}");
            }
        }
        relays.AddRange(before.Relays.Where(r => !newRelays.ContainsKey(r.Mount)).Select(r => $"relay {r.Mount} removed"));
        if (before.Master != after.Master)
        {
            relays.Add((before.Master, after.Master) switch
            {
                (null, { } m) => $"master {m.Url} added",
                ({ } m, null) => $"master {m.Url} removed",
                var (a, b) => $"master changed: {string.Join(", ", ConfigKeys.Diff(ConfigKeys.Master, a!, b!))}",
            });
        }

        return new ConfigDiff { Added = added, Changed = changed, Removed = removed, Server = server, NeedsRestart = restart, Relays = relays };
    }
}
