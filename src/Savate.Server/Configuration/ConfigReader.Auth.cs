using YamlDotNet.RepresentationModel;

namespace Savate.Server.Configuration;

/// <summary>The access blocks of a mount and the server: listener-auth, source-auth, listener-ip, source-ip, referers, trusted-proxies.</summary>
internal sealed partial class ConfigReader
{
    private static readonly string[] s_authKeys = ["users-file", "token-key", "hook", "hook-on-error"];
    private static readonly string[] s_ipKeys = ["allow", "deny"];

    /// <summary>A listener-auth or source-auth mapping; null when the value is empty or not a mapping (reported).</summary>
    internal AuthConfig? ReadAuth(YamlNode node, string context, string key)
    {
        if (Mapping(node, context, key) is not { } map)
        {
            return null;
        }
        var where = $"{context}: {key}";
        var auth = AuthConfig.None;
        foreach (var (name, value) in Entries(map, where, s_authKeys))
        {
            switch (name)
            {
                case "users-file":
                    if (String(value, where, name) is { } file)
                    {
                        auth = auth with { UsersFile = file, UsersFileFullPath = ResolvePath(file) };
                    }
                    break;
                case "token-key":
                    auth = auth with { TokenKey = String(value, where, name) ?? auth.TokenKey };
                    break;
                case "hook":
                    auth = auth with { Hook = String(value, where, name) ?? auth.Hook };
                    break;
                case "hook-on-error":
                    switch (String(value, where, name)?.ToLowerInvariant())
                    {
                        case null:
                            break;
                        case "deny":
                            auth = auth with { HookOnError = HookOnError.Deny };
                            break;
                        case "allow":
                            auth = auth with { HookOnError = HookOnError.Allow };
                            break;
                        default:
                            Error(where, name, "must be deny or allow");
                            break;
                    }
                    break;
            }
        }
        return auth;
    }

    /// <summary>A <c>{ allow: [...], deny: [...] }</c> mapping of CIDRs; null when empty or not a mapping (reported).</summary>
    internal Auth.IpRules? ReadIpRules(YamlNode node, string context, string key)
    {
        if (Mapping(node, context, key) is not { } map)
        {
            return null;
        }
        var where = $"{context}: {key}";
        var rules = Auth.IpRules.None;
        foreach (var (name, value) in Entries(map, where, s_ipKeys))
        {
            if (Networks(value, where, name) is { } networks)
            {
                rules = name == "allow" ? rules with { Allow = networks } : rules with { Deny = networks };
            }
        }
        return rules;
    }

    /// <summary>A CIDR or a list of them (a bare address is one host); each bad entry is reported.</summary>
    internal IReadOnlyList<System.Net.IPNetwork>? Networks(YamlNode node, string context, string key) =>
        StringList(node, context, key) is { } list ? Auth.IpRules.ParseNetworks(list, $"{context}: {key}", _errors) : null;

    /// <summary>Origins (<c>https://example.com</c>, a path is ignored), normalised; each one that is not an http(s) URL is reported.</summary>
    internal List<string>? Referers(YamlNode node, string context, string key)
    {
        if (StringList(node, context, key) is not { } list)
        {
            return null;
        }
        var origins = new List<string>();
        foreach (var entry in list)
        {
            if (Auth.RefererCheck.OriginOf(entry) is { } origin)
            {
                origins.Add(origin);
            }
            else
            {
                Error(context, key, $"'{entry}' is not an http(s) origin (write it as https://example.com or https://example.com:8443)");
            }
        }
        return origins;
    }
}
