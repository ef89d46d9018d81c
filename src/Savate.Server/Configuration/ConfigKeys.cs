using System.Globalization;
using YamlDotNet.RepresentationModel;

namespace Savate.Server.Configuration;

/// <summary>Reads one yaml key's value onto a config record; a bad value is reported and the record returned unchanged.</summary>
internal delegate T KeyReader<T>(ConfigReader reader, YamlNode value, string context, string key, T current);

/// <summary>
/// One yaml key of a config record: its name, how its value is parsed onto the record, and how the record's
/// value is shown in a reload's change line. The default is the record's own initializer.
/// </summary>
/// <param name="Name">The yaml key.</param>
/// <param name="Read">Parses the value onto the record (the reader reports type errors).</param>
/// <param name="Value">The record's value, for diffs.</param>
/// <param name="Secret">A password: a diff says "changed", never the value.</param>
internal sealed record ConfigKey<T>(string Name, KeyReader<T> Read, Func<T, object?> Value, bool Secret = false);

/// <summary>
/// Every key of every record, declared once: the reader takes its allowed keys and parsers from here and the
/// reload diff its values. A new key is one line here (plus its property on the record and its check in
/// <see cref="ConfigValidator"/>).
/// </summary>
internal static class ConfigKeys
{
    public static readonly ConfigKey<ServerConfig>[] Server =
    [
        new("listen", (r, n, c, k, s) => r.StringList(n, c, k) is { } v ? s with { Listen = v } : s, s => s.Listen),
        new("source-password", (r, n, c, k, s) => s with { SourcePassword = r.String(n, c, k) ?? s.SourcePassword }, s => s.SourcePassword, Secret: true),
        new("relay-password", (r, n, c, k, s) => s with { RelayPassword = r.String(n, c, k) ?? s.RelayPassword }, s => s.RelayPassword, Secret: true),
        new("admin-password", (r, n, c, k, s) => s with { AdminPassword = r.String(n, c, k) ?? s.AdminPassword }, s => s.AdminPassword, Secret: true),
        new("max-listeners", (r, n, c, k, s) => s with { MaxListeners = r.Int(n, c, k) ?? s.MaxListeners }, s => s.MaxListeners),
        new("dynamic-mounts", (r, n, c, k, s) => s with { DynamicMounts = r.Bool(n, c, k) ?? s.DynamicMounts }, s => s.DynamicMounts),
        new("source-timeout", (r, n, c, k, s) => s with { SourceTimeout = r.Duration(n, c, k) ?? s.SourceTimeout }, s => s.SourceTimeout),
        new("flush-interval", (r, n, c, k, s) => s with { FlushInterval = r.Duration(n, c, k) ?? s.FlushInterval }, s => s.FlushInterval),
        new("max-flush-interval", (r, n, c, k, s) => s with { MaxFlushInterval = r.Duration(n, c, k) ?? s.MaxFlushInterval }, s => s.MaxFlushInterval),
        new("listener-send-buffer", (r, n, c, k, s) => s with { ListenerSendBuffer = r.IntSize(n, c, k) ?? s.ListenerSendBuffer }, s => s.ListenerSendBuffer),
        new("access-log", (r, n, c, k, s) => s with { AccessLog = r.String(n, c, k) ?? s.AccessLog }, s => s.AccessLog),
        new("request-head-timeout", (r, n, c, k, s) => s with { RequestHeadTimeout = r.Duration(n, c, k) ?? s.RequestHeadTimeout }, s => s.RequestHeadTimeout),
        new("max-pending-connections", (r, n, c, k, s) => s with { MaxPendingConnections = r.Int(n, c, k) ?? s.MaxPendingConnections }, s => s.MaxPendingConnections),
        new("max-pending-per-address", (r, n, c, k, s) => s with { MaxPendingPerAddress = r.Int(n, c, k) ?? s.MaxPendingPerAddress }, s => s.MaxPendingPerAddress),
        new("tls-certificate", (r, n, c, k, s) => r.String(n, c, k) is { } v ? s with { TlsCertificate = r.ResolvePath(v) } : s, s => s.TlsCertificate),
        new("tls-key", (r, n, c, k, s) => r.String(n, c, k) is { } v ? s with { TlsKey = r.ResolvePath(v) } : s, s => s.TlsKey),
        new("max-connections-per-address", (r, n, c, k, s) => s with { MaxConnectionsPerAddress = r.Int(n, c, k) ?? s.MaxConnectionsPerAddress }, s => s.MaxConnectionsPerAddress),
        new("max-new-connections-per-address", (r, n, c, k, s) => s with { MaxNewConnectionsPerAddress = r.Int(n, c, k) ?? s.MaxNewConnectionsPerAddress }, s => s.MaxNewConnectionsPerAddress),
        new("source-min-rate", (r, n, c, k, s) => s with { SourceMinRate = r.IntSize(n, c, k) ?? s.SourceMinRate }, s => s.SourceMinRate),
        new("max-dynamic-mounts", (r, n, c, k, s) => s with { MaxDynamicMounts = r.Int(n, c, k) ?? s.MaxDynamicMounts }, s => s.MaxDynamicMounts),
        new("max-tag-size", (r, n, c, k, s) => s with { MaxTagSize = r.IntSize(n, c, k) ?? s.MaxTagSize }, s => s.MaxTagSize),
        new("partial-input-budget", (r, n, c, k, s) => s with { PartialInputBudget = r.Size(n, c, k) ?? s.PartialInputBudget }, s => s.PartialInputBudget),
        new("trusted-proxies", (r, n, c, k, s) => r.Networks(n, c, k) is { } v ? s with { TrustedProxies = v } : s, s => s.TrustedProxies),
        new("listener-ip", (r, n, c, k, s) => r.ReadIpRules(n, c, k) is { } v ? s with { ListenerIp = v } : s, s => s.ListenerIp),
        new("source-ip", (r, n, c, k, s) => r.ReadIpRules(n, c, k) is { } v ? s with { SourceIp = v } : s, s => s.SourceIp),
        new("redirect", (r, n, c, k, s) => s with { Redirect = r.Redirect(n, c, k) ?? s.Redirect }, s => s.Redirect),
        new("watch-config", (r, n, c, k, s) => s with { WatchConfig = r.Bool(n, c, k) ?? s.WatchConfig }, s => s.WatchConfig),
        new("mount-defaults", (r, n, c, k, s) => s with { MountDefaults = r.ReadMountKeys(n, s.MountDefaults, "server.mount-defaults", isDefaults: true).Mount }, s => s.MountDefaults),
    ];

