using System.Globalization;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Savate.Server.Configuration;

/// <summary>What <see cref="ConfigReader"/> produced, before the semantic checks of <see cref="ConfigValidator"/>.</summary>
/// <param name="Config">The config, with defaults where a key was absent or its value invalid.</param>
/// <param name="ExplicitMountKeys">For each declared mount, the keys it set itself (the rest came from mount-defaults).</param>
internal sealed record ConfigReadResult(SavateConfig Config, IReadOnlyList<IReadOnlySet<string>> ExplicitMountKeys);

/// <summary>
/// Maps the YAML representation model onto the config records by hand, so that every type error and unknown key is
/// collected instead of stopping at the first. A key with an invalid value keeps its default, so later checks still run.
/// </summary>
internal sealed class ConfigReader(string baseDirectory, List<string> errors)
{
    private static readonly string[] s_rootKeys = ["server", "mounts", "relays", "master"];

    private static readonly string[] s_serverKeys =
    [
        "listen", "source-password", "relay-password", "admin-password", "max-listeners", "dynamic-mounts",
        "source-timeout", "flush-interval", "listener-send-buffer", "access-log", "mount-defaults",
    ];

    private static readonly string[] s_mountKeys =
    [
        "path", "format", "source-password", "max-listeners", "burst", "max-lag", "evict-lag", "buffer",
        "buffer-bytes", "grace", "fallback", "override", "title",
    ];

    private static readonly string[] s_fallbackKeys = ["mount", "file"];
    private static readonly string[] s_relayKeys = ["mount", "upstreams", "on-demand", "idle-timeout"];
    private static readonly string[] s_masterKeys = ["url", "username", "password", "poll-interval", "on-demand"];

    private const string DurationHint = "use 500ms, 5s, 2m";
    private const string SizeHint = "use 65536, 64KiB, 32MiB";

    private readonly string _baseDirectory = baseDirectory;
    private readonly List<string> _errors = errors;

    /// <summary>Reads the document; null when it is not YAML at all (the syntax error is in the error list).</summary>
    public ConfigReadResult? Read(string yaml)
    {
        var stream = new YamlStream();
        try
        {
            if (FindExcessiveNesting(yaml) is { } deep)
            {
                _errors.Add($"config: line {deep.Line}: collections nested more than {MaxNesting} levels deep; a config needs a handful");
                return null;
            }
            stream.Load(new StringReader(yaml));
        }
        catch (YamlException ex)
        {
            _errors.Add(SyntaxError(ex));
            return null;
        }
        catch (InvalidOperationException)
        {
            // YamlDotNet 16.3 throws this, without a position, when the text ends inside a flow collection.
            _errors.Add(EndOfTextError(yaml));
            return null;
        }
        catch (ArgumentException ex)
        {
            // YamlDotNet 16.3 throws this, without a position, for a tag that is not a URI ("!!a:[") and for
            // some control characters ("\0: d\x1A"): its parser and its node loader disagree (found by fuzzing).
            _errors.Add($"YAML syntax error: {ex.Message.Replace(" (Parameter 'value')", "", StringComparison.Ordinal).Replace(" (Parameter 'parser')", "", StringComparison.Ordinal)}");
            return null;
        }

        var config = new SavateConfig { BaseDirectory = _baseDirectory };
        var explicitKeys = new List<IReadOnlySet<string>>();
        if (stream.Documents.Count == 0)
        {
            return new ConfigReadResult(config, explicitKeys);
        }

        if (stream.Documents.Count > 1)
        {
            _errors.Add($"config: found {stream.Documents.Count} YAML documents (separated by '---'); put everything in one");
        }

        var root = stream.Documents[0].RootNode;
        if (IsNull(root))
        {
            return new ConfigReadResult(config, explicitKeys);
        }

        if (root is not YamlMappingNode rootMap)
        {
            _errors.Add($"config: expected a mapping with the keys {string.Join(", ", s_rootKeys)}, got {Describe(root)}");
            return new ConfigReadResult(config, explicitKeys);
        }

        // Sections are read in dependency order, not file order: mounts inherit server.mount-defaults.
        var sections = new Dictionary<string, YamlNode>(StringComparer.Ordinal);
        foreach (var (key, value) in Entries(rootMap, "config", s_rootKeys))
        {
            sections[key] = value;
        }

        var server = sections.TryGetValue("server", out var serverNode) ? ReadServer(serverNode) : new ServerConfig();
        var mounts = new List<MountConfig>();
        if (sections.TryGetValue("mounts", out var mountsNode) && Sequence(mountsNode, "config", "mounts", "a list of mounts") is { } mountItems)
        {
            for (var i = 0; i < mountItems.Count; i++)
            {
                var (mount, keys) = ReadMount(mountItems[i], server.MountDefaults, i);
                mounts.Add(mount);
                explicitKeys.Add(keys);
            }
        }

        var relays = new List<RelayConfig>();
        if (sections.TryGetValue("relays", out var relaysNode) && Sequence(relaysNode, "config", "relays", "a list of relays") is { } relayItems)
        {
            for (var i = 0; i < relayItems.Count; i++)
            {
                relays.Add(ReadRelay(relayItems[i], i));
            }
        }

        var master = sections.TryGetValue("master", out var masterNode) ? ReadMaster(masterNode) : null;

        config = config with { Server = server, Mounts = mounts, Relays = relays, Master = master };
        return new ConfigReadResult(config, explicitKeys);
    }

