namespace Savate.Server.Auth;

/// <summary>
/// The <c>referers</c> allow-list of a mount: a request whose <c>Origin</c> or <c>Referer</c> names an origin outside
/// the list is refused. A request with neither header is let in: ffplay, VLC, ffmpeg and set-top boxes send none,
/// and a browser that hides its referrer (<c>Referrer-Policy: no-referrer</c>) does too; the list keeps other sites
/// from embedding the player, it is not authentication.
/// </summary>
public static class RefererCheck
{
    /// <summary>True when the headers are absent or name an origin in <paramref name="allowed"/> (normalised origins).</summary>
    public static bool Allows(IReadOnlyList<string> allowed, string? referer, string? origin)
    {
        if (allowed.Count == 0)
        {
            return true;
        }
        // Origin first: browsers send it on cross-origin fetches (hls.js, mpegts.js) and it cannot be a path.
        foreach (var header in (ReadOnlySpan<string?>)[origin, referer])
        {
            if (string.IsNullOrEmpty(header))
            {
                continue;
            }
            // "Origin: null" (a sandboxed frame, a file: page) is no origin in the list.
            if (OriginOf(header) is not { } seen || !Contains(allowed, seen))
            {
                return false;
            }
        }
        return true;
    }

    /// <summary><c>scheme://host[:port]</c> in lower case without a default port, or null when <paramref name="url"/> is not an absolute http(s) URL.</summary>
    public static string? OriginOf(string url)
    {
        if (!Uri.TryCreate(url.Trim(), UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
        {
            return null;
        }
        return uri.IsDefaultPort ? $"{uri.Scheme}://{uri.IdnHost}".ToLowerInvariant() : $"{uri.Scheme}://{uri.IdnHost}:{uri.Port}".ToLowerInvariant();
    }

    private static bool Contains(IReadOnlyList<string> allowed, string origin)
    {
        foreach (var entry in allowed)
        {
            if (string.Equals(entry, origin, StringComparison.Ordinal))
            {
                return true;
            }
        }
        return false;
    }
}