    public static readonly ConfigKey<MountConfig>[] Mount =
    [
        // The path is read first (it names the mount in every error) and checked by ConfigReader.ReadMountKeys.
        new("path", (r, n, c, k, m) => m, m => m.Path),
        new("format", (r, n, c, k, m) => m with { Format = r.Format(n, c, k) ?? m.Format }, m => m.Format),
        new("source-password", (r, n, c, k, m) => m with { SourcePassword = r.String(n, c, k) ?? m.SourcePassword }, m => m.SourcePassword, Secret: true),
        new("max-listeners", (r, n, c, k, m) => m with { MaxListeners = r.Int(n, c, k) ?? m.MaxListeners }, m => m.MaxListeners),
        new("burst", (r, n, c, k, m) => m with { Burst = r.Duration(n, c, k) ?? m.Burst }, m => m.Burst),
        new("max-lag", (r, n, c, k, m) => m with { MaxLag = r.Duration(n, c, k) ?? m.MaxLag }, m => m.MaxLag),
        new("evict-lag", (r, n, c, k, m) => m with { EvictLag = r.Duration(n, c, k) ?? m.EvictLag }, m => m.EvictLag),
        new("buffer", (r, n, c, k, m) => m with { Buffer = r.Duration(n, c, k) ?? m.Buffer }, m => m.Buffer),
        new("buffer-bytes", (r, n, c, k, m) => m with { BufferBytes = r.Size(n, c, k) ?? m.BufferBytes }, m => m.BufferBytes),
        new("grace", (r, n, c, k, m) => m with { Grace = r.Duration(n, c, k) ?? m.Grace }, m => m.Grace),
        new("fallback", (r, n, c, k, m) => r.ReadFallbacks(n, c) is { } f ? m with { Fallback = f } : m, m => m.Fallback),
        new("override", (r, n, c, k, m) => m with { Override = r.Bool(n, c, k) ?? m.Override }, m => m.Override),
        new("title", (r, n, c, k, m) => m with { Title = r.String(n, c, k) ?? m.Title }, m => m.Title),
        new("hls", (r, n, c, k, m) => m with { Hls = r.ReadHls(n, m.Hls, c) ?? m.Hls }, m => m.Hls),
        // A mount's own auth, ip and referers blocks replace mount-defaults' whole (listener-auth: {} means none).
        new("listener-auth", (r, n, c, k, m) => r.ReadAuth(n, c, k) is { } v ? m with { ListenerAuth = v } : m, m => m.ListenerAuth, Secret: true),
        new("source-auth", (r, n, c, k, m) => r.ReadAuth(n, c, k) is { } v ? m with { SourceAuth = v } : m, m => m.SourceAuth, Secret: true),
        new("listener-ip", (r, n, c, k, m) => r.ReadIpRules(n, c, k) is { } v ? m with { ListenerIp = v } : m, m => m.ListenerIp),
        new("source-ip", (r, n, c, k, m) => r.ReadIpRules(n, c, k) is { } v ? m with { SourceIp = v } : m, m => m.SourceIp),
        new("referers", (r, n, c, k, m) => r.Referers(n, c, k) is { } v ? m with { Referers = v } : m, m => m.Referers),
    ];