    private ServerConfig ReadServer(YamlNode node)
    {
        const string Context = "server";
        var server = new ServerConfig();
        if (Mapping(node, "config", "server") is not { } map)
        {
            return server;
        }

        foreach (var (key, value) in Entries(map, Context, s_serverKeys))
        {
            switch (key)
            {
                case "listen":
                    if (StringList(value, Context, key) is { } listen)
                    {
                        server = server with { Listen = listen };
                    }

                    break;
                case "source-password":
                    server = server with { SourcePassword = String(value, Context, key) ?? server.SourcePassword };
                    break;
                case "relay-password":
                    server = server with { RelayPassword = String(value, Context, key) ?? server.RelayPassword };
                    break;
                case "admin-password":
                    server = server with { AdminPassword = String(value, Context, key) ?? server.AdminPassword };
                    break;
                case "access-log":
                    server = server with { AccessLog = String(value, Context, key) ?? server.AccessLog };
                    break;
                case "max-listeners":
                    server = server with { MaxListeners = Int(value, Context, key) ?? server.MaxListeners };
                    break;
                case "dynamic-mounts":
                    server = server with { DynamicMounts = Bool(value, Context, key) ?? server.DynamicMounts };
                    break;
                case "source-timeout":
                    server = server with { SourceTimeout = Duration(value, Context, key) ?? server.SourceTimeout };
                    break;
                case "flush-interval":
                    server = server with { FlushInterval = Duration(value, Context, key) ?? server.FlushInterval };
                    break;
                case "listener-send-buffer":
                    if (Size(value, Context, key) is { } sendBuffer)
                    {
                        if (sendBuffer > int.MaxValue)
                        {
                            Error(Context, key, $"{sendBuffer} bytes is too large (at most {int.MaxValue})");
                        }
                        else
                        {
                            server = server with { ListenerSendBuffer = (int)sendBuffer };
                        }
                    }

                    break;
                case "mount-defaults":
                    server = server with { MountDefaults = ReadMountKeys(value, server.MountDefaults, "server.mount-defaults", isDefaults: true).Mount };
                    break;
            }
        }

        return server;
    }

    private (MountConfig Mount, IReadOnlySet<string> Keys) ReadMount(YamlNode node, MountConfig defaults, int index)
    {
        // The context names the mount by its path, so find the path before reading anything else.
        var context = $"mounts[{index}]";
        var path = "";
        if (node is YamlMappingNode map
            && map.Children.TryGetValue(new YamlScalarNode("path"), out var pathNode)
            && pathNode is YamlScalarNode { Value: { } pathValue }
            && !IsNull(pathNode))
        {
            path = pathValue;
            context = $"mounts[{index}] ({path})";
        }
        else if (node is YamlMappingNode)
        {
            Error(context, "path", "is required (e.g. path: /live.flv)");
        }

        return ReadMountKeys(node, defaults with { Path = path }, context, isDefaults: false);
    }

    private (MountConfig Mount, IReadOnlySet<string> Keys) ReadMountKeys(YamlNode node, MountConfig mount, string context, bool isDefaults)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        if (Mapping(node, context, null) is not { } map)
        {
            return (mount, keys);
        }

