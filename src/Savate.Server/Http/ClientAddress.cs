using System.Net;

namespace Savate.Server.Http;

/// <summary>
/// Who the client is, behind reverse proxies: the one rule that auth, hooks, IP rules, the admin listener list,
/// the access log and the logs all see (<c>server.trusted-proxies</c>). The forwarding headers are believed only
/// from a socket peer in the trusted networks, and then only as far as the chain runs through trusted proxies:
/// the answer is the right-most address that is not a trusted proxy (each proxy appends the address it saw, so
/// everything left of the first untrusted hop may have been written by the client itself).
/// </summary>
public static class ClientAddress
{
    /// <summary>Hops read from a chain at most; a longer chain is read from its right end up to here.</summary>
    public const int MaxHops = 32;

    /// <summary>
    /// The client's address: <paramref name="peer"/> unless it is a trusted proxy, else the right-most untrusted
    /// address of <c>Forwarded</c> (RFC 7239, its <c>for=</c> parameters) or, without it, <c>X-Forwarded-For</c>.
    /// An entry that is not an address (<c>unknown</c>, an obfuscated name, garbage) stops the walk at the last
    /// trusted hop, which is then the answer. IPv4-mapped IPv6 addresses come back as IPv4.
    /// </summary>
    /// <param name="peer">The socket's remote address.</param>
    /// <param name="forwardedFor">The <c>X-Forwarded-For</c> header (several joined by commas), or null.</param>
    /// <param name="forwarded">The <c>Forwarded</c> header (several joined by commas), or null.</param>
    /// <param name="trusted">The trusted proxy networks.</param>
    public static IPAddress Resolve(IPAddress peer, string? forwardedFor, string? forwarded, IReadOnlyList<IPNetwork> trusted)
    {
        ArgumentNullException.ThrowIfNull(peer);
        ArgumentNullException.ThrowIfNull(trusted);
        var current = Normalize(peer);
        if (trusted.Count == 0 || !IsTrusted(current, trusted))
        {
            return current;
        }
        var useForwarded = !string.IsNullOrWhiteSpace(forwarded);
        var chain = useForwarded ? forwarded : forwardedFor;
        if (string.IsNullOrWhiteSpace(chain))
        {
            return current;
        }
        var span = chain.AsSpan();
        for (var hops = 0; hops < MaxHops && span.Length > 0; hops++)
        {
            var comma = span.LastIndexOf(',');
            var element = span[(comma + 1)..].Trim();
            span = comma < 0 ? [] : span[..comma];
            var text = useForwarded ? ForOf(element) : element;
            if (!TryParseNode(text, out var address))
            {
                return current;
            }
            if (!IsTrusted(address, trusted))
            {
                return address;
            }
            current = address;
        }
        return current;
    }

    /// <summary>The address and port as the logs show them (<c>1.2.3.4:5678</c>, <c>[::1]:5678</c>).</summary>
    public static string Describe(IPAddress address, int port) => new IPEndPoint(address, port).ToString();

    /// <summary>True when <paramref name="address"/> is in one of <paramref name="networks"/>.</summary>
    public static bool IsTrusted(IPAddress address, IReadOnlyList<IPNetwork> networks)
    {
        foreach (var network in networks)
        {
            if (network.Contains(address))
            {
                return true;
            }
        }
        return false;
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    // The for= value of one Forwarded element ("for=1.2.3.4;proto=https", "for=\"[2001:db8::1]:4711\"").
    private static ReadOnlySpan<char> ForOf(ReadOnlySpan<char> element)
    {
        while (element.Length > 0)
        {
            var semicolon = element.IndexOf(';');
            var pair = (semicolon < 0 ? element : element[..semicolon]).Trim();
            element = semicolon < 0 ? [] : element[(semicolon + 1)..];
            if (pair.StartsWith("for=", StringComparison.OrdinalIgnoreCase))
            {
                var value = pair[4..].Trim();
                if (value.Length >= 2 && value[0] == '"' && value[^1] == '"')
                {
                    value = value[1..^1];
                }
                return value;
            }
        }
        return [];
    }

    // "1.2.3.4", "1.2.3.4:80", "[2001:db8::1]", "[2001:db8::1]:80", "2001:db8::1".
    private static bool TryParseNode(ReadOnlySpan<char> text, out IPAddress address)
    {
        address = IPAddress.None;
        if (text.Length == 0 || text.Length > 64)
        {
            return false;
        }
        if (text[0] == '[')
        {
            var close = text.IndexOf(']');
            if (close < 0)
            {
                return false;
            }
            text = text[1..close];
        }
        else if (text.IndexOf(':') is var colon and >= 0 && text.LastIndexOf(':') == colon)
        {
            // One colon: IPv4 with a port.
            text = text[..colon];
        }
        if (!IPAddress.TryParse(text, out var parsed))
        {
            return false;
        }
        address = Normalize(parsed);
        return true;
    }
}
