namespace Savate.Server.Configuration;

/// <summary>yaml <c>hook-on-error</c>: what a hook that times out, fails or answers garbage means.</summary>
public enum HookOnError
{
    /// <summary>The client is refused (the default: an auth server that is down lets nobody in).</summary>
    Deny,

    /// <summary>The client is let in (availability over control).</summary>
    Allow,
}

/// <summary>
/// yaml <c>listener-auth</c> / <c>source-auth</c> under a mount (or <c>server.mount-defaults</c>): who may
/// watch or publish (src/Savate.Server/Auth/README.md). Every method given is tried; any one that allows lets
/// the client in. Empty: no check beyond the IP rules (and, for sources, the source password).
/// </summary>
public sealed record AuthConfig
{
    /// <summary>No method: everyone (that the IP rules let through).</summary>
    public static AuthConfig None { get; } = new();

    /// <summary>yaml <c>users-file</c>: an Apache htpasswd file of bcrypt hashes (HTTP Basic), as written. Default: none.</summary>
    public string? UsersFile { get; init; }

    /// <summary><see cref="UsersFile"/> resolved against the config file's folder.</summary>
    public string? UsersFileFullPath { get; init; }

    /// <summary>yaml <c>token-key</c>: the hex HMAC key of EdgeAuth tokens (<c>?hdnts=</c>, <c>?__token__=</c> or a cookie of that name). Default: none.</summary>
    public string? TokenKey { get; init; }

    /// <summary>yaml <c>hook</c>: an http(s) URL Savate POSTs the request to (JSON); a 2xx allows. Default: none.</summary>
    public string? Hook { get; init; }

    /// <summary>yaml <c>hook-on-error</c>: <c>deny</c> or <c>allow</c> when the hook times out or fails. Default: deny.</summary>
    public HookOnError HookOnError { get; init; } = HookOnError.Deny;

    /// <summary>True when no method is configured.</summary>
    public bool IsEmpty => UsersFile is null && TokenKey is null && Hook is null;

    /// <summary>What a reload's change line shows: the methods, never the key.</summary>
    public override string ToString()
    {
        var parts = new List<string>();
        if (UsersFile is not null)
        {
            parts.Add($"users-file {UsersFile}");
        }
        if (TokenKey is not null)
        {
            parts.Add("token-key");
        }
        if (Hook is not null)
        {
            parts.Add($"hook {Hook} (on error {HookOnError.ToString().ToLowerInvariant()})");
        }
        return parts.Count == 0 ? "none" : "{" + string.Join(", ", parts) + "}";
    }
}
