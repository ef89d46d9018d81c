using System.Net.Http.Headers;
using System.Text;
using Polly;

namespace Savate.Relay.Upstream;

/// <summary>One upstream URL of a relay: the request URI without credentials, its auth header and its circuit breaker.</summary>
internal sealed class UpstreamEndpoint
{
    public UpstreamEndpoint(Uri uri, string? username, string? password)
    {
        Source = uri;
        var builder = new UriBuilder(uri) { UserName = string.Empty, Password = string.Empty };
        RequestUri = builder.Uri;
        // No query either: a relay authenticates to a master with a token there (?hdnts=...), which is a secret too.
        Display = string.IsNullOrEmpty(RequestUri.Query) ? RequestUri.ToString() : RequestUri.GetLeftPart(UriPartial.Path) + "?...";

        // Explicit credentials win over userinfo in the URL (http://user:pass@host/mount).
        if (username is null && password is null && !string.IsNullOrEmpty(uri.UserInfo))
        {
            var colon = uri.UserInfo.IndexOf(':');
            username = Uri.UnescapeDataString(colon < 0 ? uri.UserInfo : uri.UserInfo[..colon]);
            password = colon < 0 ? string.Empty : Uri.UnescapeDataString(uri.UserInfo[(colon + 1)..]);
        }

        if (username is not null || password is not null)
        {
            var token = Convert.ToBase64String(Encoding.UTF8.GetBytes($"{username}:{password}"));
            Authorization = new AuthenticationHeaderValue("Basic", token);
        }
    }

    /// <summary>The URL as configured (with any userinfo): what a re-pointed relay compares.</summary>
    public Uri Source { get; }

    public Uri RequestUri { get; }

    /// <summary>The URL as shown in status and logs: never carries a password or a query.</summary>
    public string Display { get; }

    public AuthenticationHeaderValue? Authorization { get; }

    public ResiliencePipeline<AttemptOutcome> Breaker { get; set; } = ResiliencePipeline<AttemptOutcome>.Empty;

    /// <summary>The last failure of an attempt on this upstream (what an open circuit stands for).</summary>
    public AttemptOutcome? LastFailure { get; set; }

    /// <summary>While the circuit is open: when it lets an attempt through again (half-open).</summary>
    public DateTimeOffset? OpenUntil { get; set; }

    /// <summary>Circuit openings in a row without a success, logged once (with a count) by <see cref="RepeatLog"/>.</summary>
    public RepeatLog? OpenLog { get; set; }
}

internal enum AttemptKind
{
    /// <summary>Streamed for at least <see cref="RelayOptions.StableAfter"/>, then ended: reconnect at once.</summary>
    Healthy,

    /// <summary>Connect, HTTP, first-byte, idle-read or data failure; counts against the upstream's circuit.</summary>
    Failed,

    /// <summary>401 or 403: counts against the circuit and backs off longer.</summary>
    AuthFailed,

    /// <summary>The host refused the feed (the mount has another source): not the upstream's fault; long backoff.</summary>
    LocalRefused,

    /// <summary>Every upstream's circuit is open: the next round waits until the first of them lets an attempt through.</summary>
    AllCircuitsOpen,
}

/// <summary>The result of one upstream attempt or one round over all upstreams.</summary>
internal readonly record struct AttemptOutcome(AttemptKind Kind, string Upstream, string Reason, string? Cause = null)
{
    public bool CountsAgainstUpstream => Kind is AttemptKind.Failed or AttemptKind.AuthFailed;

    /// <summary>What makes two failures the same one: the upstream and the reason without its varying details (durations).</summary>
    public string FailureKey => $"{Upstream}|{Cause ?? Reason}";
}
