using System.Net;

namespace Savate.Server.Auth;

/// <summary>
/// What a listener or source request shows of itself to <see cref="AccessControl"/>, from whichever way it came in
/// (the front door's raw head, Kestrel's request, an HLS request).
/// </summary>
internal sealed class AccessRequest
{
    /// <summary>The client's address after <see cref="Http.ClientAddress"/>; null when the transport has none.</summary>
    public IPAddress? Address { get; init; }

    /// <summary>The client as logs show it (<c>address:port</c>).</summary>
    public required string Remote { get; init; }

    /// <summary>The normalised request path (the mount, or an HLS playlist or segment under it).</summary>
    public required string Path { get; init; }

    /// <summary>The query, without its <c>?</c>, or null.</summary>
    public string? Query { get; init; }

    public string? Authorization { get; init; }
    public string? Cookie { get; init; }
    public string? Referer { get; init; }
    public string? Origin { get; init; }
    public string? UserAgent { get; init; }
}

/// <summary>The answer of <see cref="AccessControl"/>: allowed (status 200), or the status and reason of the refusal.</summary>
/// <param name="StatusCode">200, 401 (answered with the Basic challenge) or 403.</param>
/// <param name="Reason">Why not; empty when allowed.</param>
/// <param name="User">The user the request authenticated as (Basic), or null.</param>
/// <param name="TimeLimit">How long a listener may stay (a hook's <c>duration</c>), or null for no limit.</param>
internal readonly record struct AccessDecision(int StatusCode, string Reason, string? User = null, TimeSpan? TimeLimit = null)
{
    public static AccessDecision Allowed { get; } = new(200, string.Empty);

    public bool IsAllowed => StatusCode == 200;
}
