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
internal sealed partial class ConfigReader(string baseDirectory, List<string> errors)
{
    private static readonly string[] s_rootKeys = ["server", "mounts", "relays", "master", "metrics"];

    private static readonly string[] s_serverKeys = ConfigKeys.Names(ConfigKeys.Server);
    private static readonly string[] s_mountKeys = ConfigKeys.Names(ConfigKeys.Mount);
    private static readonly string[] s_fallbackKeys = ConfigKeys.Names(ConfigKeys.Fallback);
    private static readonly string[] s_relayKeys = ConfigKeys.Names(ConfigKeys.Relay);
    private static readonly string[] s_masterKeys = ConfigKeys.Names(ConfigKeys.Master);

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

        var metrics = sections.TryGetValue("metrics", out var metricsNode) ? ReadMetrics(metricsNode) : new MetricsConfig();

        config = config with { Server = server, Mounts = mounts, Relays = relays, Master = master, Metrics = metrics };
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
            server = ConfigKeys.Find(ConfigKeys.Server, key)!.Read(this, value, Context, key, server);
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

    internal (MountConfig Mount, IReadOnlySet<string> Keys) ReadMountKeys(YamlNode node, MountConfig mount, string context, bool isDefaults)
    {
        var keys = new HashSet<string>(StringComparer.Ordinal);
        if (Mapping(node, context, null) is not { } map)
        {
            return (mount, keys);
        }

        foreach (var (key, value) in Entries(map, context, s_mountKeys))
        {
            if (key == "path")
            {
                if (isDefaults)
                {
                    Error(context, key, "is not allowed in mount-defaults (each mount declares its own path)");
                }
                else if (!IsNull(value) && value is not YamlScalarNode)
                {
                    Error(context, key, $"expected a path such as /live.flv, got {Describe(value)}");
                }

                continue;
            }

            var before = mount;
            mount = ConfigKeys.Find(ConfigKeys.Mount, key)!.Read(this, value, context, key, mount);
            if (key == "fallback" && value is YamlSequenceNode)
            {
                // A fallback list the mount gives itself is its own, even when it equals mount-defaults'.
                keys.Add(key);
            }

            // Only a key that parsed counts as set here, so that checks between keys blame what the user wrote.
            if (!Equals(before, mount))
            {
                keys.Add(key);
            }
        }

        return (mount, keys);
    }

    internal List<FallbackConfig>? ReadFallbacks(YamlNode node, string context)
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
                fallback = ConfigKeys.Find(ConfigKeys.Fallback, key)!.Read(this, value, entryContext, key, fallback);
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
            relay = ConfigKeys.Find(ConfigKeys.Relay, key)!.Read(this, value, context, key, relay);
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
            master = ConfigKeys.Find(ConfigKeys.Master, key)!.Read(this, value, Context, key, master);
        }

        return master;
    }

    private MetricsConfig ReadMetrics(YamlNode node)
    {
        const string Context = "metrics";
        var metrics = new MetricsConfig();
        if (IsNull(node) || Mapping(node, "config", Context) is not { } map)
        {
            return metrics;
        }
        foreach (var (key, value) in Entries(map, Context, ["otlp-endpoint", "otlp-interval"]))
        {
            switch (key)
            {
                case "otlp-endpoint":
                    var url = String(value, Context, key);
                    if (url is not null && !(Uri.TryCreate(url, UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https"))
                    {
                        _errors.Add($"{Context}: otlp-endpoint must be an absolute http(s) URL such as http://collector:4318, got '{url}'");
                    }
                    metrics = metrics with { OtlpEndpoint = url ?? metrics.OtlpEndpoint };
                    break;
                case "otlp-interval":
                    metrics = metrics with { OtlpInterval = Duration(value, Context, key) ?? metrics.OtlpInterval };
                    break;
            }
        }
        return metrics;
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

    internal string? String(YamlNode node, string context, string key) => Scalar(node, context, key, "a string");

    internal List<string>? StringList(YamlNode node, string context, string key)
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

    internal int? Int(YamlNode node, string context, string key)
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

    internal bool? Bool(YamlNode node, string context, string key)
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

    internal TimeSpan? Duration(YamlNode node, string context, string key)
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

    internal long? Size(YamlNode node, string context, string key)
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

    /// <summary>A size that must fit an int (socket buffer sizes).</summary>
    internal int? IntSize(YamlNode node, string context, string key)
    {
        if (Size(node, context, key) is not { } size)
        {
            return null;
        }

        if (size > int.MaxValue)
        {
            Error(context, key, $"{size} bytes is too large (at most {int.MaxValue})");
            return null;
        }

        return (int)size;
    }

    /// <summary>A path of the config resolved against the config file's directory.</summary>
    internal string ResolvePath(string path) => System.IO.Path.GetFullPath(System.IO.Path.Combine(_baseDirectory, path));

    internal MountFormat? Format(YamlNode node, string context, string key)
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

    internal RedirectMode? Redirect(YamlNode node, string context, string key)
    {
        if (Scalar(node, context, key, "never, when-full or always") is not { } text)
        {
            return null;
        }

        switch (text.ToLowerInvariant())
        {
            case "never":
                return RedirectMode.Never;
            case "when-full":
                return RedirectMode.WhenFull;
            case "always":
                return RedirectMode.Always;
            default:
                Error(context, key, $"\"{text}\" is not a redirect mode (use never, when-full or always)");
                return null;
        }
    }

    /// <summary>A redirect mode as the config writes it.</summary>
    internal static string Name(RedirectMode mode) => mode switch
    {
        RedirectMode.WhenFull => "when-full",
        RedirectMode.Always => "always",
        _ => "never",
    };

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