        foreach (var (key, value) in Entries(map, context, s_mountKeys))
        {
            var before = mount;
            switch (key)
            {
                case "path":
                    if (isDefaults)
                    {
                        Error(context, key, "is not allowed in mount-defaults (each mount declares its own path)");
                    }
                    else if (!IsNull(value) && value is not YamlScalarNode)
                    {
                        Error(context, key, $"expected a path such as /live.flv, got {Describe(value)}");
                    }

                    continue;
                case "format":
                    mount = mount with { Format = Format(value, context, key) ?? mount.Format };
                    break;
                case "source-password":
                    mount = mount with { SourcePassword = String(value, context, key) ?? mount.SourcePassword };
                    break;
                case "title":
                    mount = mount with { Title = String(value, context, key) ?? mount.Title };
                    break;
                case "max-listeners":
                    mount = mount with { MaxListeners = Int(value, context, key) ?? mount.MaxListeners };
                    break;
                case "burst":
                    mount = mount with { Burst = Duration(value, context, key) ?? mount.Burst };
                    break;
                case "max-lag":
                    mount = mount with { MaxLag = Duration(value, context, key) ?? mount.MaxLag };
                    break;
                case "evict-lag":
                    mount = mount with { EvictLag = Duration(value, context, key) ?? mount.EvictLag };
                    break;
                case "buffer":
                    mount = mount with { Buffer = Duration(value, context, key) ?? mount.Buffer };
                    break;
                case "buffer-bytes":
                    mount = mount with { BufferBytes = Size(value, context, key) ?? mount.BufferBytes };
                    break;
                case "grace":
                    mount = mount with { Grace = Duration(value, context, key) ?? mount.Grace };
                    break;
                case "override":
                    mount = mount with { Override = Bool(value, context, key) ?? mount.Override };
                    break;
                case "fallback":
                    if (ReadFallbacks(value, context) is { } fallback)
                    {
                        mount = mount with { Fallback = fallback };
                        keys.Add(key);
                    }

                    continue;
            }

            // Only a key that parsed counts as set here, so that checks between keys blame what the user wrote.
            if (!Equals(before, mount))
            {
                keys.Add(key);
            }
        }

