using System.Globalization;

namespace Savate.Server.Configuration;

/// <summary>
/// Semantic checks on a read config (YARP's <c>ConfigValidator</c>): every check runs and adds an error naming the
/// section, the mount and the key, so one load reports everything there is to fix.
/// </summary>
internal static class ConfigValidator
{
    private const string DefaultsContext = "server.mount-defaults";

    /// <summary>The smallest ring that holds a few seconds of a low-bitrate stream and a keyframe.</summary>
    private const long MinBufferBytes = 64 * 1024;

    private static readonly TimeSpan s_minFlushInterval = TimeSpan.FromMilliseconds(1);
    private static readonly TimeSpan s_maxFlushInterval = TimeSpan.FromSeconds(1);

    /// <param name="config">The config to check.</param>
    /// <param name="explicitMountKeys">
    /// For each declared mount, the keys it set itself. A check on keys that all came from mount-defaults is skipped
    /// for that mount: it already failed on mount-defaults, and repeating it for every mount would bury the cause.
    /// </param>
    /// <param name="errors">Where errors are added.</param>
    public static void Validate(SavateConfig config, IReadOnlyList<IReadOnlySet<string>> explicitMountKeys, List<string> errors)
    {
        ValidateServer(config.Server, errors);
        ValidateMount(config.MountDefaults(), DefaultsContext, keys: null, errors);

        var declared = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Mounts.Count; i++)
        {
            var mount = config.Mounts[i];
            var context = MountContext(mount, i);
            if (mount.Path.Length > 0)
            {
                if (CheckPath(mount.Path) is { } pathError)
                {
                    errors.Add($"{context}: path: {pathError}");
                }
                else if (!declared.Add(mount.Path))
                {
                    var first = config.Mounts.Select((m, j) => (m, j)).First(x => string.Equals(x.m.Path, mount.Path, StringComparison.Ordinal)).j;
                    errors.Add($"{context}: path: \"{mount.Path}\" is already declared by mounts[{first}] (mount paths must be unique; they are case-sensitive)");
                }
            }

            ValidateMount(mount, context, i < explicitMountKeys.Count ? explicitMountKeys[i] : null, errors);
        }

        var relayed = new HashSet<string>(StringComparer.Ordinal);
        for (var i = 0; i < config.Relays.Count; i++)
        {
            var relay = config.Relays[i];
            var context = relay.Mount.Length > 0 ? $"relays[{i}] ({relay.Mount})" : $"relays[{i}]";
            ValidateRelay(relay, context, errors);
            if (relay.Mount.Length > 0 && CheckPath(relay.Mount) is null && !relayed.Add(relay.Mount))
            {
                errors.Add($"{context}: mount: \"{relay.Mount}\" is already relayed by an earlier entry (one relay per mount)");
            }
        }

        // A relayed mount exists whether or not it is declared under mounts, so it is a valid fallback target.
        var known = new HashSet<string>(declared, StringComparer.Ordinal);
        known.UnionWith(relayed);
        ValidateFallbackTargets(config.MountDefaults(), DefaultsContext, known, keys: null, errors);
        for (var i = 0; i < config.Mounts.Count; i++)
        {
            ValidateFallbackTargets(config.Mounts[i], MountContext(config.Mounts[i], i), known, i < explicitMountKeys.Count ? explicitMountKeys[i] : null, errors);
        }

        ValidateFallbackCycles(config, relayed, errors);

