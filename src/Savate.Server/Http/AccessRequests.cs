using System.Net;
using Microsoft.AspNetCore.Http;
using Savate.Server.Auth;
using Savate.Server.Configuration;

namespace Savate.Server.Http;

/// <summary>Builds the <see cref="AccessRequest"/> of a request, from a raw head or from Kestrel's <see cref="HttpContext"/>.</summary>
internal static class AccessRequests
{
    /// <summary>
    /// The client of a raw connection: its socket peer, or, from a trusted proxy, the forwarded address
    /// (<see cref="ClientAddress"/>); <paramref name="remote"/> is how logs show it.
    /// </summary>
    public static IPAddress? Resolve(EndPoint? peer, RawRequestHead head, ServerConfig server, ref string remote)
    {
        if (peer is not IPEndPoint endpoint)
        {
            return null;
        }
        var resolved = ClientAddress.Resolve(endpoint.Address, head.ForwardedFor, head.Forwarded, server.TrustedProxies);
        if (!resolved.Equals(endpoint.Address) && !resolved.Equals(endpoint.Address.IsIPv4MappedToIPv6 ? endpoint.Address.MapToIPv4() : endpoint.Address))
        {
            remote = ClientAddress.Describe(resolved, endpoint.Port);
        }
        return resolved;
    }

    public static AccessRequest FromHead(RawRequestHead head, IPAddress? address, string remote) => new()
    {
        Address = address,
        Remote = remote,
        Path = head.Path ?? "/",
        Query = head.Query,
        Authorization = head.Authorization,
        Cookie = head.Cookie,
        Referer = head.Referer,
        Origin = head.Origin,
        UserAgent = head.UserAgent,
    };

    /// <summary>From Kestrel's request (whose remote address <see cref="UseForwardedClient"/> already resolved).</summary>
    public static AccessRequest FromContext(HttpContext context, string path)
    {
        var request = context.Request;
        var query = request.QueryString.Value;
        return new AccessRequest
        {
            Address = context.Connection.RemoteIpAddress is { } ip && ip.IsIPv4MappedToIPv6 ? ip.MapToIPv4() : context.Connection.RemoteIpAddress,
            Remote = ListenerHandler.RemoteOf(context),
            Path = path,
            Query = string.IsNullOrEmpty(query) ? null : query[1..],
            Authorization = request.Headers.Authorization,
            Cookie = request.Headers.Cookie.Count == 0 ? null : string.Join("; ", request.Headers.Cookie.ToArray()),
            Referer = request.Headers.Referer,
            Origin = request.Headers.Origin,
            UserAgent = request.Headers.UserAgent,
        };
    }

    /// <summary>
    /// Kestrel's requests see the forwarded client (<c>server.trusted-proxies</c>) as their remote address, so the access log,
    /// the admin API's logs, listeners and sources all show it. Costs one count check when no proxy is trusted.
    /// </summary>
    public static Task UseForwardedClient(HttpContext context, RequestDelegate next, Streaming.MountRegistry registry)
    {
        var trusted = registry.Config.Server.TrustedProxies;
        if (trusted.Count > 0 && context.Connection.RemoteIpAddress is { } peer)
        {
            var headers = context.Request.Headers;
            var forwardedFor = headers["X-Forwarded-For"];
            var forwarded = headers["Forwarded"];
            if (forwardedFor.Count > 0 || forwarded.Count > 0)
            {
                context.Connection.RemoteIpAddress = ClientAddress.Resolve(peer,
                    forwardedFor.Count == 0 ? null : string.Join(", ", forwardedFor.ToArray()),
                    forwarded.Count == 0 ? null : string.Join(", ", forwarded.ToArray()), trusted);
            }
        }
        return next(context);
    }
}