        return (mount, keys);
    }

    private List<FallbackConfig>? ReadFallbacks(YamlNode node, string context)
    {
        if (Sequence(node, context, "fallback", "a list of {mount: /path} or {file: path}") is not { } items)
        {
            return null;
        }

        var fallbacks = new List<FallbackConfig>();
        for (var i = 0; i < items.Count; i++)
        {
            var entryContext = $"{context}: fallback[{i}]";
            if (Mapping(items[i], entryContext, null) is not { } map)
            {
                continue;
            }

            var fallback = new FallbackConfig();
            foreach (var (key, value) in Entries(map, entryContext, s_fallbackKeys))
            {
                var text = String(value, entryContext, key);
                if (key == "mount")
                {
                    fallback = fallback with { Mount = text };
                }
                else if (text is not null)
                {
                    fallback = fallback with { File = text, FullPath = System.IO.Path.GetFullPath(System.IO.Path.Combine(_baseDirectory, text)) };
                }
            }

            fallbacks.Add(fallback);
        }

        return fallbacks;
    }

    private RelayConfig ReadRelay(YamlNode node, int index)
    {
        var context = $"relays[{index}]";
        var relay = new RelayConfig { Mount = "" };
        if (Mapping(node, context, null) is not { } map)
        {
            return relay;
        }

        if (map.Children.TryGetValue(new YamlScalarNode("mount"), out var mountNode) && mountNode is YamlScalarNode { Value: { } mount } && !IsNull(mountNode))
        {
            context = $"relays[{index}] ({mount})";
        }
        else
        {
            Error(context, "mount", "is required (the local path, e.g. mount: /relayed.flv)");
        }

        foreach (var (key, value) in Entries(map, context, s_relayKeys))
        {
            switch (key)
            {
                case "mount":
                    relay = relay with { Mount = String(value, context, key) ?? relay.Mount };
                    break;
                case "upstreams":
                    relay = relay with { Upstreams = StringList(value, context, key) ?? relay.Upstreams };
                    break;
                case "on-demand":
                    relay = relay with { OnDemand = Bool(value, context, key) ?? relay.OnDemand };
                    break;
                case "idle-timeout":
                    relay = relay with { IdleTimeout = Duration(value, context, key) ?? relay.IdleTimeout };
                    break;
            }
        }

        return relay;
    }

    private MasterConfig? ReadMaster(YamlNode node)
    {
        const string Context = "master";
        if (IsNull(node) || Mapping(node, "config", "master") is not { } map)
        {
            return null;
        }

        var master = new MasterConfig { Url = "" };
        foreach (var (key, value) in Entries(map, Context, s_masterKeys))
        {
            switch (key)
            {
                case "url":
                    master = master with { Url = String(value, Context, key) ?? master.Url };
                    break;
                case "username":
                    master = master with { Username = String(value, Context, key) ?? master.Username };
                    break;
                case "password":
                    master = master with { Password = String(value, Context, key) ?? master.Password };
                    break;
                case "poll-interval":
                    master = master with { PollInterval = Duration(value, Context, key) ?? master.PollInterval };
                    break;
                case "on-demand":
                    master = master with { OnDemand = Bool(value, Context, key) ?? master.OnDemand };
                    break;
            }
        }

        return master;
    }

    /// <summary>The entries of a mapping whose key is known; reports every other key, with a suggestion.</summary>
    private List<(string Key, YamlNode Value)> Entries(YamlMappingNode map, string context, string[] allowed)
    {
        var entries = new List<(string, YamlNode)>();
        foreach (var (keyNode, value) in map.Children)
        {
            if (keyNode is not YamlScalarNode { Value: { } key })
            {
                _errors.Add($"{context}: expected a key name at line {keyNode.Start.Line}, got {Describe(keyNode)}");
            }
            else if (Array.IndexOf(allowed, key) < 0)
            {
                _errors.Add($"{context}: {UnknownKey(key, allowed)}");
            }
            else
            {
                entries.Add((key, value));
            }
        }

        return entries;
    }

    internal static string UnknownKey(string key, string[] allowed)
    {
        var suggestion = Suggest(key, allowed);
        return suggestion is null ? $"unknown key '{key}'" : $"unknown key '{key}' (did you mean '{suggestion}'?)";
    }

    /// <summary>The closest allowed key within an edit distance of 2, ignoring case (so <c>Max_Lag</c> finds <c>max-lag</c>).</summary>
    internal static string? Suggest(string key, string[] allowed)
    {
        var lowered = key.ToLowerInvariant();
        string? best = null;
        var bestDistance = 3;
        foreach (var candidate in allowed)
        {
            var distance = EditDistance(lowered, candidate);
            if (distance < bestDistance)
            {
                best = candidate;
                bestDistance = distance;
            }
        }

        return best;
    }

    private static int EditDistance(string a, string b)
    {
        var previous = new int[b.Length + 1];
        var current = new int[b.Length + 1];
        for (var j = 0; j <= b.Length; j++)
        {
            previous[j] = j;
        }

        for (var i = 1; i <= a.Length; i++)
        {
            current[0] = i;
            for (var j = 1; j <= b.Length; j++)
            {
                var substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
                current[j] = Math.Min(substitution, Math.Min(previous[j], current[j - 1]) + 1);
            }

            (previous, current) = (current, previous);
        }

        return previous[b.Length];
    }

    private YamlMappingNode? Mapping(YamlNode node, string context, string? key)
    {
        if (node is YamlMappingNode map)
        {
            return map;
        }

        // An empty section (`server:` with nothing under it) means defaults.
        if (!IsNull(node))
        {
            var where = key is null ? context : context == "config" ? key : $"{context}: {key}";
            _errors.Add($"{where}: expected a mapping of keys, got {Describe(node)}");
        }

        return null;
    }

    private IList<YamlNode>? Sequence(YamlNode node, string context, string key, string expected)
    {
        if (node is YamlSequenceNode sequence)
        {
            return sequence.Children;
        }

        if (!IsNull(node))
        {
            var where = context == "config" ? key : $"{context}: {key}";
            _errors.Add($"{where}: expected {expected}, got {Describe(node)}");
        }

        return null;
    }

    /// <summary>A scalar's text; null when the value is empty (keep the default) or not a scalar (reported).</summary>
    private string? Scalar(YamlNode node, string context, string key, string expected)
    {
        if (IsNull(node))
        {
            return null;
        }

        if (node is YamlScalarNode { Value: { } value })
        {
            return value;
        }

        Error(context, key, $"expected {expected}, got {Describe(node)}");
        return null;
    }

    private string? String(YamlNode node, string context, string key) => Scalar(node, context, key, "a string");

    private List<string>? StringList(YamlNode node, string context, string key)
    {
        if (node is YamlSequenceNode sequence)
        {
            var list = new List<string>();
            for (var i = 0; i < sequence.Children.Count; i++)
            {
                if (Scalar(sequence.Children[i], context, $"{key}[{i}]", "a string") is { } item)
                {
                    list.Add(item);
                }
            }

            return list;
        }

        return Scalar(node, context, key, "a string or a list of strings") is { } single ? [single] : null;
    }

    private int? Int(YamlNode node, string context, string key)
    {
        if (Scalar(node, context, key, "an integer") is not { } text)
        {
            return null;
        }

        if (int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value))
        {
            return value;
        }

        Error(context, key, $"\"{text}\" is not an integer");
        return null;
    }

    private bool? Bool(YamlNode node, string context, string key)
    {
        if (Scalar(node, context, key, "true or false") is not { } text)
        {
            return null;
        }

        if (bool.TryParse(text, out var value))
        {
            return value;
        }

        Error(context, key, $"\"{text}\" is not a boolean (use true or false)");
        return null;
    }

    private TimeSpan? Duration(YamlNode node, string context, string key)
    {
        if (Scalar(node, context, key, $"a duration ({DurationHint})") is not { } text)
        {
            return null;
        }

        try
        {
            return ConfigLoader.ParseDuration(text);
        }
        catch (FormatException)
        {
            var hint = int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _) ? $"add a unit: {text}s or {text}ms" : DurationHint;
            Error(context, key, $"\"{text}\" is not a duration ({hint})");
            return null;
        }
    }

    private long? Size(YamlNode node, string context, string key)
    {
        if (Scalar(node, context, key, $"a size ({SizeHint})") is not { } text)
        {
            return null;
        }

        try
        {
            return ConfigLoader.ParseSize(text);
        }
        catch (FormatException)
        {
            Error(context, key, $"\"{text}\" is not a size ({SizeHint})");
            return null;
        }
    }

    private MountFormat? Format(YamlNode node, string context, string key)
    {
        if (Scalar(node, context, key, "auto, flv or mpegts") is not { } text)
        {
            return null;
        }

        switch (text.ToLowerInvariant())
        {
            case "auto":
                return MountFormat.Auto;
            case "flv":
                return MountFormat.Flv;
            case "mpegts":
                return MountFormat.Mpegts;
            default:
                Error(context, key, $"\"{text}\" is not a format (use auto, flv or mpegts)");
                return null;
        }
    }

    private void Error(string context, string key, string message) => _errors.Add($"{context}: {key}: {message}");

    /// <summary>A plain empty value, <c>~</c> or <c>null</c>: YAML's null, which means "use the default".</summary>
    private static bool IsNull(YamlNode node) =>
        node is YamlScalarNode { Style: ScalarStyle.Plain or ScalarStyle.Any, Value: null or "" or "~" or "null" or "Null" or "NULL" };

    private static string Describe(YamlNode node) => node switch
    {
        YamlMappingNode => $"a mapping (line {node.Start.Line})",
        YamlSequenceNode => $"a list (line {node.Start.Line})",
        YamlScalarNode { Value: var value } => $"\"{value}\" (line {node.Start.Line})",
        _ => $"a {node.NodeType} (line {node.Start.Line})",
    };

    private static string EndOfTextError(string yaml)
    {
        var lines = yaml.TrimEnd().Split('\n');
        return $"YAML syntax error at line {lines.Length}, column {lines[^1].TrimEnd('\r').Length + 1}: "
            + "the text ended early (is a '[', '{' or quote left open?)";
    }

    private static string SyntaxError(YamlException ex)
    {
        // YamlException.Message repeats the marks as "(Line: 3, Col: 5, Idx: 20) - (...): message"; keep the message.
        var message = ex.Message;
        var marksEnd = message.IndexOf("): ", StringComparison.Ordinal);
        if (message.StartsWith('(') && marksEnd >= 0)
        {
            message = message[(marksEnd + 3)..];
        }

        return $"YAML syntax error at line {ex.Start.Line}, column {ex.Start.Column}: {message}";
    }

    // YamlDotNet builds its node tree recursively: about 30,000 nested '[' overflow the stack and kill the process,
    // which no catch can stop (found by fuzzing, tests/Savate.Fuzz/corpus/config/crash-deep-flow-nesting.yaml).
    // Its parser keeps its own stack, so a first pass over the parser's events refuses a document this deep.
    private const int MaxNesting = 64;

    private static Mark? FindExcessiveNesting(string yaml)
    {
        var parser = new Parser(new StringReader(yaml));
        var depth = 0;
        while (parser.MoveNext())
        {
            switch (parser.Current)
            {
                case YamlDotNet.Core.Events.SequenceStart or YamlDotNet.Core.Events.MappingStart:
                    if (++depth > MaxNesting)
                    {
                        return parser.Current.Start;
                    }
                    break;
                case YamlDotNet.Core.Events.SequenceEnd or YamlDotNet.Core.Events.MappingEnd:
                    depth--;
                    break;
            }
        }
        return null;
    }
}