        if (config.Master is { } master)
        {
            ValidateMaster(master, errors);
        }
    }

    private static MountConfig MountDefaults(this SavateConfig config) => config.Server.MountDefaults;

    private static string MountContext(MountConfig mount, int index) =>
        mount.Path.Length > 0 ? $"mounts[{index}] ({mount.Path})" : $"mounts[{index}]";

    private static void ValidateServer(ServerConfig server, List<string> errors)
    {
        const string Context = "server";
        if (server.Listen.Count == 0)
        {
            errors.Add($"{Context}: listen: give at least one URL (e.g. http://0.0.0.0:8000)");
        }

        for (var i = 0; i < server.Listen.Count; i++)
        {
            if (!IsListenUrl(server.Listen[i]))
            {
                errors.Add($"{Context}: listen: \"{server.Listen[i]}\" is not an absolute http or https URL (e.g. http://0.0.0.0:8000)");
            }
        }

        if (server.MaxListeners < 0)
        {
            errors.Add($"{Context}: max-listeners: {server.MaxListeners} must not be negative");
        }

        ValidateTls(server, errors);

        if (server.MaxConnectionsPerAddress < 0)
        {
            errors.Add($"{Context}: max-connections-per-address: {server.MaxConnectionsPerAddress} must not be negative (0 = no cap, e.g. 100)");
        }

        if (server.MaxNewConnectionsPerAddress < 0)
        {
            errors.Add($"{Context}: max-new-connections-per-address: {server.MaxNewConnectionsPerAddress} must not be negative (0 = no cap, e.g. 50)");
        }

        if (server.SourceTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Context}: source-timeout: {Format(server.SourceTimeout)} must be greater than 0 (e.g. 10s)");
        }

        if (server.RequestHeadTimeout <= TimeSpan.Zero)
        {
            errors.Add($"{Context}: request-head-timeout: {Format(server.RequestHeadTimeout)} must be greater than 0 (e.g. 10s)");
        }

        if (server.MaxPendingConnections < 1)
        {
            errors.Add($"{Context}: max-pending-connections: {server.MaxPendingConnections} must be at least 1 (e.g. 2000)");
        }

        if (server.MaxPendingPerAddress < 1)
        {
            errors.Add($"{Context}: max-pending-per-address: {server.MaxPendingPerAddress} must be at least 1 (e.g. 64)");
        }
        else if (server.MaxPendingPerAddress > server.MaxPendingConnections && server.MaxPendingConnections >= 1)
        {
            errors.Add($"{Context}: max-pending-per-address: {server.MaxPendingPerAddress} must not exceed max-pending-connections ({server.MaxPendingConnections})");
        }

        if (server.FlushInterval < s_minFlushInterval || server.FlushInterval > s_maxFlushInterval)
        {
            errors.Add($"{Context}: flush-interval: {Format(server.FlushInterval)} must be between 1ms and 1s (e.g. 40ms)");
        }
        // Below flush-interval it means "never stretch" (the interval is never shortened by it).
        if (server.MaxFlushInterval < s_minFlushInterval || server.MaxFlushInterval > s_maxFlushInterval * 5)
        {
            errors.Add($"{Context}: max-flush-interval: {Format(server.MaxFlushInterval)} must be between 1ms and 5s (e.g. 250ms)");
        }

        if (server.ListenerSendBuffer < 0)
        {
            errors.Add($"{Context}: listener-send-buffer: {server.ListenerSendBuffer} must not be negative (0 = kernel default)");
        }

        if (server.SourceMinRate < 0)
        {
            errors.Add($"{Context}: source-min-rate: {server.SourceMinRate} must not be negative (0 = off, e.g. 1KiB)");
        }

        if (server.MaxDynamicMounts < 0)
        {
            errors.Add($"{Context}: max-dynamic-mounts: {server.MaxDynamicMounts} must not be negative (0 = none, e.g. 100)");
        }

        if (server.MaxTagSize is < 1024 or > 16 * 1024 * 1024 - 1)
        {
            errors.Add($"{Context}: max-tag-size: {server.MaxTagSize} must be between 1KiB and 16MiB - 1 (FLV's DataSize is 24 bits; e.g. 4MiB)");
        }

        if (server.PartialInputBudget < server.MaxTagSize)
        {
            errors.Add($"{Context}: partial-input-budget: {server.PartialInputBudget} must be at least max-tag-size ({server.MaxTagSize}), or no source could send a maximal tag (e.g. 64MiB)");
        }
    }

    /// <summary>https:// needs both PEM files, and they must load (the error names the key and the file at fault).</summary>
    private static void ValidateTls(ServerConfig server, List<string> errors)
    {
        const string Context = "server";
        if ((server.TlsCertificate is null) != (server.TlsKey is null))
        {
            errors.Add(server.TlsCertificate is null
                ? $"{Context}: tls-key: set without tls-certificate (give both, PEM files)"
                : $"{Context}: tls-certificate: set without tls-key (give both, PEM files)");
        }
        else if (server.TlsCertificate is null)
        {
            foreach (var url in server.Listen)
            {
                if (url.StartsWith("https://", StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add($"{Context}: listen: \"{url}\" is https but tls-certificate and tls-key are not set (PEM files, e.g. tls-certificate: cert.pem, tls-key: key.pem)");
                }
            }
        }
        else
        {
            if (PemCertificate.Check(server.TlsCertificate, server.TlsKey!) is { } error)
            {
                errors.Add($"{Context}: {error}");
            }
        }
    }

    private static void ValidateMount(MountConfig mount, string context, IReadOnlySet<string>? keys, List<string> errors)
    {
        bool Check(params string[] involved) => keys is null || involved.Any(keys.Contains);

        void NotNegative(TimeSpan value, string key)
        {
            if (value < TimeSpan.Zero && Check(key))
            {
                errors.Add($"{context}: {key}: {Format(value)} must not be negative");
            }
        }

        NotNegative(mount.Burst, "burst");
        NotNegative(mount.MaxLag, "max-lag");
        NotNegative(mount.EvictLag, "evict-lag");
        NotNegative(mount.Buffer, "buffer");
        NotNegative(mount.Grace, "grace");

        if (mount.Buffer == TimeSpan.Zero && Check("buffer"))
        {
            errors.Add($"{context}: buffer: must be greater than 0 (e.g. 30s)");
        }

        if (mount.MaxLag >= mount.EvictLag && Check("max-lag", "evict-lag"))
        {
            errors.Add($"{context}: max-lag: {Format(mount.MaxLag)} must be less than evict-lag ({Format(mount.EvictLag)}): a lagging listener is skipped ahead before it is evicted");
        }

        if (mount.EvictLag > mount.Buffer && Check("evict-lag", "buffer"))
        {
            errors.Add($"{context}: evict-lag: {Format(mount.EvictLag)} must not exceed buffer ({Format(mount.Buffer)}): the ring must still hold what a listener lags behind");
        }

        if (mount.BufferBytes < MinBufferBytes && Check("buffer-bytes"))
        {
            errors.Add($"{context}: buffer-bytes: {mount.BufferBytes} must be at least 64KiB");
        }

        if (mount.MaxListeners < 0 && Check("max-listeners"))
        {
            errors.Add($"{context}: max-listeners: {mount.MaxListeners} must not be negative");
        }

        if (Check("listener-auth"))
        {
            ValidateAuth(mount.ListenerAuth, $"{context}: listener-auth", errors);
        }

        if (Check("source-auth"))
        {
            ValidateAuth(mount.SourceAuth, $"{context}: source-auth", errors);
        }

        if (!Check("fallback"))
        {
            return;
        }

        for (var i = 0; i < mount.Fallback.Count; i++)
        {
            var fallback = mount.Fallback[i];
            var where = $"{context}: fallback[{i}]";
            if ((fallback.Mount is null) == (fallback.File is null))
            {
                errors.Add($"{where}: give exactly one of 'mount' (another mount's path) or 'file' (a media file)");
            }
            else if (fallback.File is not null && CheckReadable(fallback.FullPath ?? fallback.File) is { } fileError)
            {
                errors.Add($"{where}: file: \"{fallback.File}\" {fileError}");
            }
        }
    }

    /// <summary>The longest token-key accepted: 128 hex digits (a 512-bit key; HMAC-SHA256 gains nothing past 64 bytes).</summary>
    internal const int MaxTokenKeyHex = 128;

    private static void ValidateAuth(AuthConfig auth, string context, List<string> errors)
    {
        if (auth.TokenKey is { } key
            && (key.Length == 0 || key.Length % 2 != 0 || key.Length > MaxTokenKeyHex || !key.All(char.IsAsciiHexDigit)))
        {
            // The key itself is never echoed: it is a secret.
            errors.Add($"{context}: token-key: must be an even number of hex digits (0-9a-f), at most {MaxTokenKeyHex}, e.g. 32 random bytes from: openssl rand -hex 32");
        }

        if (auth.Hook is { } hook && !(Uri.TryCreate(hook, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
        {
            errors.Add($"{context}: hook: \"{hook}\" is not an absolute http or https URL (e.g. http://auth.local/on-play)");
        }

        if (auth.UsersFile is { } file)
        {
            var path = auth.UsersFileFullPath ?? file;
            if (CheckReadable(path) is { } fileError)
            {
                errors.Add($"{context}: users-file: \"{file}\" {fileError}");
            }
            else
            {
                try
                {
                    Auth.UserFile.Load(path);
                }
                catch (FormatException e)
                {
                    errors.Add($"{context}: users-file: {e.Message.ReplaceLineEndings("; ")}");
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    errors.Add($"{context}: users-file: \"{file}\" cannot be read: {e.Message}");
                }
            }
        }
    }

    private static void ValidateFallbackTargets(MountConfig mount, string context, HashSet<string> known, IReadOnlySet<string>? keys, List<string> errors)
    {
        var inherited = keys is not null && !keys.Contains("fallback");
        for (var i = 0; i < mount.Fallback.Count; i++)
        {
            if (mount.Fallback[i] is not { Mount: { } target, File: null })
            {
                continue;
            }

            var where = $"{context}: fallback[{i}]: mount";
            if (context != DefaultsContext && string.Equals(target, mount.Path, StringComparison.Ordinal))
            {
                // Checked even when inherited: mount-defaults can't know which mount it will be applied to.
                var fix = inherited ? " (inherited from mount-defaults; set this mount's own fallback, e.g. fallback: [])" : "";
                errors.Add($"{where}: \"{target}\" is this mount itself; a mount cannot fall back to itself{fix}");
            }
            else if (!inherited && !known.Contains(target))
            {
                errors.Add($"{where}: \"{target}\" is not a declared mount (declare it under mounts or relays)");
            }
        }
    }

    /// <summary>Finds fallback chains that loop (a → b → a); each loop is reported once, on its first mount in file order.</summary>
    private static void ValidateFallbackCycles(SavateConfig config, HashSet<string> relayed, List<string> errors)
    {
        var comparer = StringComparer.Ordinal;
        var edges = new Dictionary<string, List<string>>(comparer);
        var order = new List<string>();
        var contexts = new Dictionary<string, string>(comparer);

        void AddNode(string path, IReadOnlyList<FallbackConfig> fallback, string context)
        {
            if (path.Length == 0 || edges.ContainsKey(path))
            {
                return;
            }

            // Self-loops are reported on their own by ValidateFallbackTargets.
            edges[path] = fallback.Where(f => f.Mount is not null && !comparer.Equals(f.Mount, path)).Select(f => f.Mount!).ToList();
            order.Add(path);
            contexts[path] = context;
        }

        for (var i = 0; i < config.Mounts.Count; i++)
        {
            AddNode(config.Mounts[i].Path, config.Mounts[i].Fallback, MountContext(config.Mounts[i], i));
        }

        for (var i = 0; i < config.Relays.Count; i++)
        {
            // An undeclared relayed mount gets mount-defaults, fallback included.
            if (relayed.Contains(config.Relays[i].Mount))
            {
                AddNode(config.Relays[i].Mount, config.Server.MountDefaults.Fallback, $"relays[{i}] ({config.Relays[i].Mount})");
            }
        }

        var state = new Dictionary<string, int>(comparer); // absent: unvisited, 1: on the stack, 2: done
        var stack = new List<string>();
        var reported = new HashSet<string>(StringComparer.Ordinal);

        void Visit(string node)
        {
            state[node] = 1;
            stack.Add(node);
            foreach (var next in edges[node])
            {
                if (!edges.ContainsKey(next))
                {
                    continue;
                }

                if (state.TryGetValue(next, out var s) && s == 1)
                {
                    var cycle = stack.Skip(stack.FindIndex(p => comparer.Equals(p, next))).ToList();
                    var first = cycle.MinBy(order.IndexOf)!;
                    var start = cycle.IndexOf(first);
                    var rotated = cycle.Skip(start).Concat(cycle.Take(start)).Append(first).ToList();
                    if (reported.Add(string.Join(" -> ", rotated).ToLowerInvariant()))
                    {
                        errors.Add($"{contexts[first]}: fallback: the fallback chain {string.Join(" -> ", rotated)} loops; remove one of these fallbacks");
                    }
                }
                else if (!state.ContainsKey(next))
                {
                    Visit(next);
                }
            }

            stack.RemoveAt(stack.Count - 1);
            state[node] = 2;
        }

        foreach (var node in order)
        {
            if (!state.ContainsKey(node))
            {
                Visit(node);
            }
        }
    }

    private static void ValidateRelay(RelayConfig relay, string context, List<string> errors)
    {
        if (relay.Mount.Length > 0 && CheckPath(relay.Mount) is { } pathError)
        {
            errors.Add($"{context}: mount: {pathError}");
        }

        if (relay.Upstreams.Count == 0)
        {
            errors.Add($"{context}: upstreams: give at least one URL (e.g. http://master:8000{(relay.Mount.StartsWith('/') ? relay.Mount : "/live.flv")})");
        }

        foreach (var upstream in relay.Upstreams)
        {
            if (!IsHttpUrl(upstream))
            {
                errors.Add($"{context}: upstreams: \"{upstream}\" is not an absolute http or https URL");
            }
        }

        if (relay.IdleTimeout < TimeSpan.Zero)
        {
            errors.Add($"{context}: idle-timeout: {Format(relay.IdleTimeout)} must not be negative");
        }
    }

    private static void ValidateMaster(MasterConfig master, List<string> errors)
    {
        const string Context = "master";
        if (master.Url.Length == 0)
        {
            errors.Add($"{Context}: url: is required (e.g. url: http://master:8000)");
        }
        else if (!IsHttpUrl(master.Url))
        {
            errors.Add($"{Context}: url: \"{master.Url}\" is not an absolute http or https URL (e.g. http://master:8000)");
        }

        if (master.PublicUrl is { } publicUrl && CheckPublicUrl(publicUrl) is { } publicError)
        {
            errors.Add($"{Context}: public-url: \"{publicUrl}\" {publicError} (e.g. public-url: http://slave-1.example:8000)");
        }

        if (string.IsNullOrWhiteSpace(master.Username))
        {
            errors.Add($"{Context}: username: must not be empty (Icecast's relay user is 'relay')");
        }

        if (master.PollInterval <= TimeSpan.Zero)
        {
            errors.Add($"{Context}: poll-interval: {Format(master.PollInterval)} must be greater than 0 (e.g. 10s)");
        }
    }

    /// <summary>Why a slave's public URL can't be announced, or null: listeners are sent to it plus their path and query.</summary>
    internal static string? CheckPublicUrl(string text)
    {
        if (!IsHttpUrl(text) || !Uri.TryCreate(text, UriKind.Absolute, out var uri))
        {
            return "is not an absolute http or https URL";
        }

        if (uri.UserInfo.Length > 0 || uri.Query.Length > 0 || uri.Fragment.Length > 0)
        {
            return "must have no user, query or fragment";
        }

        if (uri.Host is "0.0.0.0" or "[::]" or "::")
        {
            return "names no reachable host (listeners are sent there)";
        }

        return null;
    }

    /// <summary>Why <paramref name="path"/> can't be a mount path, or null when it can: the one rule routing and dynamic mounts use too.</summary>
    private static string? CheckPath(string path) => Http.MountPathRules.CheckMountPath(path);

    private static bool IsHttpUrl(string text) =>
        Uri.TryCreate(text, UriKind.Absolute, out var uri)
        && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)
        && uri.Host.Length > 0;

    /// <summary>Like <see cref="IsHttpUrl"/>, but also takes Kestrel's wildcard hosts (<c>http://*:8000</c>, <c>http://+:8000</c>).</summary>
    private static bool IsListenUrl(string text)
    {
        foreach (var wildcard in (string[])["://*", "://+"])
        {
            var at = text.IndexOf(wildcard, StringComparison.Ordinal);
            if (at >= 0)
            {
                text = string.Concat(text.AsSpan(0, at), "://0.0.0.0", text.AsSpan(at + wildcard.Length));
            }
        }

        return IsHttpUrl(text);
    }

    /// <summary>Why the file can't be played, or null when it can be opened for reading.</summary>
    private static string? CheckReadable(string fullPath)
    {
        if (!File.Exists(fullPath))
        {
            return $"not found (looked for {fullPath})";
        }

        try
        {
            using var stream = new FileStream(fullPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
            return null;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return $"cannot be read ({fullPath}): {ex.Message}";
        }
    }

    /// <summary>A duration as the config writes it: <c>5s</c>, <c>500ms</c>, <c>1.5s</c>.</summary>
    internal static string Format(TimeSpan value)
    {
        var sign = value < TimeSpan.Zero ? "-" : "";
        var ticks = Math.Abs(value.Ticks);
        if (ticks % TimeSpan.TicksPerSecond == 0)
        {
            return $"{sign}{ticks / TimeSpan.TicksPerSecond}s";
        }

        if (ticks < TimeSpan.TicksPerSecond && ticks % TimeSpan.TicksPerMillisecond == 0)
        {
            return $"{sign}{ticks / TimeSpan.TicksPerMillisecond}ms";
        }

        return sign + ((decimal)ticks / TimeSpan.TicksPerSecond).ToString(CultureInfo.InvariantCulture) + "s";
    }
}
