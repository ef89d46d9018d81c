using System.Net;
using Microsoft.Extensions.Logging;
using Savate.Server.Configuration;
using Savate.Server.Http;
using Savate.Server.Logging;

namespace Savate.Server.Auth;

/// <summary>
/// Who may watch and who may publish: the one decision behind every way in (the front door's raw listeners,
/// Kestrel's listeners, HEAD, HLS playlists and segments, relays pulling from here, raw and Kestrel sources). It reads
/// the mount's settings at each request, so a reload applies to the next client. In order: the server's and the
/// mount's IP rules (deny wins; both must allow), the mount's referers, then the auth methods, cheapest first (the
/// relay password, a token, a users-file password, the hook); any one that allows lets the client in. A mount with
/// no rules costs a few field reads and no allocation (<see cref="NeedsListenerCheck"/>).
/// </summary>
internal sealed partial class AccessControl(TimeProvider time, ILogger<AccessControl> logger)
{
    /// <summary>Query parameters and cookies that carry an EdgeAuth token.</summary>
    public static readonly string[] TokenNames = ["hdnts", "__token__"];

    private static readonly TimeSpan s_logWindow = TimeSpan.FromMinutes(1);

    private readonly TimeProvider _time = time;
    private readonly UserFileCache _users = new(time);
    private readonly AuthHook _hook = new(time);
    private readonly LogThrottle _refusals = new(time, s_logWindow);
    private readonly LogThrottle _problems = new(time, s_logWindow);

    /// <summary>True when a listener of <paramref name="mount"/> must be checked at all.</summary>
    public static bool NeedsListenerCheck(ServerConfig server, MountConfig mount) =>
        !server.ListenerIp.IsEmpty || !mount.ListenerIp.IsEmpty || mount.Referers.Count > 0 || !mount.ListenerAuth.IsEmpty;

    /// <summary>True when the client may not be the socket peer (a trusted proxy is configured): its address is then resolved even without rules, for the logs and lists.</summary>
    public static bool NeedsAddress(ServerConfig server) => server.TrustedProxies.Count > 0;

    /// <summary>Decides for a listener (GET, HEAD, HLS) of <paramref name="mount"/>; refusals are logged, rate-limited.</summary>
    public async ValueTask<AccessDecision> CheckListenerAsync(ServerConfig server, MountConfig mount, AccessRequest request, CancellationToken cancellationToken)
    {
        var decision = await DecideListenerAsync(server, mount, request, cancellationToken).ConfigureAwait(false);
        if (!decision.IsAllowed && !(decision.StatusCode == 401 && string.IsNullOrEmpty(request.Authorization)))
        {
            // A 401 to a request without credentials is the first half of HTTP auth, not a refusal.
            LogRefused(mount.Path, request.Remote, decision);
        }
        return decision;
    }