    public static readonly ConfigKey<FallbackConfig>[] Fallback =
    [
        new("mount", (r, n, c, k, f) => f with { Mount = r.String(n, c, k) }, f => f.Mount),
        new("file", (r, n, c, k, f) => r.String(n, c, k) is { } file ? f with { File = file, FullPath = r.ResolvePath(file) } : f, f => f.File),
    ];

    public static readonly ConfigKey<RelayConfig>[] Relay =
    [
        new("mount", (r, n, c, k, x) => x with { Mount = r.String(n, c, k) ?? x.Mount }, x => x.Mount),
        new("upstreams", (r, n, c, k, x) => x with { Upstreams = r.StringList(n, c, k) ?? x.Upstreams }, x => x.Upstreams),
        new("on-demand", (r, n, c, k, x) => x with { OnDemand = r.Bool(n, c, k) ?? x.OnDemand }, x => x.OnDemand),
        new("idle-timeout", (r, n, c, k, x) => x with { IdleTimeout = r.Duration(n, c, k) ?? x.IdleTimeout }, x => x.IdleTimeout),
    ];

    public static readonly ConfigKey<MasterConfig>[] Master =
    [
        new("url", (r, n, c, k, x) => x with { Url = r.String(n, c, k) ?? x.Url }, x => x.Url),
        new("public-url", (r, n, c, k, x) => x with { PublicUrl = r.String(n, c, k) ?? x.PublicUrl }, x => x.PublicUrl),
        new("username", (r, n, c, k, x) => x with { Username = r.String(n, c, k) ?? x.Username }, x => x.Username),
        new("password", (r, n, c, k, x) => x with { Password = r.String(n, c, k) ?? x.Password }, x => x.Password, Secret: true),
        new("poll-interval", (r, n, c, k, x) => x with { PollInterval = r.Duration(n, c, k) ?? x.PollInterval }, x => x.PollInterval),
        new("on-demand", (r, n, c, k, x) => x with { OnDemand = r.Bool(n, c, k) ?? x.OnDemand }, x => x.OnDemand),
    ];

    /// <summary>The key names of a table, in declaration order.</summary>
    public static string[] Names<T>(ConfigKey<T>[] table) => [.. table.Select(k => k.Name)];

    /// <summary>The table entry of a key; null for an unknown key.</summary>
    public static ConfigKey<T>? Find<T>(ConfigKey<T>[] table, string key) => Array.Find(table, k => k.Name == key);

    /// <summary>
    /// What differs between two records, one "key: old -> new" per key (passwords only say "changed"), in table
    /// order; <paramref name="skip"/> leaves keys out (a mount's path, a nested record diffed on its own).
    /// </summary>
    public static List<string> Diff<T>(ConfigKey<T>[] table, T before, T after, params string[] skip)
    {
        var changes = new List<string>();
        foreach (var key in table)
        {
            if (Array.IndexOf(skip, key.Name) >= 0)
            {
                continue;
            }
            var a = key.Value(before);
            var b = key.Value(after);
            if (Equals(a, b))
            {
                continue;
            }
            changes.Add(key.Secret ? $"{key.Name} changed" : $"{key.Name} {Show(a)} -> {Show(b)}");
        }
        return changes;
    }

    private static string Show(object? value) => value switch
    {
        null => "none",
        TimeSpan t => ConfigValidator.Format(t),
        bool b => b ? "true" : "false",
        MountFormat f => f.ToString().ToLowerInvariant(),
        RedirectMode m => ConfigReader.Name(m),
        IEnumerable<FallbackConfig> list => "[" + string.Join(", ", list.Select(f => f.Mount is not null ? $"mount {f.Mount}" : $"file {f.File}")) + "]",
        IFormattable f => f.ToString(null, CultureInfo.InvariantCulture),
        _ => value.ToString() ?? "",
    };
}