    private async ValueTask<AccessDecision> DecideListenerAsync(ServerConfig server, MountConfig mount, AccessRequest request, CancellationToken cancellationToken)
    {
        if (!IpAllows(server.ListenerIp, mount.ListenerIp, request.Address))
        {
            return new AccessDecision(403, $"{Describe(request.Address)} may not listen to {mount.Path} (listener-ip)");
        }
        if (!RefererCheck.Allows(mount.Referers, request.Referer, request.Origin))
        {
            return new AccessDecision(403, $"{mount.Path} may not be played from {request.Origin ?? request.Referer} (referers)");
        }
        var auth = mount.ListenerAuth;
        if (auth.IsEmpty)
        {
            return AccessDecision.Allowed;
        }
        // A slave's relay (or master poller) with the relay password: as good for the mount as for the stream list.
        if (server.RelayPassword is { } relayPassword && BasicAuth.Matches(request.Authorization, StreamListHandler.RelayUser, relayPassword))
        {
            return AccessDecision.Allowed with { User = StreamListHandler.RelayUser };
        }
        return await DecideAuthAsync(auth, "play", mount.Path, request, basicOffered: auth.UsersFile is not null, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Decides for a source of <paramref name="mount"/> (the mount-defaults for a path not declared), whose password is
    /// <paramref name="password"/> (the mount's or the server's; null: none). Refusals are left to the caller to log
    /// (<see cref="SourceRefusals"/>).
    /// </summary>
    public async ValueTask<AccessDecision> CheckSourceAsync(ServerConfig server, MountConfig mount, string path, string? password, AccessRequest request, CancellationToken cancellationToken)
    {
        if (!IpAllows(server.SourceIp, mount.SourceIp, request.Address))
        {
            return new AccessDecision(403, $"{Describe(request.Address)} may not publish to {path} (source-ip)");
        }
        if (password is not null && BasicAuth.Matches(request.Authorization, SourceAdmission.SourceUser, password))
        {
            return AccessDecision.Allowed with { User = SourceAdmission.SourceUser };
        }
        var auth = mount.SourceAuth;
        if (auth.IsEmpty)
        {
            return password is null ? AccessDecision.Allowed : new AccessDecision(401, $"Source credentials required for {path}");
        }
        var decision = await DecideAuthAsync(auth, "publish", path, request, basicOffered: password is not null || auth.UsersFile is not null, cancellationToken).ConfigureAwait(false);
        return decision;
    }

    private async ValueTask<AccessDecision> DecideAuthAsync(AuthConfig auth, string action, string mountPath, AccessRequest request, bool basicOffered, CancellationToken cancellationToken)
    {
        var reasons = new List<string>(3);
        if (auth.TokenKey is { } keyHex)
        {
            var verdict = VerifyToken(keyHex, request);
            if (verdict == TokenVerdict.Valid)
            {
                return AccessDecision.Allowed;
            }
            reasons.Add(Describe(verdict, request.Path));
        }
        var hasBasic = BasicAuth.TryParse(request.Authorization, out var user, out var password);
        if (auth.UsersFile is not null)
        {
            var file = _users.Get(auth.UsersFileFullPath ?? auth.UsersFile, out var error);
            if (error is not null && _problems.ShouldLog($"users|{auth.UsersFile}", out _))
            {
                UsersFileFailed(logger, auth.UsersFile, error);
            }
            if (hasBasic && file is not null && file.Verify(user, password))
            {
                return AccessDecision.Allowed with { User = user };
            }
            reasons.Add(hasBasic ? "wrong user or password" : "no credentials (HTTP Basic)");
        }
        if (auth.Hook is { } hook)
        {
            var answer = await _hook.AskAsync(hook, new HookRequest(action, mountPath, request.Remote, request.UserAgent, request.Query, hasBasic ? user : null),
                request.Address?.ToString() ?? request.Remote, cancellationToken).ConfigureAwait(false);
            switch (answer.Verdict)
            {
                case HookVerdict.Allow:
                    return new AccessDecision(200, string.Empty, hasBasic ? user : null, answer.TimeLimit);
                case HookVerdict.Deny:
                    reasons.Add($"hook {AuthHook.Display(hook)} said no ({answer.Detail})");
                    break;
                default:
                    if (_problems.ShouldLog($"hook|{hook}", out var suppressed))
                    {
                        HookFailed(logger, AuthHook.Display(hook), answer.Detail, auth.HookOnError == HookOnError.Allow ? "allowed" : "denied", suppressed);
                    }
                    if (auth.HookOnError == HookOnError.Allow)
                    {
                        return new AccessDecision(200, string.Empty, hasBasic ? user : null);
                    }
                    reasons.Add($"hook {AuthHook.Display(hook)} {answer.Detail} (hook-on-error: deny)");
                    break;
            }
        }
        return new AccessDecision(basicOffered ? 401 : 403, $"Not allowed to {action} {mountPath}: {string.Join("; ", reasons)}");
    }

    private TokenVerdict VerifyToken(string keyHex, AccessRequest request)
    {
        var token = TokenOf(request.Query, request.Cookie);
        if (token is null)
        {
            return TokenVerdict.Missing;
        }
        Span<byte> key = stackalloc byte[ConfigValidator.MaxTokenKeyHex / 2];
        if (Convert.FromHexString(keyHex, key, out _, out var written) != System.Buffers.OperationStatus.Done)
        {
            return TokenVerdict.Tampered;
        }
        return EdgeAuthToken.Verify(token, key[..written], request.Path, _time.GetUtcNow());
    }

    /// <summary>The token of <c>?hdnts=</c> or <c>?__token__=</c> (URL-decoded), else of a cookie of either name; null when none.</summary>
    public static string? TokenOf(string? query, string? cookie)
    {
        if (Parameter(query, '&') is { } fromQuery)
        {
            return Unescape(fromQuery);
        }
        return Parameter(cookie, ';') is { } fromCookie ? Unescape(fromCookie) : null;
    }

    private static string? Parameter(string? text, char separator)
    {
        if (string.IsNullOrEmpty(text))
        {
            return null;
        }
        foreach (var range in text.AsSpan().Split(separator))
        {
            var pair = text.AsSpan(range.Start.Value, range.End.Value - range.Start.Value).Trim();
            var equals = pair.IndexOf('=');
            if (equals <= 0)
            {
                continue;
            }
            var name = pair[..equals];
            foreach (var wanted in TokenNames)
            {
                if (name.SequenceEqual(wanted))
                {
                    return pair[(equals + 1)..].ToString();
                }
            }
        }
        return null;
    }

    private static string? Unescape(string value)
    {
        if (value.Length > EdgeAuthToken.MaxLength * 3)
        {
            return value;
        }
        try
        {
            return Uri.UnescapeDataString(value);
        }
        catch (UriFormatException)
        {
            return value;
        }
    }

    private static bool IpAllows(IpRules server, IpRules mount, IPAddress? address)
    {
        if (server.IsEmpty && mount.IsEmpty)
        {
            return true;
        }
        return address is not null && server.Allows(address) && mount.Allows(address);
    }

    private static string Describe(IPAddress? address) => address?.ToString() ?? "an unknown address";

    private static string Describe(TokenVerdict verdict, string path) => verdict switch
    {
        TokenVerdict.Missing => "no token (?hdnts=, ?__token__= or a cookie of that name)",
        TokenVerdict.Malformed => "the token is malformed",
        TokenVerdict.Tampered => "the token's signature does not match (tampered, or another key)",
        TokenVerdict.Expired => "the token has expired",
        TokenVerdict.NotYetValid => "the token is not valid yet",
        TokenVerdict.WrongAcl => $"the token's ACL does not cover {path}",
        _ => verdict.ToString(),
    };

    private void LogRefused(string mount, string remote, AccessDecision decision)
    {
        if (!_refusals.ShouldLog($"{SourceRefusals.AddressOf(remote)}|{mount}|{decision.StatusCode}", out var suppressed))
        {
            return;
        }
        if (suppressed == 0)
        {
            ListenerRefused(logger, mount, remote, decision.StatusCode, decision.Reason);
        }
        else
        {
            ListenerRefusedAgain(logger, mount, remote, decision.StatusCode, decision.Reason, suppressed);
        }
    }

    [LoggerMessage(170, LogLevel.Information, "Listener refused on {Mount} from {Remote}: {Status} {Reason}")]
    private static partial void ListenerRefused(ILogger logger, string mount, string remote, int status, string reason);

    [LoggerMessage(171, LogLevel.Information, "Listener refused on {Mount} from {Remote}: {Status} {Reason} (and {Suppressed} more from this address in the last minute)")]
    private static partial void ListenerRefusedAgain(ILogger logger, string mount, string remote, int status, string reason, long suppressed);

    [LoggerMessage(172, LogLevel.Warning, "Auth hook {Hook} {Detail}: {Outcome} by hook-on-error ({Suppressed} more failures not logged in the last minute)")]
    private static partial void HookFailed(ILogger logger, string hook, string detail, string outcome, long suppressed);

    [LoggerMessage(173, LogLevel.Warning, "users-file {File} cannot be used: {Error} (the last good contents, if any, stay in use)")]
    private static partial void UsersFileFailed(ILogger logger, string file, string error);
}
